//! Checks on a marked method's signature: receiver, arguments, generics, return type position.
//! Each mistake gives one error pointing at the offending part of the signature.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, ReceiverKind, ReturnType, Safety, Signature, Type};

use crate::ast::Marked;
use crate::events::{self, EventInfo};

/// The event argument as the user should write it: `event: &ChainEnd<'_>`.
fn expected_arg(event: &EventInfo) -> String {
    format!("`event: &{}<'_>`", event.ty)
}

/// Checks the signature of a method marked with `event`.
pub(crate) fn check_method(sig: &Signature, event: &'static EventInfo) -> syn::Result<Marked> {
    check_receiver(sig, event)?;
    if let Safety::Unsafe(token) = &sig.safety {
        return Err(syn::Error::new(
            token.span,
            "a `#[on(...)]` method cannot be `unsafe`",
        ));
    }
    if let Some(param) = sig
        .generics
        .params
        .iter()
        .find(|p| !matches!(p, GenericParam::Lifetime(_)))
    {
        return Err(syn::Error::new_spanned(
            param,
            "a `#[on(...)]` method cannot have type or const parameters: the handler trait \
             calls it with one concrete event type",
        ));
    }
    let args: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let Some(event_arg) = args.first() else {
        return Err(syn::Error::new(
            sig.paren_token.span.join(),
            format!(
                "`#[on({})]` needs the event argument: add {} after `&self`",
                event.name,
                expected_arg(event)
            ),
        ));
    };
    check_event_type(&event_arg.ty, event)?;
    let run_span = match args.get(1) {
        Some(run) => {
            check_run_type(&run.ty)?;
            Some(first_span(&run.ty))
        }
        None => None,
    };
    if let Some(extra) = args.get(2) {
        return Err(syn::Error::new_spanned(
            extra,
            "a `#[on(...)]` method takes the event and, optionally, its `&RunContext`; \
             nothing else",
        ));
    }
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => first_span(ty),
        ReturnType::Default => sig.ident.span(),
    };
    Ok(Marked {
        event,
        method: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        event_span: first_span(&event_arg.ty),
        run_span,
        output_span,
    })
}

fn check_receiver(sig: &Signature, event: &EventInfo) -> syn::Result<()> {
    let receiver = match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => receiver,
        _ => {
            return Err(syn::Error::new(
                sig.ident.span(),
                format!(
                    "a `#[on(...)]` method takes `&self`: `fn {}(&self, {})`",
                    sig.ident,
                    expected_arg(event).trim_matches('`')
                ),
            ));
        }
    };
    let problem = match &receiver.kind {
        ReceiverKind::Reference(_, _, None) => return Ok(()),
        ReceiverKind::Reference(_, _, Some(_)) => {
            "takes `&self`, not `&mut self`: handlers are shared between threads; \
             keep mutable state behind a `Mutex` or an atomic"
        }
        ReceiverKind::Value => "takes `&self`, not `self`: the manager shares the handler",
        _ => "takes `&self`",
    };
    Err(syn::Error::new_spanned(
        receiver,
        format!("a `#[on(...)]` method {problem}"),
    ))
}

/// The name of the type a reference points to, when it is a plain path (`ChainEnd<'_>`).
fn referent_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        Type::Group(group) => referent_name(&group.elem),
        Type::Paren(paren) => referent_name(&paren.elem),
        _ => None,
    }
}

fn check_event_type(ty: &Type, event: &EventInfo) -> syn::Result<()> {
    let Type::Reference(reference) = ty else {
        return Err(syn::Error::new_spanned(
            ty,
            format!(
                "`#[on({})]` takes the event by reference: {}",
                event.name,
                expected_arg(event)
            ),
        ));
    };
    if reference.mutability.is_some() {
        return Err(syn::Error::new_spanned(
            ty,
            format!(
                "the event is shared: take it as `&{}<'_>`, not `&mut`",
                event.ty
            ),
        ));
    }
    let found = referent_name(&reference.elem);
    match found.as_deref() {
        Some("RunContext") => Err(syn::Error::new_spanned(
            ty,
            format!(
                "the event comes first, then the run context: \
                 `(&self, event: &{}<'_>, run: &RunContext)`",
                event.ty
            ),
        )),
        Some(name) if name != event.ty && events::by_type(name).is_some() => {
            Err(syn::Error::new_spanned(
                ty,
                format!(
                    "`#[on({})]` receives `&{}<'_>`, not `{}`",
                    event.name,
                    event.ty,
                    ty.to_token_stream().to_string().replace(" ", "")
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn check_run_type(ty: &Type) -> syn::Result<()> {
    let is_event = match ty {
        Type::Reference(reference) => {
            referent_name(&reference.elem).is_some_and(|name| events::by_type(&name).is_some())
        }
        _ => false,
    };
    if is_event || !matches!(ty, Type::Reference(_)) {
        return Err(syn::Error::new_spanned(
            ty,
            "the second argument of a `#[on(...)]` method is the run's context: `run: &RunContext`",
        ));
    }
    Ok(())
}

/// The span of a type (all of it where the compiler can join spans, else its first token):
/// where generated code that uses it points.
fn first_span(ty: &Type) -> Span {
    ty.span()
}
