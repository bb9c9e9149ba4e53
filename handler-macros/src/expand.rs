//! Writing the handler: the flags as a constant, and the trait impl that routes each event to
//! its marked method.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Generics, ItemImpl, Type};

use crate::ast::{Handler, Marked};
use crate::events::Category;
use crate::events::FLAGGED;
use crate::options::{CratePath, located};

/// The categories the marked events leave ignored: a category is ignored unless an event of it
/// is marked. Chat model starts are wanted by an `llm_start` handler too, which receives them
/// through the LLM-start fallback; and `ignore_llm` also ignores tokens, so a handler of tokens
/// alone keeps the LLM category.
pub(crate) fn ignored_categories(marked: &[Marked]) -> Vec<Category> {
    let llm_start = marked.iter().any(|m| m.event.name == "llm_start");
    let tokens = marked
        .iter()
        .any(|m| m.event.category == Category::LlmNewToken);
    let wants = |category: Category| {
        marked.iter().any(|m| m.event.category == category)
            || (category == Category::ChatModel && llm_start)
            || (category == Category::Llm && tokens)
    };
    FLAGGED.into_iter().filter(|c| !wants(*c)).collect()
}

/// The generics and where clause of a generated trait impl: the block's own, plus
/// `Self: Send + Sync + 'static` when the block is generic, so the handler is implemented
/// exactly for the instances that can be one.
pub(crate) fn trait_generics(item: &ItemImpl) -> Generics {
    let mut generics = item.generics.clone();
    if !generics.params.is_empty() {
        generics
            .make_where_clause()
            .predicates
            .push(syn::parse_quote!(Self: ::core::marker::Send + ::core::marker::Sync + 'static));
    }
    generics
}

/// The handler's flags as a constant, and the config constant they are computed from.
fn options_consts(handler: &Handler, p: &TokenStream) -> TokenStream {
    let self_ty = &handler.item.self_ty;
    let (impl_generics, _, where_clause) = handler.item.generics.split_for_impl();
    let config =
        quote_spanned!(located(first_span(self_ty)) => <Self as #p::HandlerConfig>::CONFIG);
    // Built with the core's const methods, not a struct literal: the flags may grow.
    let ignored = ignored_categories(&handler.marked)
        .into_iter()
        .map(|category| format_ident!("{category:?}"));
    quote! {
        impl #impl_generics #self_ty #where_clause {
            #[doc(hidden)]
            const __CALLBACK_CONFIG: #p::DeriveConfig = #config;

            /// The handler's flags: every category without a `#[on(...)]` method is ignored,
            /// then the `#[callback(...)]` options apply. An instance with a
            /// `#[callback(options)]` field reports that field's flags instead.
            pub const OPTIONS: #p::HandlerOptions = Self::__CALLBACK_CONFIG.apply(
                #p::HandlerOptions::new() #(.ignore(#p::Category::#ignored))*
            );
        }
    }
}

fn first_span(ty: &Type) -> proc_macro2::Span {
    quote!(#ty)
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |t| t.span())
}

/// One routed trait method.
fn route(marked: &Marked, p: &TokenStream, is_async_trait: bool) -> TokenStream {
    let trait_method = format_ident!("{}", marked.event.method());
    let event_ty = format_ident!("{}", marked.event.ty);
    let method = &marked.method;
    let event = quote_spanned!(located(marked.event_span) => event);
    let run = marked
        .run_span
        .map(|span| quote_spanned!(located(span) => , event.run));
    let output = quote_spanned!(located(marked.output_span) => output);
    let call = quote!(Self::#method(self, #event #run));
    match (is_async_trait, marked.is_async) {
        (false, _) => quote! {
            fn #trait_method(&self, event: &#p::#event_ty<'_>) -> #p::HandlerResult {
                let #output = #call;
                #p::returned(#output)
            }
        },
        (true, true) => quote! {
            async fn #trait_method(&self, event: &#p::#event_ty<'_>) -> #p::HandlerResult {
                let #output = #call.await;
                #p::returned(#output)
            }
        },
        (true, false) => quote! {
            fn #trait_method(
                &self,
                event: &#p::#event_ty<'_>,
            ) -> impl #p::Future<Output = #p::HandlerResult> + ::core::marker::Send {
                let #output = #call;
                ::core::future::ready(#p::returned(#output))
            }
        },
    }
}

/// The trait impl of a checked handler, and its constants.
pub(crate) fn handler_impl(handler: &Handler, krate: &CratePath) -> TokenStream {
    let p = krate.private();
    let is_async = handler.is_async();
    let trait_name = if is_async {
        quote!(AsyncCallbackHandler)
    } else {
        quote!(CallbackHandler)
    };
    let self_ty = &handler.item.self_ty;
    let generics = trait_generics(&handler.item);
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let routes = handler.marked.iter().map(|m| route(m, &p, is_async));
    let consts = options_consts(handler, &p);
    // Spanned like the config constant: without the derive, the three uses of the config trait
    // make one error, not three.
    let config = quote_spanned!(located(first_span(self_ty)) => <Self as #p::HandlerConfig>);
    quote! {
        #consts

        #[automatically_derived]
        #[allow(clippy::let_unit_value, clippy::unit_arg)]
        impl #impl_generics #p::#trait_name for #self_ty #where_clause {
            fn name(&self) -> &str {
                #p::instance_name_of::<Self>(
                    #config::instance_name(self),
                    Self::__CALLBACK_CONFIG.name,
                )
            }

            fn options(&self) -> #p::HandlerOptions {
                #config::instance_options(self, Self::OPTIONS)
            }

            #(#routes)*
        }
    }
}
