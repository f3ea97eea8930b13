//! Conditional requests and byte ranges, as S3 evaluates them.
//!
//! Reads (RFC 7232 with S3's documented pairings): a failed `If-Match`,
//! or a failed `If-Unmodified-Since` without an `If-Match`, is 412; a
//! matching `If-None-Match`, or an unmet `If-Modified-Since` without an
//! `If-None-Match`, is 304. Writes: `If-None-Match: *` refuses to replace
//! an object, `If-Match` requires the named one.

use std::ops::Range;

use nubo_host::front::AwsError;

use super::{Call, errors};
use crate::catalog::Version;

/// How a read's preconditions came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadCondition {
    Proceed,
    NotModified,
}

fn etag_matches(list: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    list.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == bare)
}

fn parse_http_date(value: &str) -> Option<i64> {
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    let since = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// Second precision, as HTTP dates carry it.
fn seconds(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(1000)
}

/// The preconditions of a GET or HEAD against the version found.
pub fn check_read(call: &Call<'_>, version: &Version) -> Result<ReadCondition, AwsError> {
    check_read_headers(
        call.header("if-match"),
        call.header("if-none-match"),
        call.header("if-modified-since"),
        call.header("if-unmodified-since"),
        version,
    )
}

/// The same, of a copy's `x-amz-copy-source-if-*` headers against its source.
pub fn check_copy_source(call: &Call<'_>, version: &Version) -> Result<(), AwsError> {
    match check_read_headers(
        call.header("x-amz-copy-source-if-match"),
        call.header("x-amz-copy-source-if-none-match"),
        call.header("x-amz-copy-source-if-modified-since"),
        call.header("x-amz-copy-source-if-unmodified-since"),
        version,
    )? {
        ReadCondition::Proceed => Ok(()),
        // A copy has nothing to answer 304 with: S3 answers 412.
        ReadCondition::NotModified => Err(errors::precondition_failed("x-amz-copy-source-If-None-Match")),
    }
}

fn check_read_headers(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    if_unmodified_since: Option<&str>,
    version: &Version,
) -> Result<ReadCondition, AwsError> {
    let modified = seconds(version.last_modified_unix_ms);
    match if_match {
        Some(list) if !etag_matches(list, &version.etag) => return Err(errors::precondition_failed("If-Match")),
        Some(_) => {}
        None => {
            if let Some(since) = if_unmodified_since.and_then(parse_http_date)
                && modified > seconds(since)
            {
                return Err(errors::precondition_failed("If-Unmodified-Since"));
            }
        }
    }
    match if_none_match {
        Some(list) if etag_matches(list, &version.etag) => return Ok(ReadCondition::NotModified),
        Some(_) => {}
        None => {
            if let Some(since) = if_modified_since.and_then(parse_http_date)
                && modified <= seconds(since)
            {
                return Ok(ReadCondition::NotModified);
            }
        }
    }
    Ok(ReadCondition::Proceed)
}

/// What a conditional write requires of the key's current object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCondition {
    /// `If-None-Match: *`: no current object.
    pub absent: bool,
    /// `If-Match`: the current object has this ETag.
    pub etag: Option<String>,
}

impl WriteCondition {
    pub fn from_call(call: &Call<'_>) -> Result<Self, AwsError> {
        let absent = match call.header("if-none-match").map(str::trim) {
            None => false,
            Some("*") => true,
            Some(_) => {
                return Err(errors::not_implemented("If-None-Match"));
            }
        };
        Ok(Self { absent, etag: call.header("if-match").map(|value| value.trim().to_owned()) })
    }

    pub fn is_set(&self) -> bool {
        self.absent || self.etag.is_some()
    }

