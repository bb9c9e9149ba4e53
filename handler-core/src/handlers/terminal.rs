//! Text from models made safe for a terminal: control characters are shown escaped, so model
//! output cannot move the cursor, recolour, retitle or clear the terminal.

use std::fmt::{self, Write};

/// Displays `value` with its control characters escaped (see [`escape_into`]).
pub(crate) fn escaped<T: fmt::Display>(value: T) -> Escaped<T> {
    Escaped(value)
}

/// The wrapper [`escaped`] returns.
pub(crate) struct Escaped<T>(T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(EscapingWriter(f), "{}", self.0)
    }
}

/// Writes through to `f`, escaping as it goes.
struct EscapingWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape_into(text, self.0)
    }
}

/// True for characters a terminal would interpret rather than print: C0 controls other than
/// newline and tab, DEL, C1 controls (which include the one-byte CSI), and the bidirectional
/// overrides and isolates that reorder what is shown.
fn is_hostile(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// Writes `text`, each hostile character as a visible escape (`\u{1b}`, `\r`), everything
/// else as is: newlines and tabs stay readable.
fn escape_into(text: &str, out: &mut impl Write) -> fmt::Result {
    let mut rest = text;
    while let Some(at) = rest.find(is_hostile) {
        out.write_str(&rest[..at])?;
        let mut chars = rest[at..].chars();
        if let Some(c) = chars.next() {
            match c {
                '\r' => out.write_str("\\r")?,
                other => write!(out, "\\u{{{:x}}}", u32::from(other))?,
            }
        }
        rest = chars.as_str();
    }
    out.write_str(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        let hostile = "ok\x1b[2J\x1b]0;pwned\x07\rline\u{9b}31m\u{202e}txt\u{7f}";
        assert_eq!(
            escaped(hostile).to_string(),
            "ok\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\rline\\u{9b}31m\\u{202e}txt\\u{7f}"
        );
    }

    #[test]
    fn newlines_tabs_and_text_are_kept() {
        let text = "Paris\tis in\nFrance — 日本語 ✓";
        assert_eq!(escaped(text).to_string(), text);
        assert_eq!(escaped(42).to_string(), "42");
    }
}
