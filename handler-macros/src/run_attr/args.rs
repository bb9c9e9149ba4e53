//! The options of a run attribute: `#[chain(name = "...", tags(...), skip(...), err, ...)]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitBool, LitStr, Path, Token};

use crate::events::closest;

/// The run attributes' option names, for "did you mean".
const KEYS: [&str; 11] = [
    "name",
    "tags",
    "metadata",
    "skip",
    "skip_all",
    "inputs",
    "fields",
    "err",
    "max_input_bytes",
    "crate",
    "ret",
];

/// How an `Err` return becomes the run's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrMode {
    /// The default: a return type named `Result` is a result; others are plain values.
    Auto,
    /// `err`: the return value is a result (for aliases not named `Result`).
    On,
    /// `err = false`: an `Err` is an ordinary output.
    Off,
    /// `err(Display)`: the message is the error's `Display`.
    Display,
    /// `err(Debug)`: the message is the error's `Debug`.
    Debug,
}

/// Which arguments become inputs.
#[derive(Default)]
pub(crate) enum Selection {
    /// Every argument but `self` and the skipped ones.
    #[default]
    All,
    /// `skip(a, b)`.
    Skip(Vec<Ident>),
    /// `skip_all`.
    None,
    /// `inputs(a, b)`: only these.
    Only(Vec<Ident>),
}

/// What the attribute says.
pub(crate) struct RunArgs {
    /// `name = "..."`.
    pub(crate) name: Option<LitStr>,
    /// `tags("a", "b")`.
    pub(crate) tags: Vec<LitStr>,
    /// `metadata(key = value, ...)`.
    pub(crate) metadata: Vec<(Ident, Expr)>,
    /// `skip(...)`, `skip_all`, `inputs(...)`.
    pub(crate) selection: Selection,
    /// `fields(key = value, ...)`: inputs computed from the arguments.
    pub(crate) fields: Vec<(Ident, Expr)>,
    /// `err`, `err = bool`, `err(Display)`, `err(Debug)`.
    pub(crate) err: ErrMode,
    /// The span of the `err` option, for errors about it.
    pub(crate) err_span: Option<Span>,
    /// `max_input_bytes = N`: the most bytes of JSON one captured value may take.
    pub(crate) max_input_bytes: Option<Expr>,
    /// `crate = "path"`: where the core is.
    pub(crate) krate: Option<Path>,
}

impl RunArgs {
    /// `::llm_callbacks::__private`, or `<path>::__private`.
    pub(crate) fn private(&self) -> TokenStream {
        match &self.krate {
            Some(path) => quote!(#path::__private),
            None => quote!(::llm_callbacks::__private),
        }
    }
}

/// Reads the attribute's arguments. `attr` is the attribute's name, for messages.
pub(crate) fn parse(args: TokenStream, attr: &str) -> syn::Result<RunArgs> {
    let mut out = RunArgs {
        name: None,
        tags: Vec::new(),
        metadata: Vec::new(),
        selection: Selection::All,
        fields: Vec::new(),
        err: ErrMode::Auto,
        err_span: None,
        max_input_bytes: None,
        krate: None,
    };
    let mut seen: Vec<String> = Vec::new();
    syn::meta::parser(|meta| {
        let key = key_of(&meta)?;
        if seen.contains(&key) {
            return Err(meta.error(format!("duplicate option `{key}`")));
        }
        seen.push(key.clone());
        match key.as_str() {
            "name" => {
                let name: LitStr = meta.value()?.parse()?;
                if name.value().trim().is_empty() {
                    return Err(syn::Error::new(name.span(), "the name must not be empty"));
                }
                out.name = Some(name);
            }
            "tags" => {
                let content;
                syn::parenthesized!(content in meta.input);
                let tags = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                out.tags = tags.into_iter().collect();
            }
            "metadata" => out.metadata = key_values(&meta)?,
            "fields" => out.fields = key_values(&meta)?,
            "skip" => set_selection(&meta, &mut out.selection, Selection::Skip(idents(&meta)?))?,
            "inputs" => {
                set_selection(&meta, &mut out.selection, Selection::Only(idents(&meta)?))?;
            }
            "skip_all" => set_selection(&meta, &mut out.selection, Selection::None)?,
            "err" => {
                out.err_span = Some(meta.path.segments[0].ident.span());
                out.err = parse_err(&meta)?;
            }
            "max_input_bytes" => out.max_input_bytes = Some(meta.value()?.parse()?),
            "crate" => {
                let lit: LitStr = meta.value()?.parse()?;
                let path = lit.parse().map_err(|_| {
                    syn::Error::new(
                        lit.span(),
                        "expected a path, e.g. `crate = \"handler_core\"`",
                    )
                })?;
                out.krate = Some(path);
            }
            "ret" => {
                return Err(meta.error(format!(
                    "`ret` is not needed: `#[{attr}]` always records the return value \
                     (when its type implements `Serialize`)"
                )));
            }
            other => {
                let hint = match closest(other, KEYS.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("the options are: {}", KEYS.join(", ")),
                };
                return Err(meta.error(format!(
                    "unknown option `{other}` in `#[{attr}(...)]`; {hint}"
                )));
            }
        }
        Ok(())
    })
    .parse2(args)?;
    Ok(out)
}

fn key_of(meta: &ParseNestedMeta<'_>) -> syn::Result<String> {
    match meta.path.get_ident() {
        Some(ident) => Ok(ident.to_string()),
        None if meta.path.is_ident("crate") => Ok("crate".to_owned()),
        None => Err(meta.error("expected an option name")),
    }
}

/// `skip`, `skip_all` and `inputs` choose the inputs in exclusive ways.
fn set_selection(
    meta: &ParseNestedMeta<'_>,
    current: &mut Selection,
    new: Selection,
) -> syn::Result<()> {
    if !matches!(current, Selection::All) {
        return Err(meta.error(
            "choose the inputs one way: `skip(...)`, `skip_all` or `inputs(...)`, not several",
        ));
    }
    *current = new;
    Ok(())
}

/// `(a, b, c)`: argument names.
fn idents(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Ident>> {
    let mut names = Vec::new();
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("self") {
            // `self` is never an input; naming it is harmless.
            return Ok(());
        }
        match inner.path.get_ident() {
            Some(ident) => {
                names.push(ident.clone());
                Ok(())
            }
            None => Err(inner.error("expected an argument name")),
        }
    })?;
    Ok(names)
}