    /// Checks the condition against the current object of the key.
    pub fn check(&self, key: &str, current: Option<&Version>) -> Result<(), AwsError> {
        if self.absent && current.is_some() {
            return Err(errors::precondition_failed("If-None-Match"));
        }
        if let Some(etag) = &self.etag {
            match current {
                None => return Err(errors::no_such_key(key)),
                Some(version) if !etag_matches(etag, &version.etag) => {
                    return Err(errors::precondition_failed("If-Match"));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// The outcome of a `Range` header against an object of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No range, or one S3 ignores (malformed, several ranges).
    Whole,
    Partial(Range<u64>),
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` as S3 does: a syntactically
/// valid range that no byte satisfies is `InvalidRange` (416); anything
/// else S3 cannot parse is ignored and the whole object served.
pub fn range(header: Option<&str>, size: u64) -> Result<RangeRequest, AwsError> {
    let Some(header) = header else { return Ok(RangeRequest::Whole) };
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(RangeRequest::Whole) };
    if spec.contains(',') {
        return Ok(RangeRequest::Whole);
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ok(RangeRequest::Whole) };
    let (first, last) = (first.trim(), last.trim());
    let unsatisfiable = || {
        AwsError::new(416, "InvalidRange", "The requested range is not satisfiable")
            .with("RangeRequested", header.to_owned())
            .with("ActualObjectSize", size.to_string())
    };
    let parse = |text: &str| text.parse::<u64>().ok();
    let range = match (first.is_empty(), last.is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => {
            let Some(suffix) = parse(last) else { return Ok(RangeRequest::Whole) };
            if suffix == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            size.saturating_sub(suffix)..size
        }
        (false, true) => {
            let Some(start) = parse(first) else { return Ok(RangeRequest::Whole) };
            if start >= size {
                return Err(unsatisfiable());
            }
            start..size
        }
        (false, false) => {
            let (Some(start), Some(end)) = (parse(first), parse(last)) else { return Ok(RangeRequest::Whole) };
            if end < start {
                return Ok(RangeRequest::Whole);
            }
            if start >= size {
                return Err(unsatisfiable());
            }
            start..end.saturating_add(1).min(size)
        }
        (true, true) => return Ok(RangeRequest::Whole),
    };
    Ok(RangeRequest::Partial(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(etag: &str, modified_ms: i64) -> Version {
        serde_json::from_value(serde_json::json!({
            "version_id": "null", "delete_marker": false, "last_modified_unix_ms": modified_ms,
            "size": 1, "etag": etag
        }))
        .unwrap()
    }

    #[test]
    fn ranges_parse_as_s3_reads_them() {
        assert_eq!(range(Some("bytes=0-4"), 10).unwrap(), RangeRequest::Partial(0..5));
        assert_eq!(range(Some("bytes=5-"), 10).unwrap(), RangeRequest::Partial(5..10));
        assert_eq!(range(Some("bytes=-3"), 10).unwrap(), RangeRequest::Partial(7..10));
        assert_eq!(range(Some("bytes=-30"), 10).unwrap(), RangeRequest::Partial(0..10));
        assert_eq!(range(Some("bytes=8-100"), 10).unwrap(), RangeRequest::Partial(8..10));
        assert_eq!(range(Some("bytes=10-"), 10).unwrap_err().status, 416);
        assert_eq!(range(Some("bytes=0-0"), 0).unwrap_err().code, "InvalidRange");
        assert_eq!(range(Some("bytes=5-1"), 10).unwrap(), RangeRequest::Whole);
        assert_eq!(range(Some("bytes=0-1,3-4"), 10).unwrap(), RangeRequest::Whole);
        assert_eq!(range(Some("items=0-1"), 10).unwrap(), RangeRequest::Whole);
        assert_eq!(range(None, 10).unwrap(), RangeRequest::Whole);
    }

    #[test]
    fn read_preconditions_pair_as_s3_documents() {
        let version = version("\"abc\"", 1_445_412_480_000);
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let earlier = "Wed, 21 Oct 2015 07:00:00 GMT";
        let check = |m, n, ms, us| check_read_headers(m, n, ms, us, &version);
        assert_eq!(check(Some("\"abc\""), None, None, None).unwrap(), ReadCondition::Proceed);
        assert_eq!(check(Some("abc"), None, None, None).unwrap(), ReadCondition::Proceed);
        assert_eq!(check(Some("\"x\""), None, None, None).unwrap_err().status, 412);
        // If-Match true wins over a failed If-Unmodified-Since.
        assert_eq!(check(Some("\"abc\""), None, None, Some(earlier)).unwrap(), ReadCondition::Proceed);
        assert_eq!(check(None, None, None, Some(earlier)).unwrap_err().status, 412);
        assert_eq!(check(None, Some("\"abc\""), None, None).unwrap(), ReadCondition::NotModified);
        assert_eq!(check(None, None, Some(date), None).unwrap(), ReadCondition::NotModified);
        assert_eq!(check(None, None, Some(earlier), None).unwrap(), ReadCondition::Proceed);
        // An If-None-Match that holds overrides If-Modified-Since.
        assert_eq!(check(None, Some("\"x\""), Some(date), None).unwrap(), ReadCondition::Proceed);
    }

    #[test]
    fn conditional_writes() {
        let current = version("\"abc\"", 0);
        let absent = WriteCondition { absent: true, etag: None };
        assert!(absent.check("k", None).is_ok());
        assert_eq!(absent.check("k", Some(&current)).unwrap_err().status, 412);
        let matching = WriteCondition { absent: false, etag: Some("\"abc\"".into()) };
        assert!(matching.check("k", Some(&current)).is_ok());
        assert_eq!(matching.check("k", None).unwrap_err().code, "NoSuchKey");
    }
}
