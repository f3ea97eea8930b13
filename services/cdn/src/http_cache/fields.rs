//! Field value helpers shared by the cache's parsers (RFC 9110 §5.6).

use std::time::SystemTime;

use http::HeaderMap;

/// The largest delta-seconds a cache needs to represent: RFC 9111 §1.2.2
/// has larger values taken as 2^31.
pub const DELTA_CAP: u64 = 1 << 31;

/// The members of a comma-separated list, commas inside quoted strings
/// kept, each trimmed, empty members dropped.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut members = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, byte) in value.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match byte {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                members.push(value[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    members.push(value[start..].trim());
    members.retain(|member| !member.is_empty());
    members
}

/// Every field line of `name` that is text, in order.
pub fn lines<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    headers.get_all(name).iter().filter_map(|value| value.to_str().ok())
}

/// Every list member of every field line of `name`, in order.
pub fn members<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    lines(headers, name).flat_map(split_list).collect()
}

/// delta-seconds (`1*DIGIT`), capped at [`DELTA_CAP`]; anything else is
/// invalid.
pub fn delta_seconds(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.len() > 10 {
        return Some(DELTA_CAP);
    }
    Some(digits.parse::<u64>().unwrap_or(0).min(DELTA_CAP))
}

/// A quoted-string's content with its escapes resolved, or the token as is.
pub fn unquote(text: &str) -> std::borrow::Cow<'_, str> {
    match text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
        Some(inner) if inner.contains('\\') => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
            }
            out.into()
        }
        Some(inner) => inner.into(),
        None => text.into(),
    }
}

/// The first `name` line as an HTTP-date; `Err` when present but not a
/// date (RFC 9111 §5.3 treats an invalid `Expires` as the past).
pub fn date(headers: &HeaderMap, name: &str) -> Option<Result<SystemTime, ()>> {
    let value = headers.get(name)?;
    Some(value.to_str().ok().and_then(|text| httpdate::parse_http_date(text.trim()).ok()).ok_or(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_commas_inside_quotes() {
        assert_eq!(split_list(r#"a, b="x, y", ,c"#), vec!["a", r#"b="x, y""#, "c"]);
        assert_eq!(split_list(r#"a="q\"," , b"#), vec![r#"a="q\",""#, "b"]);
    }

    #[test]
    fn delta_seconds_are_digits_only_and_capped() {
        assert_eq!(delta_seconds("003600"), Some(3600));
        assert_eq!(delta_seconds("3600.0"), None);
        assert_eq!(delta_seconds("-1"), None);
        assert_eq!(delta_seconds("99999999999999999999"), Some(DELTA_CAP));
        assert_eq!(delta_seconds("2147483649"), Some(DELTA_CAP));
    }

    #[test]
    fn quoted_strings_lose_their_quotes_and_escapes() {
        assert_eq!(unquote(r#""a\"b""#), r#"a"b"#);
        assert_eq!(unquote("token"), "token");
    }
}
