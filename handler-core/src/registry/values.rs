//! Typed configuration values: the one place where a setting's text becomes a bool, a number or
//! a duration, with the same accepted spellings for every plugin.

use std::str::FromStr;
use std::time::Duration;

/// What a bare number means in a duration setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationUnit {
    /// Seconds (`30`, `0.5`), as most settings here use.
    Seconds,
    /// Milliseconds (`10000`), as the OpenTelemetry variables (`OTEL_*_TIMEOUT`) use.
    Milliseconds,
}

/// A boolean: `true`, `1`, `yes`, `on` or `false`, `0`, `no`, `off`, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "1", "yes", "on"];
    const FALSE: [&str; 4] = ["false", "0", "no", "off"];
    let text = text.trim();
    if TRUE.iter().any(|t| t.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// A number of any type that parses from text, surrounding spaces allowed.
pub(crate) fn parse_number<T: FromStr>(text: &str) -> Option<T> {
    text.trim().parse().ok()
}

/// A duration: a non-negative number with an optional unit (`ms`, `s`, `m`, `h`; a bare number
/// is in `unit`), fractions allowed (`1.5s`), or `none`/`never`/`forever`/`inf` for no limit
/// ([`Duration::MAX`]). Values too large for a `Duration` read as [`Duration::MAX`].
pub(crate) fn parse_duration(text: &str, unit: DurationUnit) -> Option<Duration> {
    let text = text.trim();
    if ["none", "never", "forever", "inf", "infinite"]
        .iter()
        .any(|word| word.eq_ignore_ascii_case(text))
    {
        return Some(Duration::MAX);
    }
    let (number, seconds_per_unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        match unit {
            DurationUnit::Seconds => (text, 1.0),
            DurationUnit::Milliseconds => (text, 0.001),
        }
    };
    let number: f64 = number.trim().parse().ok()?;
    if !(number.is_finite() && number >= 0.0) {
        return None;
    }
    Some(Duration::try_from_secs_f64(number * seconds_per_unit).unwrap_or(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_have_one_set_of_spellings() {
        for (text, value) in [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            (" 1 ", Some(true)),
            ("yes", Some(true)),
            ("On", Some(true)),
            ("false", Some(false)),
            ("0", Some(false)),
            ("no", Some(false)),
            ("OFF", Some(false)),
            ("maybe", None),
            ("2", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(text), value, "{text:?}");
        }
    }

    #[test]
    fn durations_take_units_fractions_and_no_limit() {
        use DurationUnit::{Milliseconds, Seconds};
        let ms = Duration::from_millis;
        for (text, unit, value) in [
            ("30", Seconds, Some(Duration::from_secs(30))),
            ("0.5", Seconds, Some(ms(500))),
            ("10000", Milliseconds, Some(ms(10_000))),
            ("250ms", Seconds, Some(ms(250))),
            ("1.5s", Milliseconds, Some(ms(1500))),
            ("2m", Seconds, Some(Duration::from_secs(120))),
            ("1h", Seconds, Some(Duration::from_secs(3600))),
            ("none", Seconds, Some(Duration::MAX)),
            ("Never", Milliseconds, Some(Duration::MAX)),
            ("forever", Seconds, Some(Duration::MAX)),
            ("1e300", Seconds, Some(Duration::MAX)),
            ("-1", Seconds, None),
            ("NaN", Seconds, None),
            ("soon", Seconds, None),
            ("5 minutes", Seconds, None),
        ] {
            assert_eq!(parse_duration(text, unit), value, "{text:?} in {unit:?}");
        }
    }

    #[test]
    fn numbers_parse_to_the_asked_type() {
        assert_eq!(parse_number::<u32>(" 42 "), Some(42));
        assert_eq!(parse_number::<u32>("-1"), None);
        assert_eq!(parse_number::<f64>("0.25"), Some(0.25));
    }
}
