//! The run attributes, `#[chain]`, `#[tool]` and `#[retriever]`: a marked function starts a run
//! of that kind under the current run each time it is called. `args` reads the options,
//! `expand` writes the function.

mod args;
mod expand;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

/// The kind of run an attribute starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[chain]`.
    Chain,
    /// `#[tool]`.
    Tool,
    /// `#[retriever]`.
    Retriever,
}

impl Kind {
    /// The attribute's name.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Chain => "chain",
            Kind::Tool => "tool",
            Kind::Retriever => "retriever",
        }
    }

    /// The variant of the core's `attr::Kind`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Kind::Chain => "Chain",
            Kind::Tool => "Tool",
            Kind::Retriever => "Retriever",
        }
    }
}

/// Expands `#[<kind>(args)]` on `item`. On a mistake, the error comes with the item unchanged,
/// so that the mistake is the only error.
pub(crate) fn run_attr(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let message = format!(
                "`#[{}]` marks a function (`fn` or `async fn`, with a body)",
                kind.attr()
            );
            let error = syn::Error::new_spanned(&item, message).into_compile_error();
            return quote!(#error #item);
        }
    };
    let expanded =
        args::parse(args, kind.attr()).and_then(|args| expand::expand(kind, &args, function));
    match expanded {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.into_compile_error();
            quote!(#error #item)
        }
    }
}
