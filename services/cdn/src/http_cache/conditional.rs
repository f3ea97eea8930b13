//! A viewer's conditional request answered from a stored response
//! (RFC 9110 §13): the preconditions evaluated in the RFC's order, so
//! `If-None-Match` takes precedence over `If-Modified-Since` and
//! `If-Match` over `If-Unmodified-Since`.
//!
//! Entity tags are compared leniently where the RFC's grammar would refuse
//! the field outright: a bare tag matches its quoted form and `w/` reads as
//! `W/`, as an origin server that produced them would mean.

use std::time::SystemTime;

use http::{HeaderMap, Method};

use super::fields;

/// An entity tag: `"opaque"` or `W/"opaque"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    pub opaque: Vec<u8>,
}

impl EntityTag {
    pub fn parse(text: &str) -> Option<Self> {
        Self::parse_bytes(text.as_bytes())
    }

    pub fn parse_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes = bytes.trim_ascii();
        let (weak, rest) = match bytes {
            [b'W' | b'w', b'/', rest @ ..] => (true, rest),
            _ => (false, bytes),
        };
        let opaque = match rest {
            [b'"', inner @ .., b'"'] => inner,
            [b'"', ..] | [.., b'"'] => return None,
            bare => bare,
        };
        if opaque.is_empty() && rest.len() < 2 {
            return None;
        }
        Some(Self { weak, opaque: opaque.to_vec() })
    }

    /// The strong comparison: both strong and the same.
    pub fn strong_eq(&self, other: &Self) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// The weak comparison: the same, strong or not.
    pub fn weak_eq(&self, other: &Self) -> bool {
        self.opaque == other.opaque
    }
}

/// The members of an `If-Match` or `If-None-Match` field: `None` for `*`.
fn tag_list(headers: &HeaderMap, name: &str) -> Option<Option<Vec<EntityTag>>> {
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let mut tags = Vec::new();
    for value in values {
        for member in split_tags(value.as_bytes()) {
            if member == b"*" {
                return Some(None);
            }
            if let Some(tag) = EntityTag::parse_bytes(member) {
                tags.push(tag);
            }
        }
    }
    Some(Some(tags))
}

/// Splits a list of entity tags at commas outside quotes.
fn split_tags(value: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (at, &byte) in value.iter().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                out.push(value[start..at].trim_ascii());
                start = at + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim_ascii());
    out.retain(|member| !member.is_empty());
    out
}

/// What the preconditions of a request make of a stored response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve it as asked.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The stored response's modification time: its `Last-Modified`, else its
/// `Date`, else when it was received (RFC 9111 §4.3.2).
fn modified(stored: &HeaderMap, received: SystemTime) -> SystemTime {
    match (fields::date(stored, "last-modified"), fields::date(stored, "date")) {
        (Some(Ok(modified)), _) => modified,
        (_, Some(Ok(date))) => date,
        _ => received,
    }
}

/// Evaluates `request`'s preconditions against a stored `200` response
/// (RFC 9110 §13.2.2). Preconditions do not apply to other statuses.
pub fn evaluate(
    method: &Method,
    request: &HeaderMap,
    status: u16,
    stored: &HeaderMap,
    received: SystemTime,
) -> Precondition {
    if !(200..300).contains(&status) {
        return Precondition::Proceed;
    }
    let tag = stored.get(http::header::ETAG).and_then(|value| EntityTag::parse_bytes(value.as_bytes()));
    let last_modified = match fields::date(stored, "last-modified") {
        Some(Ok(modified)) => Some(modified),
        _ => None,
    };
    match tag_list(request, "if-match") {
        Some(None) => {}
        Some(Some(tags)) => {
            if !tag.as_ref().is_some_and(|tag| tags.iter().any(|candidate| candidate.strong_eq(tag))) {
                return Precondition::Failed;
            }
        }
        None => {
            if let (Some(Ok(since)), Some(modified)) = (fields::date(request, "if-unmodified-since"), last_modified)
                && modified > since
            {
                return Precondition::Failed;
            }
        }
    }
    let safe = *method == Method::GET || *method == Method::HEAD;
    match tag_list(request, "if-none-match") {
        Some(tags) => {
            let matched = match tags {
                None => true,
                Some(tags) => tag.as_ref().is_some_and(|tag| tags.iter().any(|candidate| candidate.weak_eq(tag))),
            };
            match (matched, safe) {
                (true, true) => Precondition::NotModified,
                (true, false) => Precondition::Failed,
                (false, _) => Precondition::Proceed,
            }
        }
        None => match fields::date(request, "if-modified-since") {
            Some(Ok(since)) if safe && modified(stored, received) <= since => Precondition::NotModified,
            _ => Precondition::Proceed,
        },
    }
}

