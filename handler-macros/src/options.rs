//! The macros' options: `#[callback(...)]` on the handler type, `#[callbacks(...)]` on the impl
//! block. Parsing keeps what it read before an error, so a fallback can still use the crate path.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, LitBool, LitStr, Path};

use crate::events::closest;

pub(crate) const HANDLER_KEYS: [&str; 12] = [
    "name",
    "raise_error",
    "run_inline",
    "crate",
    "ignore_llm",
    "ignore_llm_new_token",
    "ignore_chat_model",
    "ignore_chain",
    "ignore_agent",
    "ignore_retriever",
    "ignore_retry",
    "ignore_custom_event",
];

/// The path generated code reaches the core through: `<crate>::__private`.
pub(crate) struct CratePath(Option<Path>);

impl CratePath {
    /// `::llm_callbacks::__private`, or `<path>::__private` for `crate = "<path>"`.
    pub(crate) fn private(&self) -> TokenStream {
        match &self.0 {
            Some(path) => quote!(#path::__private),
            None => quote!(::llm_callbacks::__private),
        }
    }
}

/// What `#[callback(...)]` says.
pub(crate) struct HandlerAttrs {
    /// `name = "..."`.
    pub(crate) name: Option<LitStr>,
    /// `(flag, value)` for each explicit flag: `ignore_*`, `raise_error`, `run_inline`.
    pub(crate) flags: Vec<(&'static str, bool)>,
    /// `crate = "..."`.
    pub(crate) krate: CratePath,
}

impl Default for HandlerAttrs {
    fn default() -> Self {
        Self {
            name: None,
            flags: Vec::new(),
            krate: CratePath(None),
        }
    }
}

/// Reads every `#[callback(...)]` among `attrs`. On error, `attrs_out` keeps what was read.
pub(crate) fn parse_handler_attrs(attrs: &[Attribute], out: &mut HandlerAttrs) -> syn::Result<()> {
    let mut seen: Vec<String> = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("callback")) {
        attr.parse_nested_meta(|meta| {
            let key = key_of(&meta)?;
            if seen.contains(&key) {
                return Err(meta.error(format!("duplicate option `{key}`")));
            }
            seen.push(key.clone());
            match key.as_str() {
                "name" if !meta.input.peek(syn::Token![=]) => {
                    return Err(meta.error(
                        "write `name = \"...\"`; for a name per instance, mark a field \
                         `#[callback(name)]`",
                    ));
                }
                "options" => {
                    return Err(meta.error(
                        "`options` marks a field: write `#[callback(options)]` on a field of type \
                         `HandlerOptions` or `Option<HandlerOptions>`",
                    ));
                }
                "name" => {
                    let name: LitStr = meta.value()?.parse()?;
                    if name.value().trim().is_empty() {
                        return Err(syn::Error::new(name.span(), "the name must not be empty"));
                    }
                    out.name = Some(name);
                }
                "crate" => out.krate = parse_crate(&meta)?,
                other => match HANDLER_KEYS.iter().find(|k| **k == other) {
                    Some(flag) => out.flags.push((flag, parse_flag(&meta)?)),
                    None => return Err(unknown_handler_key(&meta, other)),
                },
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Reads the arguments of `#[callbacks(...)]`: only `crate = "..."`.
pub(crate) fn parse_impl_args(args: TokenStream, out: &mut CratePath) -> syn::Result<()> {
    syn::meta::parser(|meta| {
        let key = key_of(&meta)?;
        if key == "crate" {
            *out = parse_crate(&meta)?;
            Ok(())
        } else if HANDLER_KEYS.contains(&key.as_str()) {
            Err(meta.error(format!(
                "`{key}` is an option of the handler type: write `#[callback({key} ...)]` \
                 next to `#[derive(CallbackHandler)]`"
            )))
        } else {
            Err(meta.error(format!(
                "unknown option `{key}`; `#[callbacks]` takes only `crate = \"...\"`"
            )))
        }
    })
    .parse2(args)
}

fn key_of(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    match meta.path.get_ident() {
        Some(ident) => Ok(ident.to_string()),
        None if meta.path.is_ident("crate") => Ok("crate".to_owned()),
        None => Err(meta.error("expected an option name")),
    }
}

fn unknown_handler_key(meta: &ParseNestedMeta<'_>, key: &str) -> syn::Error {
    let hint = match closest(key, HANDLER_KEYS.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("the options are: {}", HANDLER_KEYS.join(", ")),
    };
    meta.error(format!(
        "unknown option `{key}` in `#[callback(...)]`; {hint}"
    ))
}

/// `flag` alone means true; `flag = true` / `flag = false` set it.
fn parse_flag(meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        let value: LitBool = meta.value()?.parse()?;
        Ok(value.value)
    } else {
        Ok(true)
    }
}

fn parse_crate(meta: &ParseNestedMeta<'_>) -> syn::Result<CratePath> {
    let lit: LitStr = meta.value()?.parse()?;
    let path: Path = lit.parse().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "expected a path, e.g. `crate = \"handler_core\"`",
        )
    })?;
    Ok(CratePath(Some(path)))
}

/// The default crate path, for fallbacks that could not read one.
pub(crate) fn default_crate() -> CratePath {
    CratePath(None)
}

/// A span for generated identifiers: resolves at the call site, points at `at`.
pub(crate) fn located(at: Span) -> Span {
    Span::call_site().located_at(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn parse(attr: Attribute) -> syn::Result<HandlerAttrs> {
        let mut out = HandlerAttrs::default();
        parse_handler_attrs(&[attr], &mut out).map(|()| out)
    }

    #[test]
    fn reads_flags_and_name() {
        let attrs = parse(parse_quote!(#[callback(name = "x", run_inline, ignore_chain = false, raise_error = true)])).unwrap();
        assert_eq!(attrs.name.unwrap().value(), "x");
        assert_eq!(
            attrs.flags,
            [
                ("run_inline", true),
                ("ignore_chain", false),
                ("raise_error", true)
            ]
        );
        assert_eq!(
            attrs.krate.private().to_string(),
            ":: llm_callbacks :: __private"
        );
    }

    #[test]
    fn reads_crate() {
        let attrs = parse(parse_quote!(#[callback(crate = "handler_core")])).unwrap();
        assert_eq!(
            attrs.krate.private().to_string(),
            "handler_core :: __private"
        );
    }

    #[test]
    fn rejects_unknown_and_duplicate_options() {
        let err = parse(parse_quote!(#[callback(run_inlin)])).err().unwrap();
        assert!(
            err.to_string().contains("did you mean `run_inline`"),
            "{err}"
        );
        let err = parse(parse_quote!(#[callback(name = "a", name = "b")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("duplicate option `name`"), "{err}");
        let err = parse(parse_quote!(#[callback(name = "")])).err().unwrap();
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }

    #[test]
    fn impl_args_take_only_crate() {
        let mut krate = default_crate();
        parse_impl_args(quote!(crate = "handler_core"), &mut krate).unwrap();
        assert_eq!(krate.private().to_string(), "handler_core :: __private");
        let err = parse_impl_args(quote!(run_inline), &mut krate).unwrap_err();
        assert!(err.to_string().contains("#[callback(run_inline"), "{err}");
    }
}
