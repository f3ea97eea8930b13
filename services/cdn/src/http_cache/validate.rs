//! Validation (RFC 9111 §4.3): the conditional request a cache sends for a
//! stored response, and how a `304 Not Modified` (or a `200` to a `HEAD`)
//! freshens it.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{conditional::EntityTag, fields, hop};

/// The preconditions that ask the origin whether the stored response
/// (`stored`, its header) is still current: `If-None-Match` with its
/// entity tag (quoted if the origin sent it bare) and `If-Modified-Since`
/// with its `Last-Modified` (§4.3.1).
pub fn conditional_headers(stored: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    if let Some(etag) = stored.get(http::header::ETAG).and_then(|value| value.to_str().ok()) {
        let etag = etag.trim();
        let quoted =
            if etag.starts_with('"') || etag.starts_with("W/\"") { etag.to_owned() } else { format!("\"{etag}\"") };
        if let Ok(value) = HeaderValue::from_str(&quoted) {
            out.push((http::header::IF_NONE_MATCH, value));
        }
    }
    if let Some(Ok(_)) = fields::date(stored, "last-modified")
        && let Some(value) = stored.get(http::header::LAST_MODIFIED)
    {
        out.push((http::header::IF_MODIFIED_SINCE, value.clone()));
    }
    out
}

/// Whether a `304` (its header) is about the stored response (§4.3.4): an
/// entity tag must match the stored one (strongly if it is strong), else a
/// `Last-Modified` must equal it; without validators it is taken as about
/// the one response asked about.
pub fn selects(stored: &HeaderMap, not_modified: &HeaderMap) -> bool {
    let tag = |headers: &HeaderMap| {
        headers.get(http::header::ETAG).and_then(|value| value.to_str().ok()).and_then(EntityTag::parse)
    };
    match (tag(not_modified), tag(stored)) {
        (Some(new), Some(old)) => {
            if new.weak {
                new.weak_eq(&old)
            } else {
                new.strong_eq(&old)
            }
        }
        (Some(_), None) => false,
        (None, _) => match (fields::date(not_modified, "last-modified"), fields::date(stored, "last-modified")) {
            (Some(Ok(new)), Some(Ok(old))) => new == old,
            (Some(_), _) => false,
            (None, _) => true,
        },
    }
}

/// The stored fields after freshening with `update` (§3.2): every field
/// `update` carries replaces the stored lines of that name, except the
/// hop-by-hop ones and `Content-Length`, which describes the stored body.
/// A strong entity tag does not replace the weak form of itself, which the
/// cache gave a body it transformed.
pub fn freshen(stored: &[(String, Vec<u8>)], update: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    let listed = hop::connection_listed(update);
    let replaced = |name: &str| {
        update.contains_key(name)
            && !hop::is_hop_by_hop(name, &listed)
            && name != "content-length"
            && !keeps_weak_tag(stored, update, name)
    };
    let mut out: Vec<(String, Vec<u8>)> = stored.iter().filter(|(name, _)| !replaced(name)).cloned().collect();
    for (name, value) in update {
        if replaced(name.as_str()) {
            out.push((name.as_str().to_owned(), value.as_bytes().to_vec()));
        }
    }
    out
}

fn keeps_weak_tag(stored: &[(String, Vec<u8>)], update: &HeaderMap, name: &str) -> bool {
    if name != "etag" {
        return false;
    }
    let stored = stored
        .iter()
        .find(|(name, _)| name == "etag")
        .and_then(|(_, value)| std::str::from_utf8(value).ok())
        .and_then(EntityTag::parse);
    let new = update.get(http::header::ETAG).and_then(|value| value.to_str().ok()).and_then(EntityTag::parse);
    matches!((stored, new), (Some(stored), Some(new)) if stored.weak && !new.weak && stored.opaque == new.opaque)
}

