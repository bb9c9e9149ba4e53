//! `#[derive(CallbackHandler)]`: reads `#[callback(...)]` and implements the hidden
//! `HandlerConfig` trait with the handler's name and explicit flags.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::DeriveInput;

use crate::fallback;
use crate::options::{HandlerAttrs, parse_handler_attrs};

/// Expands the derive; `Err` when `#[callback(...)]` has a mistake.
pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut attrs = HandlerAttrs::default();
    parse_handler_attrs(&input.attrs, &mut attrs)?;
    let p = attrs.krate.private();
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let name = attrs
        .name
        .as_ref()
        .map(|name| quote!(name: ::core::option::Option::Some(#name),));
    let flags = attrs.flags.iter().map(|(flag, value)| {
        let flag = format_ident!("{flag}");
        quote!(#flag: ::core::option::Option::Some(#value),)
    });
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #p::HandlerConfig for #ident #ty_generics #where_clause {
            const CONFIG: #p::DeriveConfig = #p::DeriveConfig {
                #name
                #(#flags)*
                ..#p::DeriveConfig::DEFAULT
            };
        }
    })
}

/// The derive's output: the expansion, or the error plus a stand-in impl.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    match expand(input.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.into_compile_error();
            match syn::parse2::<DeriveInput>(input) {
                Ok(input) => {
                    let mut attrs = HandlerAttrs::default();
                    // Whatever it read before the error, the crate path included.
                    let _ = parse_handler_attrs(&input.attrs, &mut attrs);
                    let stand_in = fallback::derive_impl(&input, &attrs.krate);
                    quote!(#error #stand_in)
                }
                Err(_) => error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_config() {
        let out = expand(quote! {
            #[callback(name = "counter", run_inline, ignore_chain = false)]
            struct Counter<T: Send> { t: T }
        })
        .unwrap()
        .to_string();
        assert!(
            out.contains(
                "impl < T : Send > :: llm_callbacks :: __private :: HandlerConfig for Counter < T >"
            ),
            "{out}"
        );
        assert!(
            out.contains("name : :: core :: option :: Option :: Some (\"counter\")"),
            "{out}"
        );
        assert!(
            out.contains("run_inline : :: core :: option :: Option :: Some (true)"),
            "{out}"
        );
        assert!(
            out.contains("ignore_chain : :: core :: option :: Option :: Some (false)"),
            "{out}"
        );
    }

    #[test]
    fn crate_path_override() {
        let out = expand(quote! {
            #[callback(crate = "handler_core")]
            enum Quiet { A }
        })
        .unwrap()
        .to_string();
        assert!(
            out.contains("handler_core :: __private :: HandlerConfig for Quiet"),
            "{out}"
        );
    }

    #[test]
    fn error_comes_with_a_stand_in() {
        let input = quote! {
            #[callback(crate = "handler_core", raise_eror)]
            struct Bad;
        };
        assert!(expand(input.clone()).is_err());
        let out = derive(input).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("did you mean `raise_error`"), "{out}");
        assert!(
            out.contains("handler_core :: __private :: DeriveConfig :: DEFAULT"),
            "{out}"
        );
    }
}
