//! Edge compression as CloudFront documents it ("Serving compressed
//! files" in the CloudFront developer guide): gzip and Brotli, for the
//! content types CloudFront compresses, for bodies of 1,000 to 10,000,000
//! bytes whose size the origin stated in `Content-Length`, never for a
//! response the origin already encoded (whatever its `Content-Encoding`
//! says), Brotli whenever the viewer takes both.
//!
//! What the guide leaves to the HTTP RFCs follows them: `Accept-Encoding`
//! is read with its q-values (RFC 9110 §12.5.3: `q=0` refuses a coding,
//! `*` stands for every coding not named, `x-gzip` is `gzip`), and
//! `no-transform` (RFC 9111 §5.2.1.6, §5.2.2.6) keeps the content as it is.
//!
//! The caller keeps the rest of CloudFront's rules, which need more than
//! the header fields: compression only for the status codes
//! [`compressible_status`] names, no `Accept-Encoding` for HTTP/1.0
//! viewers (CloudFront drops the header), and the cache policy's
//! `EnableAcceptEncodingBrotli` (see [`normalize_for`] and
//! [`choose_among`]).

use std::io::Write as _;

use bytes::Bytes;
use http::{
    HeaderMap, HeaderValue,
    header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, VARY},
};

/// The smallest body CloudFront compresses.
pub const MIN_BYTES: u64 = 1_000;
/// The largest body CloudFront compresses.
pub const MAX_BYTES: u64 = 10_000_000;

/// Brotli quality 5 (of 0–11): on source text it compresses better than
/// gzip's best (14.2% against 16.7% of 10 MB) at gzip 6's speed, some
/// 45 MB/s on one core, so the largest body CloudFront compresses takes a
/// quarter of a second; quality 11, Brotli's default, is about sixty
/// times slower. The compressed variant is cached, so a miss pays once.
const BROTLI_QUALITY: i32 = 5;
/// Brotli's default window (4 MiB): more gains little on web content.
const BROTLI_WINDOW: i32 = 22;
/// zlib's own default level: within 1% of level 9's size at twice its
/// speed.
const GZIP_LEVEL: u32 = 6;

/// The content types CloudFront compresses, as its guide lists them
/// (media types only, lowercase; parameters such as `charset` are
/// ignored when matching).
pub const COMPRESSIBLE_TYPES: &[&str] = &[
    "application/dash+xml",
    "application/eot",
    "application/font",
    "application/font-sfnt",
    "application/javascript",
    "application/json",
    "application/opentype",
    "application/otf",
    "application/pkcs7-mime",
    "application/protobuf",
    "application/rss+xml",
    "application/truetype",
    "application/ttf",
    "application/vnd.apple.mpegurl",
    "application/vnd.ms-fontobject",
    "application/xhtml+xml",
    "application/xml",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "application/x-font-ttf",
    "application/x-httpd-cgi",
    "application/x-javascript",
    "application/x-mpegurl",
    "application/x-opentype",
    "application/x-otf",
    "application/x-perl",
    "application/x-ttf",
    "font/eot",
    "font/opentype",
    "font/otf",
    "font/ttf",
    "image/svg+xml",
    "text/css",
    "text/csv",
    "text/html",
    "text/javascript",
    "text/js",
    "text/plain",
    "text/richtext",
    "text/tab-separated-values",
    "text/xml",
    "text/x-component",
    "text/x-java-source",
    "text/x-script",
    "vnd.apple.mpegurl",
];

/// A coding the edge compresses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    /// The content-coding token (`Content-Encoding: br`).
    pub fn token(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
        }
    }
}

/// Which of the two codings a viewer takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Accepted {
    brotli: bool,
    gzip: bool,
}

/// Reads every `Accept-Encoding` field of `request` (RFC 9110 §12.5.3).
/// A coding is taken when named with a q-value above zero, or when not
/// named and `*` has one; an element whose q-value does not parse is
/// ignored, so nothing the viewer may have refused is sent. No field, or
/// an empty one, takes neither.
fn accepted(request: &HeaderMap) -> Accepted {
    let (mut brotli, mut gzip, mut any): (Option<bool>, Option<bool>, Option<bool>) = (None, None, None);
    for value in request.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for element in value.split(',') {
            let mut parts = element.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let Some(weight) = parts.map(str::trim).find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim().eq_ignore_ascii_case("q").then(|| parse_qvalue(value.trim()))
            }) else {
                record(coding, true, &mut brotli, &mut gzip, &mut any);
                continue;
            };
            if let Some(weight) = weight {
                record(coding, weight > 0, &mut brotli, &mut gzip, &mut any);
            }
        }
    }
    let any = any.unwrap_or(false);
    Accepted { brotli: brotli.unwrap_or(any), gzip: gzip.unwrap_or(any) }
}

