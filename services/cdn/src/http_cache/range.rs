//! Range requests (RFC 9110 §14) served from stored content, and partial
//! content stored and combined (RFC 9111 §3.3–3.4).
//!
//! CloudFront serves the whole representation (200) rather than 206 when
//! the ranges are not in ascending order, overlap, or are not all valid;
//! a request none of whose ranges is satisfiable gets 416.

use bytes::{Bytes, BytesMut};

/// One byte-range-spec, as requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `first-last`, both inclusive.
    FromTo(u64, u64),
    /// `first-`.
    From(u64),
    /// `-suffix`: the last `suffix` bytes.
    Suffix(u64),
}

/// What to do with a `Range` against a representation of known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Serve the whole representation.
    Full,
    /// Serve these inclusive byte ranges, in order.
    Ranges(Vec<(u64, u64)>),
    /// 416, with `Content-Range: bytes */length`.
    Unsatisfiable,
}

/// The ranges of a `Range` header; `None` when it is not a valid `bytes`
/// range set, which a cache answers as if there were no `Range`.
pub fn parse(value: &str) -> Option<Vec<Spec>> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for member in set.split(',') {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let (first, last) = member.split_once('-')?;
        let digits = |text: &str| -> Option<u64> {
            let text = text.trim();
            (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
        };
        let spec = match (first.trim().is_empty(), last.trim().is_empty()) {
            (true, true) => return None,
            (true, false) => Spec::Suffix(digits(last)?),
            (false, true) => Spec::From(digits(first)?),
            (false, false) => {
                let (first, last) = (digits(first)?, digits(last)?);
                if last < first {
                    return None;
                }
                Spec::FromTo(first, last)
            }
        };
        specs.push(spec);
    }
    (!specs.is_empty()).then_some(specs)
}

/// Resolves `specs` against a representation of `length` bytes.
pub fn resolve(specs: &[Spec], length: u64) -> Resolved {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut starts: Vec<u64> = Vec::new();
    for spec in specs {
        let requested_start = match *spec {
            Spec::FromTo(first, _) | Spec::From(first) => first,
            Spec::Suffix(suffix) => length.saturating_sub(suffix),
        };
        starts.push(requested_start);
        let range = match *spec {
            Spec::FromTo(first, last) if first < length => Some((first, last.min(length - 1))),
            Spec::From(first) if first < length => Some((first, length - 1)),
            Spec::Suffix(suffix) if suffix > 0 && length > 0 => Some((length.saturating_sub(suffix), length - 1)),
            _ => None,
        };
        if let Some(range) = range {
            ranges.push(range);
        }
    }
    // CloudFront's rule: ascending, non-overlapping ranges or the whole.
    if starts.windows(2).any(|pair| pair[1] < pair[0]) || ranges.windows(2).any(|pair| pair[1].0 <= pair[0].1) {
        return Resolved::Full;
    }
    if ranges.is_empty() {
        return Resolved::Unsatisfiable;
    }
    Resolved::Ranges(ranges)
}

/// A `Content-Range` of partial content: `bytes first-last/complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub first: u64,
    pub last: u64,
    /// `None` for `*`.
    pub complete: Option<u64>,
}

impl ContentRange {
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether it is the whole representation.
    pub fn is_whole(&self) -> bool {
        self.first == 0 && self.complete == Some(self.last + 1)
    }

    pub fn header(&self) -> String {
        match self.complete {
            Some(complete) => format!("bytes {}-{}/{complete}", self.first, self.last),
            None => format!("bytes {}-{}/*", self.first, self.last),
        }
    }
}

/// The `Content-Range` of a 206, if it is a valid byte range.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, complete) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
    };
    let (first, last) = (number(first.trim())?, number(last.trim())?);
    let complete = match complete.trim() {
        "*" => None,
        text => Some(number(text)?),
    };
    if last < first || complete.is_some_and(|complete| last >= complete) {
        return None;
    }
    Some(ContentRange { first, last, complete })
}

/// The `Content-Range` of an unsatisfiable request.
pub fn unsatisfied(length: u64) -> String {
    format!("bytes */{length}")
}

/// The bytes of `ranges` out of a stored piece covering `piece` (the whole
/// representation when `piece` covers it); `None` when the piece does not
/// hold every range.
pub fn slices(piece: ContentRange, body: &Bytes, ranges: &[(u64, u64)]) -> Option<Vec<Bytes>> {
    ranges
        .iter()
        .map(|&(first, last)| {
            if first < piece.first || last > piece.last {
                return None;
            }
            let start = usize::try_from(first - piece.first).ok()?;
            let end = usize::try_from(last - piece.first + 1).ok()?;
            (end <= body.len()).then(|| body.slice(start..end))
        })
        .collect()
}

/// Two pieces of one representation joined, when they overlap or touch
/// and agree on its length (RFC 9111 §3.4; the caller checks that their
/// validators match). The newer piece's bytes win where they overlap.
pub fn combine(older: (ContentRange, &Bytes), newer: (ContentRange, &Bytes)) -> Option<(ContentRange, Bytes)> {
    let ((old, old_body), (new, new_body)) = (older, newer);
    if old.complete != new.complete || old.len() != old_body.len() as u64 || new.len() != new_body.len() as u64 {
        return None;
    }
    if new.first > old.last.saturating_add(1) || old.first > new.last.saturating_add(1) {
        return None;
    }
    let first = old.first.min(new.first);
    let last = old.last.max(new.last);
    let mut out = BytesMut::with_capacity(usize::try_from(last - first + 1).ok()?);
    if old.first < new.first {
        out.extend_from_slice(&old_body[..usize::try_from(new.first - old.first).ok()?]);
    }
    out.extend_from_slice(new_body);
    if old.last > new.last {
        out.extend_from_slice(&old_body[usize::try_from(new.last + 1 - old.first).ok()?..]);
    }
    Some((ContentRange { first, last, complete: new.complete }, out.freeze()))
}

