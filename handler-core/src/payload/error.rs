//! Errors as events carry them: a kind and a message, serializable. Knows no error type of
//! the layers above; `ErrorInfo::from_error`, which recognises them too, is in `crate::error`.

use std::error::Error;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An error reported by a run (`on_llm_error`, `on_chain_error`, ...), in a form that can be
/// serialized and replayed: the kind of error and its message, with its causes appended.
///
/// Any `std::error::Error` converts into it ([`ErrorInfo::from_error`]); the kind is the name of
/// the error's concrete type, without its module path:
///
/// ```
/// use handler_core::payload::ErrorInfo;
///
/// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "model took too long");
/// let info = ErrorInfo::from(&io);
/// assert_eq!(info.kind, "io::Error");
/// assert_eq!(info.message, "model took too long");
/// ```
///
/// A boxed error (`Box<dyn Error>`, a `dyn Error` reference) hides its type from the compiler,
/// so the kind is found at run time: the common standard-library and `serde_json` errors, and
/// an `ErrorInfo` itself, are recognised by downcasting; a boxed string (`"...".into()`) is
/// `"String"`; any other boxed error is `"Error"`, its message still complete.
///
/// ```
/// use handler_core::payload::ErrorInfo;
///
/// let boxed: Box<dyn std::error::Error + Send + Sync> =
///     Box::new(std::io::Error::other("socket closed"));
/// assert_eq!(ErrorInfo::from(&*boxed).kind, "io::Error");
/// let message: Box<dyn std::error::Error> = "bad prompt".into();
/// assert_eq!(ErrorInfo::from(&*message).kind, "String");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorInfo {
    /// What kind of error it is, e.g. the Rust type name or `"TimeoutError"`.
    pub kind: String,
    /// The error's message, followed by its causes (`": "`-separated).
    pub message: String,
}

impl ErrorInfo {
    /// An error of this kind with this message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// The kind of the error event a run gets when its run manager is dropped without an end.
    pub const ABANDONED: &'static str = "abandoned";

    /// The error of a run whose run manager was dropped without an end (an early `?`, a panic,
    /// a cancelled future).
    ///
    /// ```
    /// use handler_core::payload::ErrorInfo;
    ///
    /// assert!(ErrorInfo::abandoned().is_abandoned());
    /// assert!(!ErrorInfo::new("TimeoutError", "late").is_abandoned());
    /// ```
    pub fn abandoned() -> Self {
        Self::new(
            Self::ABANDONED,
            "the run was abandoned: its run manager was dropped without an end event",
        )
    }

    /// True when this is the error of an abandoned run.
    pub fn is_abandoned(&self) -> bool {
        self.kind == Self::ABANDONED
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// An `ErrorInfo` is an error too, so a recorded error can be raised again; converting it back
/// keeps its kind.
impl Error for ErrorInfo {}

mod sealed {
    use std::error::Error;

    /// What [`AsDynError`](super::AsDynError) does, out of users' reach (public in a private
    /// module).
    pub trait DynError {
        /// The error's type name when the compiler knows it; `None` for `dyn Error`.
        fn static_kind() -> Option<&'static str>;
        /// The error as a `dyn Error`.
        fn as_dyn_error(&self) -> &(dyn Error + 'static);
    }
}

/// `error` as a `dyn Error`, for [`ErrorInfo::from_error`] (the trait's method is private).
pub(crate) fn as_dyn_error<E: AsDynError + ?Sized>(error: &E) -> &(dyn Error + 'static) {
    sealed::DynError::as_dyn_error(error)
}

/// An error [`ErrorInfo::from_error`] accepts: any sized `std::error::Error + 'static`, or a
/// `dyn Error` (with or without `Send` and `Sync`). Sealed: its workings are private.
pub trait AsDynError: sealed::DynError {}

impl<E: Error + 'static> AsDynError for E {}
impl<E: Error + 'static> sealed::DynError for E {
    fn static_kind() -> Option<&'static str> {
        Some(std::any::type_name::<E>())
    }
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }
}

macro_rules! dyn_error {
    ($($ty:ty),*) => {$(
        impl AsDynError for $ty {}
        impl sealed::DynError for $ty {
            fn static_kind() -> Option<&'static str> {
                None
            }
            fn as_dyn_error(&self) -> &(dyn Error + 'static) {
                self
            }
        }
    )*};
}

dyn_error!(
    dyn Error + 'static,
    dyn Error + Send + 'static,
    dyn Error + Send + Sync + 'static
);

