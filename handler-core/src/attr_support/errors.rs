//! What a marked function's `Err` becomes: the richest form its type has, chosen per type by
//! autoref specialization (`std::error::Error`, a boxed error, `Display`, `Debug`, the type
//! name alone).

use std::fmt;

use super::capture::Arg;
use crate::payload::{AsDynError, ErrorInfo};

/// The short name of a type, as error kinds have it: `io::Error`, `Box<dyn Error + Send>`.
pub fn short_type_name<T: ?Sized>() -> String {
    crate::payload::short_type_name(std::any::type_name::<T>())
}

/// An error for `err(Display)`.
pub fn display_error<E: fmt::Display + ?Sized>(error: &E) -> ErrorInfo {
    ErrorInfo::new(short_type_name::<E>(), format!("{error:#}"))
}

/// An error for `err(Debug)`.
pub fn debug_error<E: fmt::Debug + ?Sized>(error: &E) -> ErrorInfo {
    ErrorInfo::new(short_type_name::<E>(), format!("{error:?}"))
}

/// An `Err` whose type is a `std::error::Error`: its message and causes.
pub trait ErrorViaError {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: AsDynError + ?Sized> ErrorViaError for &&&&Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        ErrorInfo::from_error(self.0)
    }
}

/// An `Err` that is a boxed error (`Box<dyn Error + Send + Sync>`): the boxed error's real
/// type, found by downcasting, and its causes.
pub trait ErrorViaBox {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: AsDynError + ?Sized> ErrorViaBox for &&&Arg<'_, Box<E>> {
    fn attr_error(&self) -> ErrorInfo {
        ErrorInfo::from_error(&**self.0)
    }
}

/// An `Err` whose type is `Display` (e.g. `anyhow::Error`, `String`, `Box<dyn Error>`).
pub trait ErrorViaDisplay {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: fmt::Display + ?Sized> ErrorViaDisplay for &&Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        display_error(self.0)
    }
}

/// An `Err` whose type is only `Debug`.
pub trait ErrorViaDebug {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: fmt::Debug + ?Sized> ErrorViaDebug for &Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        debug_error(self.0)
    }
}

/// An `Err` of any other type: its type name.
pub trait ErrorViaName {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: ?Sized> ErrorViaName for Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        let kind = short_type_name::<E>();
        let message = format!("the function returned an `Err` of type `{kind}`");
        ErrorInfo::new(kind, message)
    }
}

#[cfg(test)]
// The borrows choose the impl, as in generated code, where the types are not known.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    struct Opaque;

    #[derive(Debug)]
    struct OnlyDebug;

    #[test]
    fn errors_use_the_richest_form_their_type_has() {
        let io = std::io::Error::other("disk full");
        assert_eq!(
            (&&&&&Arg(&io)).attr_error(),
            ErrorInfo::new("io::Error", "disk full")
        );
        let text = String::from("bad input");
        assert_eq!(
            (&&&&&Arg(&text)).attr_error(),
            ErrorInfo::new("String", "bad input")
        );
        assert_eq!((&&&&&Arg(&OnlyDebug)).attr_error().message, "OnlyDebug");
        assert_eq!((&&&&&Arg(&Opaque)).attr_error().kind, "Opaque");
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(io);
        assert_eq!(
            (&&&&&Arg(&boxed)).attr_error(),
            ErrorInfo::new("io::Error", "disk full")
        );
    }

    #[test]
    fn short_type_names_drop_paths() {
        assert_eq!(short_type_name::<Vec<String>>(), "Vec<String>");
        assert_eq!(short_type_name::<std::io::Error>(), "io::Error");
    }
}
