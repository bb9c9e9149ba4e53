//! The `#[callbacks]` impl block as the macros see it: the block with its `#[on(...)]` marks
//! removed, and one [`Marked`] per marked method.

use proc_macro2::Span;
use syn::{Attribute, Ident, ImplItem, ItemImpl};

use crate::errors::Errors;
use crate::events::{self, EventInfo};
use crate::valid;

/// A method marked `#[on(event)]`, checked.
pub(crate) struct Marked {
    /// The event it handles.
    pub(crate) event: &'static EventInfo,
    /// The method's name.
    pub(crate) method: Ident,
    /// True for an `async fn`.
    pub(crate) is_async: bool,
    /// Where the event argument's type is (errors about the argument point there).
    pub(crate) event_span: Span,
    /// Where the run context argument's type is, when the method takes one.
    pub(crate) run_span: Option<Span>,
    /// Where the return type is (or the method's name, when it returns `()` implicitly).
    pub(crate) output_span: Span,
}

/// The impl block and its marked methods.
pub(crate) struct Handler {
    /// The block, without `#[on(...)]` attributes.
    pub(crate) item: ItemImpl,
    /// The marked methods, in source order.
    pub(crate) marked: Vec<Marked>,
}

/// Removes the `#[on(...)]` attributes from `attrs` and returns them.
fn take_marks(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (marks, rest) = std::mem::take(attrs)
        .into_iter()
        .partition(|a| a.path().is_ident("on"));
    *attrs = rest;
    marks
}

/// Removes every `#[on(...)]` of the block, so the block compiles even when the macro fails.
pub(crate) fn strip_marks(item: &mut ItemImpl) {
    for impl_item in &mut item.items {
        if let Some(attrs) = attrs_mut(impl_item) {
            take_marks(attrs);
        }
    }
}

fn attrs_mut(item: &mut ImplItem) -> Option<&mut Vec<Attribute>> {
    match item {
        ImplItem::Fn(f) => Some(&mut f.attrs),
        ImplItem::Const(c) => Some(&mut c.attrs),
        ImplItem::Type(t) => Some(&mut t.attrs),
        ImplItem::Macro(m) => Some(&mut m.attrs),
        _ => None,
    }
}

/// Reads the event name of one `#[on(...)]`.
fn event_of(mark: &Attribute) -> syn::Result<(&'static EventInfo, Ident)> {
    let ident: Ident = mark.parse_args().map_err(|_| {
        syn::Error::new_spanned(mark, "expected one event name, e.g. `#[on(chain_end)]`")
    })?;
    match events::lookup(&ident.to_string()) {
        Some(event) => Ok((event, ident)),
        None => Err(syn::Error::new(
            ident.span(),
            events::unknown_event_message(&ident.to_string()),
        )),
    }
}

impl Handler {
    /// Reads and checks a `#[callbacks]` block. The block must be an inherent impl.
    pub(crate) fn parse(mut item: ItemImpl) -> syn::Result<Handler> {
        if let Some((path, _)) = &item.trait_ {
            return Err(syn::Error::new_spanned(
                path,
                "`#[callbacks]` goes on an inherent impl block (`impl MyHandler { ... }`), \
                 not on a trait impl: it writes the handler trait impl itself",
            ));
        }
        let mut errors = Errors::default();
        let mut marked: Vec<Marked> = Vec::new();
        for impl_item in &mut item.items {
            let ImplItem::Fn(method) = impl_item else {
                if let Some(attrs) = attrs_mut(impl_item) {
                    for mark in take_marks(attrs) {
                        errors.push(syn::Error::new_spanned(
                            mark,
                            "`#[on(...)]` marks a method (`fn name(&self, event: &Event<'_>)`)",
                        ));
                    }
                }
                continue;
            };
            let marks = take_marks(&mut method.attrs);
            let mut marks = marks.iter();
            let Some(first) = marks.next() else { continue };
            if let Some(second) = marks.next() {
                errors.push(syn::Error::new_spanned(
                    second,
                    "a method handles one event: write one method per event",
                ));
                continue;
            }
            let (event, name) = match event_of(first) {
                Ok(found) => found,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            if let Some(other) = marked.iter().find(|m| m.event == event) {
                errors.push(syn::Error::new(
                    name.span(),
                    format!(
                        "`{}` is already handled by `{}`: mark one method per event",
                        event.name, other.method
                    ),
                ));
                continue;
            }
            match valid::check_method(&method.sig, event) {
                Ok(m) => marked.push(m),
                Err(error) => errors.push(error),
            }
        }
        errors.finish()?;
        Ok(Handler { item, marked })
    }

    /// True when a marked method is `async`.
    pub(crate) fn is_async(&self) -> bool {
        self.marked.iter().any(|m| m.is_async)
    }
}

/// True when any method of the block is marked `async` (read without checking, for fallbacks).
pub(crate) fn looks_async(item: &ItemImpl) -> bool {
    item.items.iter().any(|i| match i {
        ImplItem::Fn(f) => {
            f.sig.asyncness.is_some() && f.attrs.iter().any(|a| a.path().is_ident("on"))
        }
        _ => false,
    })
}
