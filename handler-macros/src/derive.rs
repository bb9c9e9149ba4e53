//! `#[derive(CallbackHandler)]`: reads `#[callback(...)]` and implements the hidden
//! `HandlerConfig` trait with the handler's name and explicit flags.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::DeriveInput;

use crate::errors::Errors;
use crate::fallback;
use crate::fields::parse_fields;
use crate::options::{HandlerAttrs, parse_handler_attrs};

/// Expands the derive; `Err` when a `#[callback(...)]`, on the type or on a field, has a mistake.
pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut errors = Errors::default();
    let mut attrs = HandlerAttrs::default();
    if let Err(error) = parse_handler_attrs(&input.attrs, &mut attrs) {
        errors.push(error);
    }
    let fields = parse_fields(&input.data).unwrap_or_else(|error| {
        errors.push(error);
        Default::default()
    });
    errors.finish()?;
    let p = attrs.krate.private();
    let methods = fields.methods(&p);
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

            #methods
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
    fn reads_instance_fields() {
        let out = expand(quote! {
            #[callback(name = "fixed")]
            struct Fake { #[callback(name)] name: String, #[callback(options)] options: Option<HandlerOptions> }
        })
        .unwrap()
        .to_string();
        assert!(out.contains("Some (\"fixed\")"), "{out}");
        assert!(out.contains("fn instance_name"), "{out}");
        assert!(out.contains("field_name (& self . name)"), "{out}");
        assert!(out.contains("fn instance_options"), "{out}");
    }

    #[test]
    fn type_and_field_mistakes_are_reported_together() {
        let Err(error) = expand(quote! {
            #[callback(raise_eror)]
            struct Fake { #[callback(nme)] name: String }
        }) else {
            panic!("expected errors");
        };
        assert_eq!(error.into_iter().count(), 2);
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