/// What a `200` to a `HEAD` does to the stored response to `GET` (§4.3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadOutcome {
    /// Same representation: freshen the stored header with it.
    Freshen,
    /// The representation changed: the stored response is no longer usable.
    Invalidate,
}

/// Compares the validators and length of a `HEAD`'s `200` with the stored
/// response's.
pub fn head_outcome(stored: &HeaderMap, head: &HeaderMap) -> HeadOutcome {
    let differs = |name: &str| match (head.get(name), stored.get(name)) {
        (Some(new), Some(old)) => new != old,
        (Some(_), None) => true,
        _ => false,
    };
    if differs("etag") || differs("last-modified") || differs("content-length") {
        HeadOutcome::Invalidate
    } else {
        HeadOutcome::Freshen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn stored(lines: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        lines.iter().map(|(name, value)| (name.to_string(), value.as_bytes().to_vec())).collect()
    }

    #[test]
    fn validators_become_preconditions() {
        let headers = map(&[("etag", "abc"), ("last-modified", "Tue, 01 Dec 2026 00:00:00 GMT")]);
        let preconditions = conditional_headers(&headers);
        assert_eq!(preconditions[0], (http::header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\"")));
        assert_eq!(preconditions[1].0, http::header::IF_MODIFIED_SINCE);
        assert_eq!(conditional_headers(&map(&[("etag", "W/\"x\""), ("last-modified", "yesterday")])).len(), 1);
    }

    #[test]
    fn a_304_updates_what_it_carries_but_the_length() {
        let old = stored(&[
            ("etag", "\"a\""),
            ("test-header", "1"),
            ("content-length", "10"),
            ("x-kept", "k"),
            ("vary", "a"),
        ]);
        let update = map(&[
            ("etag", "\"a\""),
            ("test-header", "2"),
            ("content-length", "0"),
            ("connection", "close"),
            ("x-new", "n"),
        ]);
        let fresh = freshen(&old, &update);
        let get = |name: &str| {
            fresh
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("test-header"), vec!["2"]);
        assert_eq!(get("content-length"), vec!["10"]);
        assert_eq!(get("x-kept"), vec!["k"]);
        assert_eq!(get("x-new"), vec!["n"]);
        assert!(get("connection").is_empty());
        let weak = stored(&[("etag", "W/\"a\"")]);
        assert_eq!(freshen(&weak, &map(&[("etag", "\"a\"")])), weak);
    }

    #[test]
    fn a_304_must_be_about_the_stored_response() {
        assert!(selects(&map(&[("etag", "\"a\"")]), &map(&[("etag", "\"a\"")])));
        assert!(!selects(&map(&[("etag", "\"a\"")]), &map(&[("etag", "\"b\"")])));
        assert!(!selects(&map(&[("etag", "W/\"a\"")]), &map(&[("etag", "\"a\"")])));
        assert!(selects(&map(&[("etag", "\"a\"")]), &map(&[("etag", "W/\"a\"")])));
        assert!(selects(&map(&[("etag", "\"a\"")]), &map(&[])));
        let lm = "Tue, 01 Dec 2026 00:00:00 GMT";
        assert!(selects(&map(&[("last-modified", lm)]), &map(&[("last-modified", lm)])));
        assert!(!selects(&map(&[("last-modified", lm)]), &map(&[("last-modified", "Wed, 02 Dec 2026 00:00:00 GMT")])));
    }

    #[test]
    fn a_head_changes_or_freshens() {
        let stored = map(&[("etag", "\"a\""), ("content-length", "5")]);
        assert_eq!(head_outcome(&stored, &map(&[("etag", "\"a\""), ("x", "1")])), HeadOutcome::Freshen);
        assert_eq!(head_outcome(&stored, &map(&[("etag", "\"b\"")])), HeadOutcome::Invalidate);
        assert_eq!(head_outcome(&stored, &map(&[("content-length", "6")])), HeadOutcome::Invalidate);
    }
}
