//! Writes a marked function: the same signature, and a body that starts a run when a manager
//! is current, runs the original body with the run current, and ends the run with its result.
//! When nothing is current, the original body runs after one thread-local read.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{AttrStyle, FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use super::Kind;
use super::args::{ErrMode, RunArgs, Selection};
use crate::events::closest;

/// An argument that may become an input: its name (as written, `r#` removed) and identifier.
struct Input {
    key: String,
    ident: Ident,
}

/// The named arguments of `function`, receiver excluded; pattern arguments (`(a, b): (A, B)`,
/// `_: T`) are left out.
fn named_arguments(function: &ItemFn) -> Vec<Input> {
    function
        .sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) if pat.subpat.is_none() && pat.by_ref.is_none() => Some(Input {
                    key: pat.ident.unraw().to_string(),
                    ident: pat.ident.clone(),
                }),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Checks the attribute against the function and picks the inputs.
fn select_inputs(function: &ItemFn, args: &RunArgs) -> syn::Result<Vec<Input>> {
    let all = named_arguments(function);
    let check = |names: &[Ident]| -> syn::Result<()> {
        for name in names {
            let key = name.unraw().to_string();
            if !all.iter().any(|input| input.key == key) {
                let hint = match closest(&key, all.iter().map(|i| i.key.as_str())) {
                    Some(best) => format!("; did you mean `{best}`?"),
                    None if all.is_empty() => "; the function has no named arguments".to_owned(),
                    None => {
                        let names: Vec<_> = all.iter().map(|i| format!("`{}`", i.key)).collect();
                        format!("; its arguments are {}", names.join(", "))
                    }
                };
                return Err(syn::Error::new(
                    name.span(),
                    format!("`{key}` is not an argument of this function{hint}"),
                ));
            }
        }
        Ok(())
    };
    let has = |names: &[Ident], input: &Input| names.iter().any(|n| n.unraw() == input.key);
    Ok(match &args.selection {
        Selection::All => all,
        Selection::None => Vec::new(),
        Selection::Skip(names) => {
            check(names)?;
            all.into_iter().filter(|i| !has(names, i)).collect()
        }
        Selection::Only(names) => {
            check(names)?;
            all.into_iter().filter(|i| has(names, i)).collect()
        }
    })
}

/// True when the return type's last path segment is `Result` (`Result<T, E>`,
/// `io::Result<T>`, `anyhow::Result<T>`).
fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Result"),
            _ => false,
        },
        ReturnType::Default => false,
    }
}

/// The return type, when it can be written on the body's closure or async block: not when it
/// holds `impl Trait` or a reference (a closure's elided lifetimes differ from the function's);
/// the compiler infers those.
fn nameable_return(output: &ReturnType) -> Option<TokenStream> {
    fn plain(tokens: TokenStream) -> bool {
        tokens.into_iter().all(|token| match token {
            TokenTree::Ident(ident) => ident != "impl",
            TokenTree::Punct(punct) => punct.as_char() != '&' && punct.as_char() != '\'',
            TokenTree::Group(group) => plain(group.stream()),
            TokenTree::Literal(_) => true,
        })
    }
    match output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) => plain(quote!(#ty)).then(|| quote!(#ty)),
    }
}