/// Notes `coding`'s verdict; a coding named twice is taken if either
/// naming takes it.
fn record(coding: &str, taken: bool, brotli: &mut Option<bool>, gzip: &mut Option<bool>, any: &mut Option<bool>) {
    let slot = if coding.eq_ignore_ascii_case("br") {
        brotli
    } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
        gzip
    } else if coding == "*" {
        any
    } else {
        return;
    };
    *slot = Some(slot.unwrap_or(false) || taken);
}

/// An RFC 9110 qvalue (`0`, `0.5`, `1.000`) in thousandths; `None` when
/// malformed.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |sum, digit| sum * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The normalized `Accept-Encoding` CloudFront puts in the cache key and
/// sends to the origin when caching of both compressed formats is
/// enabled: `br,gzip`, `gzip`, `br`, or none when the viewer takes
/// neither (the origin then gets `Accept-Encoding: identity`).
pub fn normalize_accept_encoding(request: &HeaderMap) -> Option<&'static str> {
    normalize_for(request, true, true)
}

/// [`normalize_accept_encoding`] for a cache policy that enables caching
/// of gzip (`EnableAcceptEncodingGzip`) and of Brotli
/// (`EnableAcceptEncodingBrotli`) objects as given: a format the policy
/// does not enable is left out, as CloudFront leaves it out.
pub fn normalize_for(request: &HeaderMap, gzip: bool, brotli: bool) -> Option<&'static str> {
    let accepted = accepted(request);
    match (accepted.brotli && brotli, accepted.gzip && gzip) {
        (true, true) => Some("br,gzip"),
        (true, false) => Some("br"),
        (false, true) => Some("gzip"),
        (false, false) => None,
    }
}

/// Whether CloudFront compresses a response of this status: 200, 403 and
/// 404 only (a 206 is a part of a body, a 304 has none).
pub fn compressible_status(status: u16) -> bool {
    matches!(status, 200 | 403 | 404)
}

/// The coding to compress a response with, or `None` to send it as it is.
///
/// `body_len` is the length of the body in hand (`Some(0)` for a response
/// to HEAD, which has nothing to compress), or `None` while it is still
/// streaming from the origin; either way the size is the one the origin's
/// `Content-Length` states, and without one nothing is compressed.
pub fn choose(request: &HeaderMap, response: &HeaderMap, body_len: Option<u64>) -> Option<Coding> {
    choose_among(request, response, body_len, true)
}

/// [`choose`] for a behavior whose cache policy may not enable Brotli: with
/// `brotli` false, CloudFront compresses with gzip only.
pub fn choose_among(request: &HeaderMap, response: &HeaderMap, body_len: Option<u64>, brotli: bool) -> Option<Coding> {
    if response.contains_key(CONTENT_ENCODING) || no_transform(request) || no_transform(response) {
        return None;
    }
    if !response.get(CONTENT_TYPE).is_some_and(compressible_type) {
        return None;
    }
    let length = content_length(response)?;
    if !(MIN_BYTES..=MAX_BYTES).contains(&length) || body_len.is_some_and(|body| body != length) {
        return None;
    }
    let accepted = accepted(request);
    if accepted.brotli && brotli {
        Some(Coding::Brotli)
    } else if accepted.gzip {
        Some(Coding::Gzip)
    } else {
        None
    }
}

/// Whether `Content-Type`'s media type is one CloudFront compresses.
fn compressible_type(value: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else { return false };
    let media_type = value.split(';').next().unwrap_or_default().trim();
    COMPRESSIBLE_TYPES.iter().any(|listed| listed.eq_ignore_ascii_case(media_type))
}

/// The one length the response's `Content-Length` states; `None` when it
/// is absent, malformed, or states two lengths.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.to_str().ok()?.split(',') {
            let item = item.trim();
            if item.is_empty() || !item.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let parsed: u64 = item.parse().ok()?;
            if length.is_some_and(|seen| seen != parsed) {
                return None;
            }
            length = Some(parsed);
        }
    }
    length
}

/// Whether `Cache-Control` carries `no-transform`.
fn no_transform(headers: &HeaderMap) -> bool {
    headers.get_all(CACHE_CONTROL).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|directive| {
            directive.split('=').next().unwrap_or_default().trim().eq_ignore_ascii_case("no-transform")
        })
    })
}

