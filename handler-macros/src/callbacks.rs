//! `#[callbacks]`: reads the marked methods of an impl block and writes the handler.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::ast::{self, Handler};
use crate::options::{default_crate, parse_impl_args};
use crate::{expand, fallback};

/// Expands `#[callbacks(args)]` on `item`; `Err` on any mistake.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut krate = default_crate();
    parse_impl_args(args, &mut krate)?;
    let item: ItemImpl = syn::parse2(item).map_err(|error| {
        syn::Error::new(
            error.span(),
            "`#[callbacks]` goes on the impl block of a handler: `impl MyHandler { ... }`",
        )
    })?;
    let handler = Handler::parse(item)?;
    let item = &handler.item;
    let generated = expand::handler_impl(&handler, &krate);
    Ok(quote!(#item #generated))
}

/// The attribute's output: the expansion, or the error plus the block (without its marks) and
/// stand-in impls.
pub(crate) fn callbacks(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args.clone(), item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.into_compile_error();
            let Ok(mut block) = syn::parse2::<ItemImpl>(item.clone()) else {
                return quote!(#error #item);
            };
            if block.trait_.is_some() {
                ast::strip_marks(&mut block);
                return quote!(#error #block);
            }
            let mut krate = default_crate();
            let _ = parse_impl_args(args, &mut krate);
            let is_async = ast::looks_async(&block);
            ast::strip_marks(&mut block);
            let stand_in = fallback::handler_impl(&block, &krate, is_async);
            quote!(#error #block #stand_in)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(item: TokenStream) -> String {
        expand(TokenStream::new(), item).unwrap().to_string()
    }

    /// True when the expansion ignores `category` in the handler's flags.
    fn ignores(out: &str, category: &str) -> bool {
        out.contains(&format!(
            ". ignore (:: llm_callbacks :: __private :: Category :: {category})"
        ))
    }

    fn error(item: TokenStream) -> String {
        expand(TokenStream::new(), item).unwrap_err().to_string()
    }

    #[test]
    fn sync_handler_routes_and_ignores() {
        let out = expanded(quote! {
            impl Counter {
                #[on(llm_new_token)]
                fn count(&self, event: &LlmNewToken<'_>) {}
                fn helper(&self) {}
            }
        });
        assert!(
            out.contains("impl :: llm_callbacks :: __private :: CallbackHandler for Counter"),
            "{out}"
        );
        assert!(out.contains("fn on_llm_new_token (& self , event : & :: llm_callbacks :: __private :: LlmNewToken < '_ >)"), "{out}");
        assert!(out.contains("Self :: count (self , event)"), "{out}");
        assert!(!ignores(&out, "Llm"), "{out}");
        assert!(ignores(&out, "ChatModel"), "{out}");
        assert!(ignores(&out, "Chain"), "{out}");
        assert!(out.contains("HandlerOptions :: new ()"), "{out}");
        assert!(!out.contains("# [on"), "marks are removed: {out}");
        assert!(out.contains("fn helper"), "{out}");
    }

    #[test]
    fn async_handler_with_run_context() {
        let out = expanded(quote! {
            impl Reporter {
                #[on(chain_end)]
                async fn report(&self, event: &ChainEnd<'_>, run: &RunContext) -> Result<(), E> { Ok(()) }
                #[on(tool_end)]
                fn tool(&self, event: &ToolEnd<'_>) {}
            }
        });
        assert!(out.contains("AsyncCallbackHandler for Reporter"), "{out}");
        assert!(out.contains("async fn on_chain_end"), "{out}");
        assert!(
            out.contains("Self :: report (self , event , event . run) . await"),
            "{out}"
        );
        assert!(out.contains(":: core :: future :: ready"), "{out}");
        assert!(!ignores(&out, "Agent"), "{out}");
        assert!(!ignores(&out, "Chain"), "{out}");
        assert!(ignores(&out, "Llm"), "{out}");
    }

    #[test]
    fn llm_start_keeps_chat_starts() {
        let out = expanded(quote! {
            impl Prompts {
                #[on(llm_start)]
                fn prompts(&self, event: &LlmStart<'_>) {}
            }
        });
        assert!(!ignores(&out, "ChatModel"), "{out}");
        assert!(!out.contains("on_chat_model_start"), "{out}");
    }

    #[test]
    fn generic_impl_is_bounded() {
        let out = expanded(quote! {
            impl<T: Clone> Holder<T> {
                #[on(text)]
                fn text(&self, event: &Text<'_>) {}
            }
        });
        assert!(
            out.contains("Self : :: core :: marker :: Send + :: core :: marker :: Sync + 'static"),
            "{out}"
        );
    }

    #[test]
    fn crate_override() {
        let out = expand(
            quote!(crate = "handler_core"),
            quote!(impl H { #[on(retry)] fn r(&self, e: &Retry<'_>) {} }),
        )
        .unwrap()
        .to_string();
        assert!(
            out.contains("handler_core :: __private :: CallbackHandler for H"),
            "{out}"
        );
        assert!(
            out.contains(". ignore (handler_core :: __private :: Category :: Llm)"),
            "{out}"
        );
        assert!(!out.contains("Category :: Retry"), "{out}");
    }

    #[test]
    fn mistakes() {
        let cases: [(TokenStream, &str); 9] = [
            (
                quote!(impl H { #[on(chian_end)] fn f(&self, e: &ChainEnd<'_>) {} }),
                "did you mean `chain_end`",
            ),
            (
                quote!(impl H { #[on(chain_end)] fn f(&self, e: &ChainStart<'_>) {} }),
                "receives `&ChainEnd<'_>`, not `&ChainStart<'_>`",
            ),
            (
                quote!(impl H { #[on(text)] fn f(&self, e: &Text<'_>) {} #[on(text)] fn g(&self, e: &Text<'_>) {} }),
                "already handled by `f`",
            ),
            (
                quote!(impl H { #[on(text)] fn f(self, e: &Text<'_>) {} }),
                "not `self`",
            ),
            (
                quote!(impl H { #[on(text)] fn f(&mut self, e: &Text<'_>) {} }),
                "not `&mut self`",
            ),
            (
                quote!(impl H { #[on(text)] fn f(e: &Text<'_>) {} }),
                "takes `&self`",
            ),
            (
                quote!(impl H { #[on(text)] fn f<T>(&self, e: &Text<'_>) {} }),
                "type or const parameters",
            ),
            (
                quote!(impl H { #[on(text)] fn f(&self) {} }),
                "needs the event argument",
            ),
            (
                quote!(impl Trait for H { #[on(text)] fn f(&self, e: &Text<'_>) {} }),
                "inherent impl",
            ),
        ];
        for (item, expected) in cases {
            let message = error(item);
            assert!(message.contains(expected), "{message} / {expected}");
        }
    }

    #[test]
    fn every_mistake_is_reported_once() {
        let err = expand(
            TokenStream::new(),
            quote!(impl H {
                #[on(chian_end)] fn f(&self, e: &ChainEnd<'_>) {}
                #[on(text)] fn g(self, e: &Text<'_>) {}
            }),
        )
        .unwrap_err();
        assert_eq!(err.into_iter().count(), 2);
    }

    #[test]
    fn error_output_keeps_the_block_and_stands_in() {
        let out = callbacks(
            TokenStream::new(),
            quote!(impl H { #[on(chian_end)] async fn f(&self, e: &ChainEnd<'_>) {} }),
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("async fn f"), "{out}");
        assert!(!out.contains("# [on"), "{out}");
        assert!(out.contains("AsyncCallbackHandler for H { }"), "{out}");
    }

    #[test]
    fn not_an_impl() {
        let out = callbacks(
            TokenStream::new(),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("struct S"), "{out}");
    }
}