/// Writes the marked function.
pub(crate) fn expand(kind: Kind, args: &RunArgs, function: ItemFn) -> syn::Result<TokenStream> {
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            format!(
                "`#[{}]` cannot mark a `const fn`: its runs are started at run time",
                kind.attr()
            ),
        ));
    }
    let is_result = match args.err {
        ErrMode::Auto => returns_result(&function.sig.output),
        ErrMode::Off => false,
        ErrMode::On | ErrMode::Display | ErrMode::Debug => true,
    };
    if is_result && matches!(function.sig.output, ReturnType::Default) {
        let span = args.err_span.unwrap_or_else(Span::call_site);
        return Err(syn::Error::new(
            span,
            "`err` needs a function that returns a `Result`",
        ));
    }
    let inputs = select_inputs(&function, args)?;

    let private = args.private();
    let attr = quote!(#private::attr);
    let site = Span::mixed_site();
    let run = Ident::new("__llm_run", site);
    let manager = Ident::new("__llm_manager", site);
    let collected = Ident::new("__llm_inputs", site);
    let body = Ident::new("__llm_body", site);
    let out = Ident::new("__llm_out", site);
    let outcome = Ident::new("__llm_outcome", site);
    let spec = format_ident!("__LLM_SPEC", span = site);

    let name = match &args.name {
        Some(name) => quote!(#name),
        None => {
            let name = function.sig.ident.unraw().to_string();
            quote!(#name)
        }
    };
    let tags = &args.tags;
    let kind_variant = format_ident!("{}", kind.variant());
    let limit = Ident::new("__LLM_MAX_INPUT_BYTES", site);
    let meta = Ident::new("__llm_metadata", site);
    let limit_value = match &args.max_input_bytes {
        Some(expr) => quote!(#expr),
        None => quote!(#attr::DEFAULT_MAX_INPUT_BYTES),
    };
    let metadata = if args.metadata.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        let entries = args.metadata.iter().map(|(key, value)| {
            let key = key.unraw().to_string();
            quote!((#key, (&&#attr::Arg(&(#value))).attr_input(#limit)))
        });
        quote!(::core::option::Option::Some(#attr::metadata([#(#entries),*])))
    };
    let pushes = inputs.iter().map(|Input { key, ident }| {
        quote_spanned!(ident.span()=> #collected.push(#key, (&&#attr::Arg(&#ident)).attr_input(#limit));)
    });
    let fields = args.fields.iter().map(|(key, value)| {
        let key = key.unraw().to_string();
        quote!(#collected.push(#key, (&&#attr::Arg(&(#value))).attr_input(#limit));)
    });

    let value_of = |value: TokenStream| match kind {
        Kind::Retriever => quote!((&&&#attr::Arg(#value)).attr_outcome(#limit)),
        Kind::Chain | Kind::Tool => {
            quote!(#attr::Outcome::Value((&&#attr::Arg(#value)).attr_input(#limit)))
        }
    };
    let finish = if is_result {
        let ok = Ident::new("__llm_ok", site);
        let err = Ident::new("__llm_err", site);
        let ok_value = value_of(quote!(#ok));
        let error = match args.err {
            ErrMode::Display => quote!(#attr::display_error(#err)),
            ErrMode::Debug => quote!(#attr::debug_error(#err)),
            _ => quote!((&&&&&#attr::Arg(#err)).attr_error()),
        };
        quote! {
            match &#out {
                ::core::result::Result::Ok(#ok) => #ok_value,
                ::core::result::Result::Err(#err) => #attr::Outcome::Error(#error),
            }
        }
    } else {
        value_of(quote!(&#out))
    };

    let (outer_attrs, inner_attrs): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .partition(|a| matches!(a.style, AttrStyle::Outer));
    let vis = &function.vis;
    let sig = &function.sig;
    let block = &function.block;
    let ret = nameable_return(&function.sig.output);

    let start_run = |current: TokenStream, start: TokenStream, wait: TokenStream| {
        quote! {
            match #current {
                ::core::option::Option::Some(#manager) => {
                    #[allow(unused_imports)]
                    use #attr::{SerializeInput as _, SkipInput as _};
                    const #spec: #attr::Spec = #attr::Spec {
                        kind: #attr::Kind::#kind_variant,
                        name: #name,
                        tags: &[#(#tags),*],
                        max_input_bytes: #limit,
                    };
                    // Arguments are serialized only for handlers that want this run.
                    let mut #collected = #attr::Inputs::new();
                    let #meta = if #attr::wants(&#manager, #spec.kind) {
                        #(#pushes)*
                        #(#fields)*
                        #metadata
                    } else {
                        ::core::option::Option::None
                    };
                    #start(#manager, &#spec, #meta, #collected)#wait
                }
                ::core::option::Option::None => ::core::option::Option::None,
            }
        }
    };
    let imports = quote! {
        #[allow(unused_imports)]
        use #attr::{
            DocumentsOutput as _, ErrorViaBox as _, ErrorViaDebug as _, ErrorViaDisplay as _, ErrorViaError as _,
            ErrorViaName as _, OpaqueOutput as _, SerializeInput as _, SerializedOutput as _,
            SkipInput as _,
        };
    };

    let new_body = if function.sig.asyncness.is_some() {
        let started = start_run(
            quote!(#private::AsyncCallbackManager::current()),
            quote!(#attr::AsyncRun::start),
            quote!(.await),
        );
        let typed = match ret {
            Some(ret) => quote!(#attr::typed_body::<#ret, _>),
            None => quote!(::core::convert::identity),
        };
        quote! {
            let #run = #started;
            let #body = #typed(async move #block);
            match #run {
                ::core::option::Option::None => #body.await,
                ::core::option::Option::Some(#run) => {
                    let #out = #run.instrument(#body).await;
                    let #outcome = if #run.wants_end() {
                        #imports
                        #finish
                    } else {
                        #attr::Outcome::Value(::core::option::Option::None)
                    };
                    #run.finish(#outcome).await;
                    #out
                }
            }
        }
    } else {
        let started = start_run(
            quote!(#private::CallbackManager::current()),
            quote!(#attr::SyncRun::start),
            TokenStream::new(),
        );
        let ret = ret.map(|ret| quote!(-> #ret));
        quote! {
            let #run = #started;
            let #body = move || #ret #block;
            match #run {
                // Called as `FnOnce`: a body that mutates an argument makes the closure `FnMut`.
                ::core::option::Option::None => #attr::call(#body),
                ::core::option::Option::Some(#run) => {
                    let #out = #run.in_scope(#body);
                    let #outcome = if #run.wants_end() {
                        #imports
                        #finish
                    } else {
                        #attr::Outcome::Value(::core::option::Option::None)
                    };
                    #run.finish(#outcome);
                    #out
                }
            }
        }
    };
    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #[allow(dead_code)]
            const #limit: usize = #limit_value;
            #new_body
        }
    })
}