/// `body` compressed with `coding`.
pub fn encode(coding: Coding, body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len() / 3 + 64);
    // Writing into a Vec cannot fail, so neither can either encoder.
    let _ = match coding {
        Coding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: BROTLI_WINDOW,
                size_hint: body.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params).map(drop)
        }
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(GZIP_LEVEL));
            encoder.write_all(body).and_then(|()| encoder.finish().map(drop))
        }
    };
    Bytes::from(out)
}

/// Makes a strong `ETag` weak (`"abc"` becomes `W/"abc"`), as CloudFront
/// does on the compressed variant so the viewer's conditional requests
/// match either variant; a weak one is kept, and one that is neither (it
/// starts with neither `"` nor `W/`) is removed.
pub fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(ETAG) else { return };
    let bytes = etag.as_bytes();
    if bytes.starts_with(b"W/") {
        return;
    }
    let weak = if bytes.starts_with(b"\"") {
        let mut weak = Vec::with_capacity(bytes.len() + 2);
        weak.extend_from_slice(b"W/");
        weak.extend_from_slice(bytes);
        HeaderValue::from_bytes(&weak).ok()
    } else {
        None
    };
    match weak {
        Some(weak) => {
            headers.insert(ETAG, weak);
        }
        None => {
            headers.remove(ETAG);
        }
    }
}