/// Whether an `If-Range` lets a range of the stored response be served
/// (RFC 9110 §13.1.5): its entity tag strongly matches, or its date is the
/// stored `Last-Modified` and that date is strong (a second or more before
/// the response's `Date`). Without `If-Range`, ranges are served.
pub fn if_range_holds(request: &HeaderMap, stored: &HeaderMap) -> bool {
    let Some(value) = request.get(http::header::IF_RANGE) else { return true };
    let text = value.to_str().unwrap_or("").trim();
    if text.starts_with('"') || text.starts_with("W/") {
        let stored = stored.get(http::header::ETAG).and_then(|value| EntityTag::parse_bytes(value.as_bytes()));
        return matches!((EntityTag::parse(text), stored), (Some(asked), Some(stored)) if asked.strong_eq(&stored));
    }
    let Ok(asked) = httpdate::parse_http_date(text) else { return false };
    match (fields::date(stored, "last-modified"), fields::date(stored, "date")) {
        (Some(Ok(modified)), Some(Ok(date))) => {
            modified == asked && date.duration_since(modified).is_ok_and(|gap| gap.as_secs() >= 1)
        }
        _ => false,
    }
}

/// The fields a `304` generated from a stored response carries (RFC 9110
/// §15.4.5): those a `200` would have sent that matter to caches, and
/// `Last-Modified` when there is no entity tag to validate with.
pub fn not_modified_fields(stored: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    let keep: &[&str] = if stored.contains_key(http::header::ETAG) {
        &["cache-control", "content-location", "date", "etag", "expires", "vary"]
    } else {
        &["cache-control", "content-location", "date", "expires", "vary", "last-modified"]
    };
    for (name, value) in stored {
        if keep.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LM: &str = "Tue, 01 Dec 2026 00:00:00 GMT";
    const BEFORE: &str = "Mon, 30 Nov 2026 00:00:00 GMT";
    const AFTER: &str = "Wed, 02 Dec 2026 00:00:00 GMT";

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, http::HeaderValue::from_static(value));
        }
        headers
    }

    fn eval(request: &[(&'static str, &'static str)], stored: &[(&'static str, &'static str)]) -> Precondition {
        evaluate(&Method::GET, &map(request), 200, &map(stored), SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn entity_tags_parse_leniently() {
        assert_eq!(EntityTag::parse("\"abc\""), Some(EntityTag { weak: false, opaque: b"abc".to_vec() }));
        assert_eq!(EntityTag::parse("W/\"abc\""), Some(EntityTag { weak: true, opaque: b"abc".to_vec() }));
        assert_eq!(EntityTag::parse("w/\"abc\""), Some(EntityTag { weak: true, opaque: b"abc".to_vec() }));
        assert_eq!(EntityTag::parse("abc"), Some(EntityTag { weak: false, opaque: b"abc".to_vec() }));
        assert_eq!(EntityTag::parse("\"\""), Some(EntityTag { weak: false, opaque: vec![] }));
        assert_eq!(EntityTag::parse("\"abc"), None);
    }

    #[test]
    fn if_none_match_compares_weakly_and_wins_over_if_modified_since() {
        let stored = [("etag", "\"abc\""), ("last-modified", LM)];
        assert_eq!(eval(&[("if-none-match", "\"abc\"")], &stored), Precondition::NotModified);
        assert_eq!(eval(&[("if-none-match", "W/\"abc\"")], &stored), Precondition::NotModified);
        assert_eq!(eval(&[("if-none-match", "\"x\", \"abc\", \"y\"")], &stored), Precondition::NotModified);
        assert_eq!(eval(&[("if-none-match", "*")], &stored), Precondition::NotModified);
        assert_eq!(eval(&[("if-none-match", "\"x\""), ("if-modified-since", AFTER)], &stored), Precondition::Proceed);
        let put =
            evaluate(&Method::PUT, &map(&[("if-none-match", "\"abc\"")]), 200, &map(&stored), SystemTime::UNIX_EPOCH);
        assert_eq!(put, Precondition::Failed);
    }

    #[test]
    fn if_modified_since_uses_last_modified_or_date() {
        assert_eq!(eval(&[("if-modified-since", LM)], &[("last-modified", LM)]), Precondition::NotModified);
        assert_eq!(eval(&[("if-modified-since", AFTER)], &[("last-modified", LM)]), Precondition::NotModified);
        assert_eq!(eval(&[("if-modified-since", BEFORE)], &[("last-modified", LM)]), Precondition::Proceed);
        assert_eq!(eval(&[("if-modified-since", AFTER)], &[("date", LM)]), Precondition::NotModified);
        assert_eq!(eval(&[("if-modified-since", "not a date")], &[("last-modified", LM)]), Precondition::Proceed);
    }

    #[test]
    fn if_match_and_if_unmodified_since_fail_with_412() {
        let stored = [("etag", "\"abc\""), ("last-modified", LM)];
        assert_eq!(eval(&[("if-match", "\"abc\"")], &stored), Precondition::Proceed);
        assert_eq!(eval(&[("if-match", "W/\"abc\"")], &stored), Precondition::Failed);
        assert_eq!(eval(&[("if-match", "\"zzz\"")], &stored), Precondition::Failed);
        assert_eq!(eval(&[("if-unmodified-since", BEFORE)], &stored), Precondition::Failed);
        assert_eq!(eval(&[("if-unmodified-since", AFTER)], &stored), Precondition::Proceed);
    }

    #[test]
    fn preconditions_leave_errors_alone() {
        let stored = map(&[("etag", "\"abc\"")]);
        let request = map(&[("if-none-match", "\"abc\"")]);
        assert_eq!(evaluate(&Method::GET, &request, 404, &stored, SystemTime::UNIX_EPOCH), Precondition::Proceed);
    }

    #[test]
    fn if_range_needs_a_strong_match() {
        let stored = map(&[("etag", "\"abc\""), ("last-modified", LM), ("date", AFTER)]);
        assert!(if_range_holds(&map(&[]), &stored));
        assert!(if_range_holds(&map(&[("if-range", "\"abc\"")]), &stored));
        assert!(!if_range_holds(&map(&[("if-range", "W/\"abc\"")]), &stored));
        assert!(!if_range_holds(&map(&[("if-range", "\"x\"")]), &stored));
        assert!(if_range_holds(&map(&[("if-range", LM)]), &stored));
        assert!(!if_range_holds(&map(&[("if-range", AFTER)]), &stored));
        assert!(!if_range_holds(&map(&[("if-range", LM)]), &map(&[("last-modified", LM), ("date", LM)])));
    }

    #[test]
    fn a_304_keeps_what_caches_need() {
        let stored = map(&[
            ("etag", "\"a\""),
            ("content-type", "text/plain"),
            ("cache-control", "max-age=1"),
            ("last-modified", LM),
        ]);
        let fields = not_modified_fields(&stored);
        assert!(fields.contains_key("etag") && fields.contains_key("cache-control"));
        assert!(!fields.contains_key("content-type") && !fields.contains_key("last-modified"));
    }
}