/// The last path segment of every type in a type name, keeping the module of std's ambiguous
/// `Error`s: `std::io::error::Error` is `io::Error`, `my_app::Upstream<my_app::Cause>` is
/// `Upstream<Cause>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    let mut path: Vec<&str> = Vec::new();
    let flush = |out: &mut String, path: &mut Vec<&str>| {
        if let Some(last) = path.last() {
            if *last == "Error" {
                // `std::io::error::Error` → `io::Error`; `serde_json::error::Error` → `serde_json::Error`.
                let module = path.iter().rev().skip(1).find(|m| **m != "error").copied();
                if let Some(module) = module {
                    out.push_str(module);
                    out.push_str("::");
                }
            }
            out.push_str(last);
        }
        path.clear();
    };
    let bytes = full.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b':' && bytes.get(i + 1) == Some(&b':') {
            path.push(&full[segment_start..i]);
            i += 2;
            segment_start = i;
            continue;
        }
        if !(c.is_ascii_alphanumeric() || c == b'_') {
            path.push(&full[segment_start..i]);
            flush(&mut out, &mut path);
            out.push(char::from(c));
            segment_start = i + 1;
        }
        i += 1;
    }
    path.push(&full[segment_start..]);
    flush(&mut out, &mut path);
    out
}

/// The kind of an error known only as `dyn Error`, among the standard library's and
/// `serde_json`'s (the crate's own errors are recognised where they are defined).
pub(crate) fn dynamic_kind(error: &(dyn Error + 'static)) -> String {
    macro_rules! try_types {
        ($($ty:ty => $name:literal),* $(,)?) => {
            $(if error.is::<$ty>() { return $name.to_owned(); })*
        };
    }
    try_types!(
        std::io::Error => "io::Error",
        fmt::Error => "fmt::Error",
        std::num::ParseIntError => "ParseIntError",
        std::num::ParseFloatError => "ParseFloatError",
        std::num::TryFromIntError => "TryFromIntError",
        std::str::ParseBoolError => "ParseBoolError",
        std::str::Utf8Error => "Utf8Error",
        std::string::FromUtf8Error => "FromUtf8Error",
        std::env::VarError => "VarError",
        std::net::AddrParseError => "AddrParseError",
        std::time::SystemTimeError => "SystemTimeError",
        std::sync::mpsc::RecvError => "RecvError",
        std::sync::mpsc::RecvTimeoutError => "RecvTimeoutError",
        serde_json::Error => "serde_json::Error",
    );
    // std's boxed strings (`"message".into()`) debug-print as the quoted message.
    let message = error.to_string();
    if format!("{error:?}") == format!("{message:?}") {
        return "String".to_owned();
    }
    "Error".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_keep_the_module_of_an_error_named_error() {
        assert_eq!(short_type_name("std::io::error::Error"), "io::Error");
        assert_eq!(
            short_type_name("serde_json::error::Error"),
            "serde_json::Error"
        );
        assert_eq!(short_type_name("core::fmt::Error"), "fmt::Error");
        assert_eq!(short_type_name("my_app::Upstream"), "Upstream");
        assert_eq!(
            short_type_name("my_app::Wrap<my_app::Cause, std::io::error::Error>"),
            "Wrap<Cause, io::Error>"
        );
        assert_eq!(short_type_name("Bare"), "Bare");
    }

    #[test]
    fn a_boxed_error_is_named_after_what_it_holds() {
        let io: Box<dyn Error + Send + Sync> = Box::new(std::io::Error::other("x"));
        assert_eq!(ErrorInfo::from(&*io).kind, "io::Error");
        let parse: Box<dyn Error> = Box::new("x".parse::<u8>().unwrap_err());
        assert_eq!(ErrorInfo::from(&*parse).kind, "ParseIntError");
        let json: Box<dyn Error + Send> = Box::new(serde_json::from_str::<u8>("x").unwrap_err());
        assert_eq!(ErrorInfo::from(&*json).kind, "serde_json::Error");
        let text: Box<dyn Error + Send + Sync> = String::from("plain").into();
        assert_eq!(ErrorInfo::from(&*text).kind, "String");
        assert_eq!(ErrorInfo::from(&*text).message, "plain");
    }

    #[test]
    fn an_unknown_boxed_error_is_an_error_with_its_whole_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("outer")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let boxed: Box<dyn Error> = Box::new(Outer(std::io::Error::other("inner")));
        let info = ErrorInfo::from(&*boxed);
        assert_eq!(info.kind, "Error");
        assert_eq!(info.message, "outer: inner");
        assert_eq!(
            ErrorInfo::from(&Outer(std::io::Error::other("i"))).kind,
            "Outer"
        );
    }

    #[test]
    fn an_error_info_converts_back_unchanged() {
        let info = ErrorInfo::new("TimeoutError", "slow");
        assert_eq!(ErrorInfo::from(&info), info);
        let boxed: Box<dyn Error + Send + Sync> = Box::new(info.clone());
        assert_eq!(ErrorInfo::from(&*boxed), info);
    }
}
