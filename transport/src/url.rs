//! URLs that print without the secrets people put in them: the password of
//! `https://user:key@host/` and the values of `?api_key=...`.

use std::fmt;

use crate::secret::REDACTED;

/// `url` for `Debug`, `Display` and logs: a password in the authority and every query value
/// print as [`REDACTED`]; the scheme, user, host, port, path and query names stay readable.
/// Text that is not a URL prints unchanged.
///
/// ```
/// use llm_callbacks_transport::redacted_url;
///
/// let shown = redacted_url("https://team:sk-1@collector.example:4318/v1/traces?key=sk-2&x=1");
/// assert_eq!(
///     shown.to_string(),
///     "https://team:***@collector.example:4318/v1/traces?key=***&x=***"
/// );
/// assert_eq!(redacted_url("http://127.0.0.1:6006").to_string(), "http://127.0.0.1:6006");
/// ```
pub fn redacted_url(url: &str) -> RedactedUrl<'_> {
    RedactedUrl(url)
}

/// A URL that prints redacted; see [`redacted_url`].
#[derive(Clone, Copy)]
pub struct RedactedUrl<'a>(&'a str);

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        let (before_fragment, fragment) = match url.find('#') {
            Some(at) => url.split_at(at),
            None => (url, ""),
        };
        let (base, query) = match before_fragment.find('?') {
            Some(at) => (&before_fragment[..at], Some(&before_fragment[at + 1..])),
            None => (before_fragment, None),
        };
        write_base(f, base)?;
        if let Some(query) = query {
            f.write_str("?")?;
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    f.write_str("&")?;
                }
                match pair.split_once('=') {
                    Some((name, _)) => write!(f, "{name}={REDACTED}")?,
                    None if pair.is_empty() => {}
                    None => f.write_str(REDACTED)?,
                }
            }
        }
        f.write_str(fragment)
    }
}

/// Writes `scheme://authority/path` with the authority's password redacted.
fn write_base(f: &mut fmt::Formatter<'_>, base: &str) -> fmt::Result {
    let Some(scheme_end) = base.find("://") else {
        return f.write_str(base);
    };
    let (scheme, rest) = base.split_at(scheme_end + 3);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    f.write_str(scheme)?;
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => write!(f, "{user}:{REDACTED}")?,
                // A lone user part is often the key itself (`https://<key>@host`).
                None => f.write_str(REDACTED)?,
            }
            write!(f, "@{host}")?;
        }
        None => f.write_str(authority)?,
    }
    f.write_str(path)
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_url;

    #[test]
    fn secrets_in_urls_are_hidden_and_the_rest_kept() {
        let cases = [
            ("http://localhost:6006", "http://localhost:6006"),
            ("https://h/p/q", "https://h/p/q"),
            ("https://u:p@h:1/x", "https://u:***@h:1/x"),
            ("https://sk-key@h/x", "https://***@h/x"),
            ("https://u:p@w@h/x", "https://u:***@h/x"),
            ("https://h/x?a=1&b=2#frag", "https://h/x?a=***&b=***#frag"),
            ("https://h/x?token", "https://h/x?***"),
            ("https://h/x?", "https://h/x?"),
            ("not a url", "not a url"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted_url(url).to_string(), shown, "{url}");
        }
        assert_eq!(
            format!("{:?}", redacted_url("https://u:p@h")),
            "\"https://u:***@h\""
        );
    }
}
