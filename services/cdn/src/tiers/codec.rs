//! How the Redis tier lays out keys and values.
//!
//! One Redis hash per primary [`Key`], one field per variant (named by the
//! variant's `vary` selection), so `variants` is one `HGETALL`. The key
//! starts with the distribution and the path, so an invalidation finds
//! what it drops with `SCAN MATCH` on a prefix:
//!
//! ```text
//! nubo-cdn:1:{distribution}\n{path}\n{rest}
//! ```
//!
//! The distribution and the path escape `%` as `%25` and a newline as
//! `%0A`, so the separators are unambiguous and a path's prefix is still
//! a prefix of its key; `MATCH` patterns then escape glob's own
//! characters.
//!
//! A value is a version byte, when the variant stops being servable (Unix
//! milliseconds, big-endian), the length of the head, the head (the
//! entry's serde fields as JSON, so fields added to [`Entry`] flow
//! through) and the raw body: one copy of the body, no base64.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{Entry, Key};

/// The layout's version, in every key: a new layout starts afresh instead
/// of misreading the old one.
const KEY_PREFIX: &[u8] = b"nubo-cdn:1:";
/// The value format's version.
const VALUE_VERSION: u8 = 1;
const SEPARATOR: u8 = b'\n';

/// A variant as the Redis tier holds it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub entry: Entry,
    pub expires_at: SystemTime,
}

/// Appends `part` with the separator and `%` escaped; the escape is a
/// prefix code, so prefixes of `part` stay prefixes of the output.
fn push_escaped(out: &mut Vec<u8>, part: &str) {
    for &byte in part.as_bytes() {
        match byte {
            b'%' => out.extend_from_slice(b"%25"),
            SEPARATOR => out.extend_from_slice(b"%0A"),
            _ => out.push(byte),
        }
    }
}

/// The Redis key of the hash that holds `key`'s variants.
pub(crate) fn redis_key(key: &Key) -> Vec<u8> {
    let mut out = Vec::with_capacity(KEY_PREFIX.len() + key.distribution.len() + key.path.len() + key.rest.len() + 2);
    out.extend_from_slice(KEY_PREFIX);
    push_escaped(&mut out, &key.distribution);
    out.push(SEPARATOR);
    push_escaped(&mut out, &key.path);
    out.push(SEPARATOR);
    out.extend_from_slice(key.rest.as_bytes());
    out
}

/// The hash field that names a variant: its `vary` selection.
pub(crate) fn variant_field(entry: &Entry) -> Vec<u8> {
    serde_json::to_vec(&entry.vary).unwrap_or_default()
}

/// Escapes Redis glob's special characters so `literal` matches only
/// itself in a `MATCH` pattern.
fn push_glob_literal(out: &mut Vec<u8>, literal: &[u8]) {
    for &byte in literal {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\' | b'^') {
            out.push(b'\\');
        }
        out.push(byte);
    }
}

