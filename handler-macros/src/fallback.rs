//! What the macros emit next to an error: the user's item, plus empty impls standing in for the
//! ones that could not be written, so the one error is not followed by a cascade of "trait not
//! implemented" errors wherever the handler is used.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, ItemImpl};

use crate::expand::trait_generics;
use crate::options::CratePath;

/// Stand-ins for `#[callbacks]`: the trait impl (async when a marked method looks async) with
/// every event left to its default, and the `OPTIONS` constant.
pub(crate) fn handler_impl(item: &ItemImpl, krate: &CratePath, is_async: bool) -> TokenStream {
    let p = krate.private();
    let trait_name = if is_async {
        quote!(AsyncCallbackHandler)
    } else {
        quote!(CallbackHandler)
    };
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let generics = trait_generics(item);
    let (trait_impl_generics, _, trait_where_clause) = generics.split_for_impl();
    quote! {
        impl #impl_generics #self_ty #where_clause {
            /// The handler's flags (a stand-in: the `#[callbacks]` block has an error).
            pub const OPTIONS: #p::HandlerOptions = #p::HandlerOptions::new();
        }

        impl #trait_impl_generics #p::#trait_name for #self_ty #trait_where_clause {}
    }
}

/// The stand-in for `#[derive(CallbackHandler)]`: no name, no override.
pub(crate) fn derive_impl(input: &DeriveInput, krate: &CratePath) -> TokenStream {
    let p = krate.private();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics #p::HandlerConfig for #ident #ty_generics #where_clause {
            const CONFIG: #p::DeriveConfig = #p::DeriveConfig::DEFAULT;
        }
    }
}