/// A `multipart/byteranges` body (RFC 9110 §14.6) of `parts`, each with its
/// range, and the `Content-Type` that names its boundary.
pub fn multipart(
    parts: &[((u64, u64), Bytes)],
    length: u64,
    content_type: Option<&str>,
    boundary: &str,
) -> (String, Bytes) {
    let mut out = BytesMut::new();
    for ((first, last), bytes) in parts {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        if let Some(content_type) = content_type {
            out.extend_from_slice(format!("content-type: {content_type}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("content-range: bytes {first}-{last}/{length}\r\n\r\n").as_bytes());
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/byteranges; boundary={boundary}"), out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_sets_parse() {
        assert_eq!(parse("bytes=0-5, 10-, -3"), Some(vec![Spec::FromTo(0, 5), Spec::From(10), Spec::Suffix(3)]));
        assert_eq!(parse("Bytes = 1-1"), Some(vec![Spec::FromTo(1, 1)]));
        for invalid in ["items=0-5", "bytes=5-1", "bytes=-", "bytes=a-b", "bytes=", "bytes=1-2-3", "0-5"] {
            assert_eq!(parse(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn ranges_resolve_against_the_length() {
        let resolve_text = |text: &str, length| resolve(&parse(text).unwrap_or_default(), length);
        assert_eq!(resolve_text("bytes=0-1", 11), Resolved::Ranges(vec![(0, 1)]));
        assert_eq!(resolve_text("bytes=1-", 11), Resolved::Ranges(vec![(1, 10)]));
        assert_eq!(resolve_text("bytes=-1", 11), Resolved::Ranges(vec![(10, 10)]));
        assert_eq!(resolve_text("bytes=-50", 11), Resolved::Ranges(vec![(0, 10)]));
        assert_eq!(resolve_text("bytes=5-500", 11), Resolved::Ranges(vec![(5, 10)]));
        assert_eq!(resolve_text("bytes=0-1,4-5", 11), Resolved::Ranges(vec![(0, 1), (4, 5)]));
        assert_eq!(resolve_text("bytes=20-30", 11), Resolved::Unsatisfiable);
        assert_eq!(resolve_text("bytes=-0", 11), Resolved::Unsatisfiable);
        assert_eq!(resolve_text("bytes=4-5,0-1", 11), Resolved::Full);
        assert_eq!(resolve_text("bytes=0-5,3-8", 11), Resolved::Full);
        assert_eq!(resolve_text("bytes=0-1,20-30", 11), Resolved::Ranges(vec![(0, 1)]));
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("bytes 4-9/10"), Some(ContentRange { first: 4, last: 9, complete: Some(10) }));
        assert_eq!(parse_content_range("bytes 0-4/*"), Some(ContentRange { first: 0, last: 4, complete: None }));
        assert_eq!(parse_content_range("bytes 4-10/10"), None);
        assert_eq!(parse_content_range("bytes */10"), None);
        assert!(parse_content_range("bytes 0-9/10").is_some_and(|range| range.is_whole()));
    }

    #[test]
    fn slices_come_from_the_piece_that_holds_them() {
        let piece = ContentRange { first: 4, last: 9, complete: Some(10) };
        let body = Bytes::from_static(b"456789");
        assert_eq!(slices(piece, &body, &[(6, 8)]), Some(vec![Bytes::from_static(b"678")]));
        assert_eq!(slices(piece, &body, &[(3, 5)]), None);
    }

    #[test]
    fn touching_pieces_combine_and_distant_ones_do_not() {
        let head = ContentRange { first: 0, last: 4, complete: Some(10) };
        let tail = ContentRange { first: 5, last: 9, complete: Some(10) };
        let (joined, body) = combine((head, &Bytes::from_static(b"01234")), (tail, &Bytes::from_static(b"56789")))
            .unwrap_or_else(|| panic!("combines"));
        assert!(joined.is_whole());
        assert_eq!(body, Bytes::from_static(b"0123456789"));
        let middle = ContentRange { first: 3, last: 6, complete: Some(10) };
        let (joined, body) = combine((head, &Bytes::from_static(b"01234")), (middle, &Bytes::from_static(b"abcd")))
            .unwrap_or_else(|| panic!("combines"));
        assert_eq!((joined.first, joined.last), (0, 6));
        assert_eq!(body, Bytes::from_static(b"012abcd"));
        let far = ContentRange { first: 7, last: 9, complete: Some(10) };
        assert!(combine((head, &Bytes::from_static(b"01234")), (far, &Bytes::from_static(b"789"))).is_none());
        let other_length = ContentRange { first: 5, last: 9, complete: Some(11) };
        assert!(
            combine((head, &Bytes::from_static(b"01234")), (other_length, &Bytes::from_static(b"56789"))).is_none()
        );
    }

    #[test]
    fn multipart_bodies_name_each_range() {
        let parts = [((0, 1), Bytes::from_static(b"01")), ((4, 5), Bytes::from_static(b"45"))];
        let (content_type, body) = multipart(&parts, 10, Some("text/plain"), "b0undary");
        assert_eq!(content_type, "multipart/byteranges; boundary=b0undary");
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("content-range: bytes 0-1/10\r\n\r\n01"));
        assert!(text.contains("content-range: bytes 4-5/10\r\n\r\n45"));
        assert!(text.ends_with("--b0undary--\r\n"));
    }
}