/// The `SCAN MATCH` pattern of the keys an invalidation path drops in
/// `distribution`: exact (`/a/b.html`, every query-string variant of it)
/// or a prefix (ending in `*`, as `/images/*` and `/*`).
pub(crate) fn invalidation_pattern(distribution: &str, path: &str) -> Vec<u8> {
    let mut literal = Vec::with_capacity(KEY_PREFIX.len() + distribution.len() + path.len() + 2);
    literal.extend_from_slice(KEY_PREFIX);
    push_escaped(&mut literal, distribution);
    literal.push(SEPARATOR);
    match path.strip_suffix('*') {
        Some(prefix) => push_escaped(&mut literal, prefix),
        None => {
            push_escaped(&mut literal, path);
            literal.push(SEPARATOR);
        }
    }
    let mut pattern = Vec::with_capacity(literal.len() + 8);
    push_glob_literal(&mut pattern, &literal);
    pattern.push(b'*');
    pattern
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// Encodes a variant; `None` only if its head does not serialize.
pub(crate) fn encode(entry: &Entry, expires_at: SystemTime) -> Option<Vec<u8>> {
    let head = serde_json::to_vec(entry).ok()?;
    let head_len = u32::try_from(head.len()).ok()?;
    let mut out = Vec::with_capacity(1 + 8 + 4 + head.len() + entry.body.len());
    out.push(VALUE_VERSION);
    out.extend_from_slice(&unix_millis(expires_at).to_be_bytes());
    out.extend_from_slice(&head_len.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&entry.body);
    Some(out)
}

/// Decodes a variant; `None` for another version or a damaged value,
/// which the tier then treats as absent.
pub(crate) fn decode(value: &[u8]) -> Option<Stored> {
    let (&version, rest) = value.split_first()?;
    if version != VALUE_VERSION {
        return None;
    }
    let (expires, rest) = rest.split_first_chunk::<8>()?;
    let (head_len, rest) = rest.split_first_chunk::<4>()?;
    let head_len = usize::try_from(u32::from_be_bytes(*head_len)).ok()?;
    if rest.len() < head_len {
        return None;
    }
    let (head, body) = rest.split_at(head_len);
    let mut entry: Entry = serde_json::from_slice(head).ok()?;
    entry.body = Bytes::copy_from_slice(body);
    let expires_at = UNIX_EPOCH.checked_add(Duration::from_millis(u64::from_be_bytes(*expires)))?;
    Some(Stored { entry, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(distribution: &str, path: &str, rest: &str) -> Key {
        Key { distribution: distribution.into(), path: path.into(), rest: rest.into() }
    }

    /// Redis's glob, as far as the patterns above use it: literals with
    /// backslash escapes and one trailing `*`.
    fn glob_matches(pattern: &[u8], subject: &[u8]) -> bool {
        let mut literal = Vec::new();
        let mut bytes = pattern.iter();
        while let Some(&byte) = bytes.next() {
            match byte {
                b'\\' => literal.push(*bytes.next().unwrap_or(&b'\\')),
                b'*' => return subject.starts_with(&literal),
                _ => literal.push(byte),
            }
        }
        subject == literal.as_slice()
    }

    #[test]
    fn patterns_match_exact_paths_and_prefixes_only() {
        let cases = [
            ("/a/b.html", "/a/b.html", "", true),
            ("/a/b.html", "/a/b.html", "q=1", true),
            ("/a/b.html", "/a/b.htmlx", "", false),
            ("/a/b*", "/a/b.html", "", true),
            ("/a/b*", "/a/c.html", "", false),
            ("/*", "/anything", "x", true),
            ("/what?[x]*", "/what?[x]/y", "", true),
            ("/what?[x]*", "/whatA[x]/y", "", false),
            ("/%*", "/%41", "", true),
            ("/%*", "/A", "", false),
            ("/a\n*", "/a\nb", "", true),
            ("/a", "/a\nb", "", false),
        ];
        for (invalidation, path, rest, expected) in cases {
            let pattern = invalidation_pattern("E1", invalidation);
            let subject = redis_key(&key("E1", path, rest));
            assert_eq!(glob_matches(&pattern, &subject), expected, "{invalidation:?} against {path:?}");
            let other = redis_key(&key("E12", path, rest));
            assert!(!glob_matches(&pattern, &other), "{invalidation:?} reaches another distribution");
        }
    }

    #[test]
    fn values_round_trip_and_damage_is_absence() {
        let entry = Entry {
            status: 200,
            headers: vec![("content-type".into(), b"text/plain".to_vec())],
            body: Bytes::from_static(b"hello"),
            request_time: UNIX_EPOCH + Duration::from_secs(10),
            response_time: UNIX_EPOCH + Duration::from_secs(11),
            vary: vec![("accept-encoding".into(), Some(b"gzip".to_vec()))],
        };
        let expires_at = UNIX_EPOCH + Duration::from_millis(123_456);
        let value = encode(&entry, expires_at).unwrap_or_default();
        let stored = decode(&value);
        assert!(stored.is_some());
        if let Some(stored) = stored {
            assert_eq!(stored.expires_at, expires_at);
            assert_eq!(stored.entry.body, entry.body);
            assert_eq!(stored.entry.headers, entry.headers);
            assert_eq!(stored.entry.vary, entry.vary);
            assert_eq!(stored.entry.response_time, entry.response_time);
        }
        for cut in 0..14 {
            assert!(decode(&value[..cut]).is_none());
        }
        let mut other_version = value.clone();
        other_version[0] = 2;
        assert!(decode(&other_version).is_none());
    }
}