/// Adds `Accept-Encoding` to `Vary` unless `Vary` already names it or is
/// `*` (which already varies on everything).
pub fn vary_on_accept_encoding(headers: &mut HeaderMap) {
    let covered =
        headers.get_all(VARY).iter().filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(',')).any(
            |name| {
                let name = name.trim();
                name == "*" || name.eq_ignore_ascii_case("accept-encoding")
            },
        );
    if !covered {
        headers.append(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// Turns the header fields of an uncompressed response into those of its
/// `coding` variant of `compressed_len` bytes: `Content-Encoding`,
/// `Content-Length`, a weak `ETag` and `Vary: Accept-Encoding`.
pub fn mark_compressed(headers: &mut HeaderMap, coding: Coding, compressed_len: usize) {
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(compressed_len));
    weaken_etag(headers);
    vary_on_accept_encoding(headers);
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn viewer(accept_encoding: &str) -> HeaderMap {
        headers(&[("accept-encoding", accept_encoding)])
    }

    fn origin(content_type: &str, length: u64) -> HeaderMap {
        headers(&[("content-type", content_type), ("content-length", &length.to_string())])
    }

    fn text(length: usize) -> Vec<u8> {
        b"the quick brown fox jumps over the lazy dog, ".iter().copied().cycle().take(length).collect()
    }

    #[test]
    fn brotli_is_preferred_whenever_both_are_taken() {
        let response = origin("text/html", 5_000);
        assert_eq!(choose(&viewer("gzip, deflate, br"), &response, None), Some(Coding::Brotli));
        // CloudFront's normalized key (`br,gzip`) carries no q-values:
        // both taken means Brotli, whatever their weights.
        assert_eq!(choose(&viewer("gzip;q=1.0, br;q=0.1"), &response, None), Some(Coding::Brotli));
        assert_eq!(choose(&viewer("gzip"), &response, None), Some(Coding::Gzip));
        assert_eq!(choose(&viewer("x-gzip"), &response, None), Some(Coding::Gzip));
        assert_eq!(choose(&viewer("BR"), &response, None), Some(Coding::Brotli));
        assert_eq!(choose(&viewer("deflate, identity"), &response, None), None);
        assert_eq!(choose(&HeaderMap::new(), &response, None), None);
        assert_eq!(choose(&viewer(""), &response, None), None);
        // A policy without Brotli compresses with gzip.
        assert_eq!(choose_among(&viewer("br, gzip"), &response, None, false), Some(Coding::Gzip));
        assert_eq!(choose_among(&viewer("br"), &response, None, false), None);
    }

    #[test]
    fn q_values_refuse_and_the_wildcard_stands_for_the_rest() {
        let response = origin("application/json", 5_000);
        assert_eq!(choose(&viewer("br;q=0, gzip"), &response, None), Some(Coding::Gzip));
        assert_eq!(choose(&viewer("br; q=0.000, gzip;q=0"), &response, None), None);
        assert_eq!(choose(&viewer("*"), &response, None), Some(Coding::Brotli));
        assert_eq!(choose(&viewer("*;q=0.5, br;q=0"), &response, None), Some(Coding::Gzip));
        assert_eq!(choose(&viewer("*;q=0"), &response, None), None);
        assert_eq!(choose(&viewer("identity;q=0, gzip;q=0.001"), &response, None), Some(Coding::Gzip));
        // A weight that is not a qvalue takes nothing.
        assert_eq!(choose(&viewer("br;q=2, gzip;q=abc"), &response, None), None);
        assert_eq!(choose(&viewer("gzip;q=1.0001"), &response, None), None);
        // Several fields are one list.
        let mut split = viewer("gzip;q=0");
        split.append(ACCEPT_ENCODING, HeaderValue::from_static("br"));
        assert_eq!(choose(&split, &response, None), Some(Coding::Brotli));
    }

    #[test]
    fn qvalues_parse_as_rfc_9110_writes_them() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.125"), Some(125));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue(""), None);
        assert_eq!(parse_qvalue(".5"), None);
    }

    #[test]
    fn only_bodies_of_1000_to_10000000_bytes_are_compressed() {
        let request = viewer("gzip");
        assert_eq!(choose(&request, &origin("text/css", 999), None), None);
        assert_eq!(choose(&request, &origin("text/css", 1_000), None), Some(Coding::Gzip));
        assert_eq!(choose(&request, &origin("text/css", 10_000_000), None), Some(Coding::Gzip));
        assert_eq!(choose(&request, &origin("text/css", 10_000_001), None), None);
    }

    #[test]
    fn without_a_content_length_nothing_is_compressed() {
        let request = viewer("br");
        let chunked = headers(&[("content-type", "text/html"), ("transfer-encoding", "chunked")]);
        assert_eq!(choose(&request, &chunked, None), None);
        // Even with the body in hand: CloudFront decides on the header.
        assert_eq!(choose(&request, &chunked, Some(5_000)), None);
        let invalid = headers(&[("content-type", "text/html"), ("content-length", "5000x")]);
        assert_eq!(choose(&request, &invalid, None), None);
        let conflicting =
            headers(&[("content-type", "text/html"), ("content-length", "5000"), ("content-length", "6000")]);
        assert_eq!(choose(&request, &conflicting, None), None);
        let repeated = headers(&[("content-type", "text/html"), ("content-length", "5000, 5000")]);
        assert_eq!(choose(&request, &repeated, None), Some(Coding::Brotli));
    }

    #[test]
    fn a_body_that_disagrees_with_its_length_or_a_head_response_is_left_alone() {
        let request = viewer("gzip, br");
        let response = origin("text/html", 5_000);
        assert_eq!(choose(&request, &response, Some(5_000)), Some(Coding::Brotli));
        assert_eq!(choose(&request, &response, Some(4_999)), None);
        // HEAD: the Content-Length of a body that is not there.
        assert_eq!(choose(&request, &response, Some(0)), None);
    }

    #[test]
    fn an_origin_encoded_response_is_never_compressed_again() {
        let request = viewer("gzip, br");
        for encoding in ["gzip", "br", "identity", "whatever", ""] {
            let mut response = origin("text/html", 5_000);
            response.insert(CONTENT_ENCODING, HeaderValue::from_str(encoding).unwrap());
            assert_eq!(choose(&request, &response, None), None, "{encoding:?}");
        }
    }

    #[test]
    fn only_the_listed_types_are_compressed() {
        let request = viewer("gzip");
        for compressible in [
            "text/html; charset=utf-8",
            "Application/JSON",
            "image/svg+xml",
            "font/ttf",
            "vnd.apple.mpegurl",
            "text/plain;format=flowed",
        ] {
            assert_eq!(choose(&request, &origin(compressible, 5_000), None), Some(Coding::Gzip), "{compressible}");
        }
        for not in [
            "image/png",
            "application/octet-stream",
            "application/zip",
            "video/mp4",
            "text/htmlx",
            "application/wasm",
            "",
        ] {
            assert_eq!(choose(&request, &origin(not, 5_000), None), None, "{not}");
        }
        let untyped = headers(&[("content-length", "5000")]);
        assert_eq!(choose(&request, &untyped, None), None);
    }

    #[test]
    fn no_transform_keeps_the_content_as_it_is() {
        let request = viewer("gzip");
        let mut response = origin("text/html", 5_000);
        response.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=60, No-Transform"));
        assert_eq!(choose(&request, &response, None), None);
        let mut asking = viewer("gzip");
        asking.insert(CACHE_CONTROL, HeaderValue::from_static("no-transform"));
        assert_eq!(choose(&asking, &origin("text/html", 5_000), None), None);
    }

    #[test]
    fn status_codes_cloudfront_compresses() {
        assert!(compressible_status(200) && compressible_status(403) && compressible_status(404));
        for status in [201, 204, 206, 301, 304, 400, 500, 503] {
            assert!(!compressible_status(status), "{status}");
        }
    }

    #[test]
    fn the_cache_key_gets_the_normalized_header() {
        assert_eq!(normalize_accept_encoding(&viewer("gzip, deflate, br, zstd")), Some("br,gzip"));
        assert_eq!(normalize_accept_encoding(&viewer("br,gzip")), Some("br,gzip"));
        assert_eq!(normalize_accept_encoding(&viewer("gzip;q=0.8, sdch")), Some("gzip"));
        assert_eq!(normalize_accept_encoding(&viewer("br")), Some("br"));
        assert_eq!(normalize_accept_encoding(&viewer("deflate")), None);
        assert_eq!(normalize_accept_encoding(&viewer("identity")), None);
        assert_eq!(normalize_accept_encoding(&viewer("br;q=0, gzip;q=0")), None);
        assert_eq!(normalize_accept_encoding(&HeaderMap::new()), None);
        // A policy that caches only one format keys only on it.
        assert_eq!(normalize_for(&viewer("gzip, br"), true, false), Some("gzip"));
        assert_eq!(normalize_for(&viewer("gzip, br"), false, true), Some("br"));
        assert_eq!(normalize_for(&viewer("gzip"), false, true), None);
    }

    #[test]
    fn encoded_bodies_decode_to_the_input() {
        for length in [1_000, 64 * 1024, 1_000_000] {
            let body = text(length);
            let brotli = encode(Coding::Brotli, &body);
            assert!(brotli.len() < body.len() / 4, "br {} of {length}", brotli.len());
            let mut decoded = Vec::new();
            brotli::Decompressor::new(&brotli[..], 4096).read_to_end(&mut decoded).unwrap();
            assert_eq!(decoded, body);

            let gzip = encode(Coding::Gzip, &body);
            assert!(gzip.len() < body.len() / 4, "gzip {} of {length}", gzip.len());
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut decoded).unwrap();
            assert_eq!(decoded, body);
        }
        // Incompressible bytes still round-trip.
        let noise: Vec<u8> = (0u32..5_000).map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for coding in [Coding::Brotli, Coding::Gzip] {
            let encoded = encode(coding, &noise);
            let mut decoded = Vec::new();
            match coding {
                Coding::Brotli => brotli::Decompressor::new(&encoded[..], 4096).read_to_end(&mut decoded).unwrap(),
                Coding::Gzip => flate2::read::GzDecoder::new(&encoded[..]).read_to_end(&mut decoded).unwrap(),
            };
            assert_eq!(decoded, noise);
        }
    }

    #[test]
    fn a_strong_etag_becomes_weak_and_an_invalid_one_goes() {
        let mut strong = headers(&[("etag", "\"abc\"")]);
        weaken_etag(&mut strong);
        assert_eq!(strong.get(ETAG).unwrap(), "W/\"abc\"");
        let mut weak = headers(&[("etag", "W/\"abc\"")]);
        weaken_etag(&mut weak);
        assert_eq!(weak.get(ETAG).unwrap(), "W/\"abc\"");
        let mut invalid = headers(&[("etag", "abc")]);
        weaken_etag(&mut invalid);
        assert!(invalid.get(ETAG).is_none());
        let mut none = HeaderMap::new();
        weaken_etag(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn the_compressed_variant_varies_on_accept_encoding() {
        let mut fields = headers(&[
            ("content-type", "text/html"),
            ("content-length", "5000"),
            ("etag", "\"v1\""),
            ("vary", "Origin"),
        ]);
        mark_compressed(&mut fields, Coding::Brotli, 1234);
        assert_eq!(fields.get(CONTENT_ENCODING).unwrap(), "br");
        assert_eq!(fields.get(CONTENT_LENGTH).unwrap(), "1234");
        assert_eq!(fields.get(ETAG).unwrap(), "W/\"v1\"");
        let vary: Vec<_> = fields.get_all(VARY).iter().map(|value| value.to_str().unwrap()).collect();
        assert_eq!(vary, ["Origin", "Accept-Encoding"]);
        // Named already, or `*`: nothing added.
        for already in ["accept-encoding", "Origin, Accept-Encoding", "*"] {
            let mut fields = headers(&[("vary", already)]);
            vary_on_accept_encoding(&mut fields);
            assert_eq!(fields.get_all(VARY).iter().count(), 1, "{already}");
        }
        assert_eq!(Coding::Gzip.token(), "gzip");
        assert_eq!(Coding::Brotli.token(), "br");
    }
}