/// `(key = expr, ...)`.
fn key_values(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<(Ident, Expr)>> {
    let mut entries: Vec<(Ident, Expr)> = Vec::new();
    meta.parse_nested_meta(|inner| {
        let Some(key) = inner.path.get_ident().cloned() else {
            return Err(inner.error("expected a key, e.g. `version = 2`"));
        };
        if entries.iter().any(|(k, _)| *k == key) {
            return Err(inner.error(format!("duplicate key `{key}`")));
        }
        let value: Expr = inner.value()?.parse()?;
        entries.push((key, value));
        Ok(())
    })?;
    Ok(entries)
}

/// `err`, `err = bool`, `err(Display)`, `err(Debug)`.
fn parse_err(meta: &ParseNestedMeta<'_>) -> syn::Result<ErrMode> {
    if meta.input.peek(Token![=]) {
        let value: LitBool = meta.value()?.parse()?;
        return Ok(if value.value {
            ErrMode::On
        } else {
            ErrMode::Off
        });
    }
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(ErrMode::On);
    }
    let mut mode = ErrMode::On;
    meta.parse_nested_meta(|inner| {
        mode = if inner.path.is_ident("Display") {
            ErrMode::Display
        } else if inner.path.is_ident("Debug") {
            ErrMode::Debug
        } else {
            return Err(inner.error("expected `Display` or `Debug`"));
        };
        Ok(())
    })?;
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: TokenStream) -> RunArgs {
        match parse(args, "chain") {
            Ok(args) => args,
            Err(error) => panic!("{error}"),
        }
    }

    fn parse_err(args: TokenStream) -> String {
        match parse(args, "chain") {
            Ok(_) => panic!("an error was expected"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn reads_every_option() {
        let args = parse_ok(quote!(
            name = "answer",
            tags("a", "b"),
            metadata(version = 2, team = "search"),
            skip(client, self),
            fields(len = question.len()),
            err(Debug),
            crate = "handler_core"
        ));
        assert_eq!(
            args.name.as_ref().map(LitStr::value).as_deref(),
            Some("answer")
        );
        assert_eq!(args.tags.len(), 2);
        assert_eq!(args.metadata.len(), 2);
        assert!(matches!(&args.selection, Selection::Skip(names) if names.len() == 1));
        assert_eq!(args.fields.len(), 1);
        assert_eq!(args.err, ErrMode::Debug);
        assert_eq!(args.private().to_string(), "handler_core :: __private");
    }

    #[test]
    fn err_forms() {
        assert_eq!(parse_ok(quote!(err)).err, ErrMode::On);
        assert_eq!(parse_ok(quote!(err = false)).err, ErrMode::Off);
        assert_eq!(parse_ok(quote!(err(Display))).err, ErrMode::Display);
        assert_eq!(parse_ok(quote!()).err, ErrMode::Auto);
    }

    #[test]
    fn rejects_mistakes() {
        assert!(parse_err(quote!(nmae = "x")).contains("did you mean `name`?"));
        assert!(parse_err(quote!(skip(a), inputs(b))).contains("one way"));
        assert!(parse_err(quote!(name = "a", name = "b")).contains("duplicate option"));
        assert!(parse_err(quote!(err(Pretty))).contains("`Display` or `Debug`"));
        assert!(parse_err(quote!(ret)).contains("always records"));
    }
}
