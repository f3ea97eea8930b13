//! Responses to viewers: a stored or just fetched response presented as
//! the request asks (its preconditions, its range, `HEAD`), the errors
//! CloudFront generates, and the fields CloudFront adds to every answer,
//! rendered once into actix's types.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::SystemTime,
};

use actix_web::{
    HttpResponse,
    body::{BodySize, MessageBody},
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Method};

use crate::{
    http_cache::{
        conditional::{self, Precondition},
        hop,
        range::{self, Resolved},
        status::CacheStatus,
    },
    origin::OriginError,
    tiers::Entry,
};

/// The name this cache gives itself in `Cache-Status`.
pub const CACHE_NAME: &str = "nubo-cdn";

/// The edge location in `X-Amz-Cf-Pop`.
pub const POP: &str = "LCL1-C1";

/// CloudFront's `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XCache {
    Hit,
    Miss,
    RefreshHit,
    Error,
    Redirect,
}

impl XCache {
    fn value(self) -> &'static str {
        match self {
            Self::Hit => "Hit from cloudfront",
            Self::Miss => "Miss from cloudfront",
            Self::RefreshHit => "RefreshHit from cloudfront",
            Self::Error => "Error from cloudfront",
            Self::Redirect => "Redirect from cloudfront",
        }
    }
}

pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, OriginError>>>>;

/// A body for a viewer.
pub enum Body {
    Empty,
    Bytes(Bytes),
    /// Relayed as it arrives; `length` when known.
    Stream {
        stream: ByteStream,
        length: Option<u64>,
    },
    /// The answer to a `HEAD`: no bytes, but the length a `GET` would have.
    Head(Option<u64>),
}

/// An answer before CloudFront's fields are added.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Body,
    pub cache: CacheStatus,
    pub x_cache: XCache,
    /// How long the origin took to answer, when it was asked.
    pub origin_latency: Option<std::time::Duration>,
}

/// A response's head and how old it is, as presented to one request.
pub struct Presented<'a> {
    pub method: &'a Method,
    pub request: &'a HeaderMap,
    pub status: u16,
    pub headers: HeaderMap,
    /// When it was received, for preconditions on its dates.
    pub received: SystemTime,
    /// The `Age` to send, when served from the cache.
    pub age: Option<u64>,
    /// Whether the request's `Range` is honoured.
    pub ranges: bool,
}

impl Presented<'_> {
    fn head(&mut self) {
        if let Some(age) = self.age {
            self.headers.insert(http::header::AGE, HeaderValue::from(age));
        }
    }

    /// Evaluates the request's preconditions; `Some` when they decide the
    /// answer (304 or 412) whatever the body.
    fn precondition(&self) -> Option<(u16, HeaderMap)> {
        match conditional::evaluate(self.method, self.request, self.status, &self.headers, self.received) {
            Precondition::Proceed => None,
            Precondition::NotModified => Some((304, conditional::not_modified_fields(&self.headers))),
            Precondition::Failed => Some((412, HeaderMap::new())),
        }
    }

    fn range_specs(&self) -> Option<Vec<range::Spec>> {
        if !self.ranges
            || *self.method != Method::GET
            || self.status != 200
            || !conditional::if_range_holds(self.request, &self.headers)
        {
            return None;
        }
        let value = self.request.get(http::header::RANGE)?.to_str().ok()?;
        range::parse(value)
    }
}

/// `presented` with a whole body in hand.
pub fn with_bytes(mut presented: Presented<'_>, body: Bytes, cache: CacheStatus, x_cache: XCache) -> Reply {
    presented.head();
    if let Some((status, mut headers)) = presented.precondition() {
        if let Some(age) = presented.headers.get(http::header::AGE) {
            headers.insert(http::header::AGE, age.clone());
        }
        return Reply { status, headers, body: Body::Empty, cache, x_cache, origin_latency: None };
    }
    let length = body.len() as u64;
    if *presented.method == Method::HEAD {
        return Reply {
            status: presented.status,
            headers: presented.headers,
            body: Body::Head(Some(length)),
            cache,
            x_cache,
            origin_latency: None,
        };
    }
    if let Some(specs) = presented.range_specs() {
        match range::resolve(&specs, length) {
            Resolved::Full => {}
            Resolved::Unsatisfiable => {
                let mut headers = presented.headers;
                headers.insert(http::header::CONTENT_RANGE, text(&range::unsatisfied(length)));
                headers.remove(http::header::CONTENT_TYPE);
                return Reply { status: 416, headers, body: Body::Empty, cache, x_cache, origin_latency: None };
            }
            Resolved::Ranges(ranges) => return ranged(presented.headers, &body, length, &ranges, cache, x_cache),
        }
    }
    Reply {
        status: presented.status,
        headers: presented.headers,
        body: Body::Bytes(body),
        cache,
        x_cache,
        origin_latency: None,
    }
}

/// A 206 of `ranges` out of a whole body.
fn ranged(
    mut headers: HeaderMap,
    body: &Bytes,
    length: u64,
    ranges: &[(u64, u64)],
    cache: CacheStatus,
    x_cache: XCache,
) -> Reply {
    let whole = range::ContentRange { first: 0, last: length.saturating_sub(1), complete: Some(length) };
    let Some(parts) = range::slices(whole, body, ranges) else {
        return Reply { status: 200, headers, body: Body::Bytes(body.clone()), cache, x_cache, origin_latency: None };
    };
    if let [(first, last)] = ranges {
        headers.insert(http::header::CONTENT_RANGE, text(&format!("bytes {first}-{last}/{length}")));
        return Reply {
            status: 206,
            headers,
            body: Body::Bytes(parts[0].clone()),
            cache,
            x_cache,
            origin_latency: None,
        };
    }
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let boundary = format!("{:016x}", rand::random::<u64>());
    let pieces: Vec<((u64, u64), Bytes)> = ranges.iter().copied().zip(parts).collect();
    let (multipart_type, multipart_body) = range::multipart(&pieces, length, content_type.as_deref(), &boundary);
    headers.insert(http::header::CONTENT_TYPE, text(&multipart_type));
    Reply { status: 206, headers, body: Body::Bytes(multipart_body), cache, x_cache, origin_latency: None }
}

/// A stored piece of partial content (`piece` its range) answering a
/// request for `ranges` inside it.
pub fn from_piece(
    mut presented: Presented<'_>,
    piece: range::ContentRange,
    body: &Bytes,
    ranges: &[(u64, u64)],
    cache: CacheStatus,
) -> Option<Reply> {
    let parts = range::slices(piece, body, ranges)?;
    let [(first, last)] = ranges else { return None };
    presented.head();
    let complete = piece.complete.map_or("*".to_owned(), |complete| complete.to_string());
    presented.headers.insert(http::header::CONTENT_RANGE, text(&format!("bytes {first}-{last}/{complete}")));
    let body = if *presented.method == Method::HEAD {
        Body::Head(Some(parts[0].len() as u64))
    } else {
        Body::Bytes(parts[0].clone())
    };
    Some(Reply { status: 206, headers: presented.headers, body, cache, x_cache: XCache::Hit, origin_latency: None })
}

/// `presented` with its body still arriving (`length` when announced):
/// ranges are cut from the stream when the length is known, as CloudFront
/// serves a whole chunked response.
pub fn with_stream(
    mut presented: Presented<'_>,
    stream: ByteStream,
    length: Option<u64>,
    cache: CacheStatus,
    x_cache: XCache,
) -> Reply {
    presented.head();
    if let Some((status, headers)) = presented.precondition() {
        return Reply { status, headers, body: Body::Empty, cache, x_cache, origin_latency: None };
    }
    if *presented.method == Method::HEAD {
        return Reply {
            status: presented.status,
            headers: presented.headers,
            body: Body::Head(length),
            cache,
            x_cache,
            origin_latency: None,
        };
    }
    if let (Some(specs), Some(length)) = (presented.range_specs(), length) {
        match range::resolve(&specs, length) {
            Resolved::Ranges(ranges) if ranges.len() == 1 => {
                let (first, last) = ranges[0];
                let mut headers = presented.headers;
                headers.insert(http::header::CONTENT_RANGE, text(&format!("bytes {first}-{last}/{length}")));
                let stream = Box::pin(slice(stream, first, last));
                return Reply {
                    status: 206,
                    headers,
                    body: Body::Stream { stream, length: Some(last - first + 1) },
                    cache,
                    x_cache,
                    origin_latency: None,
                };
            }
            Resolved::Unsatisfiable => {
                let mut headers = presented.headers;
                headers.insert(http::header::CONTENT_RANGE, text(&range::unsatisfied(length)));
                headers.remove(http::header::CONTENT_TYPE);
                return Reply { status: 416, headers, body: Body::Empty, cache, x_cache, origin_latency: None };
            }
            _ => {}
        }
    }
    Reply {
        status: presented.status,
        headers: presented.headers,
        body: Body::Stream { stream, length },
        cache,
        x_cache,
        origin_latency: None,
    }
}

/// The bytes `first..=last` of a stream.
fn slice(stream: ByteStream, first: u64, last: u64) -> impl Stream<Item = Result<Bytes, OriginError>> {
    let mut at = 0u64;
    stream.filter_map(move |chunk| {
        let out = match chunk {
            Err(error) => Some(Err(error)),
            Ok(bytes) => {
                let start = at;
                let end = at + bytes.len() as u64;
                at = end;
                if end <= first || start > last {
                    None
                } else {
                    let from = usize::try_from(first.saturating_sub(start)).unwrap_or(0);
                    let to = usize::try_from((last + 1).min(end) - start).unwrap_or(bytes.len());
                    Some(Ok(bytes.slice(from..to)))
                }
            }
        };
        std::future::ready(out)
    })
}

/// An entry's header as a map.
pub fn entry_headers(entry: &Entry) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(entry.headers.len());
    for (name, value) in &entry.headers {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    headers
}

fn text(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// An error CloudFront itself answers with: its HTML page.
pub fn generated(status: u16, reason: &str, cache: CacheStatus) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    let title = http::StatusCode::from_u16(status).ok().and_then(|status| status.canonical_reason()).unwrap_or("Error");
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n\
         <HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n\
         <TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n\
         <H1>{status} {title}</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n{}\n\
         <BR clear=\"all\">\n<HR noshade size=\"1px\">\n</BODY></HTML>",
        html_escape(reason)
    );
    Reply { status, headers, body: Body::Bytes(Bytes::from(body)), cache, x_cache: XCache::Error, origin_latency: None }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Who the answer is for, for CloudFront's fields.
pub struct Stamp<'a> {
    pub domain_name: &'a str,
    pub request_id: &'a str,
}

/// Adds CloudFront's fields to `reply`: `X-Cache`, `Via`, `X-Amz-Cf-Pop`,
/// `X-Amz-Cf-Id` and this cache's member of `Cache-Status` (after any
/// the origin's caches put there, RFC 9211 §2).
pub fn stamp(reply: &mut Reply, stamp: &Stamp<'_>) {
    hop::strip(&mut reply.headers);
    let x_cache = if reply.status >= 400 { XCache::Error } else { reply.x_cache };
    let headers = &mut reply.headers;
    headers.insert("x-cache", HeaderValue::from_static(x_cache.value()));
    headers.insert(http::header::VIA, text(&format!("1.1 {} (CloudFront)", stamp.domain_name)));
    headers.insert("x-amz-cf-pop", HeaderValue::from_static(POP));
    headers.insert("x-amz-cf-id", text(stamp.request_id));
    let ours = reply.cache.value(CACHE_NAME);
    let earlier: Vec<String> =
        headers.get_all("cache-status").iter().filter_map(|value| value.to_str().ok()).map(str::to_owned).collect();
    let value = if earlier.is_empty() { ours } else { format!("{}, {ours}", earlier.join(", ")) };
    headers.insert("cache-status", text(&value));
}

/// Renders `reply` as actix's response. The framing is actix's to write:
/// any `Content-Length` it had is replaced by the body's own length.
pub fn render(reply: Reply) -> HttpResponse {
    let status =
        actix_web::http::StatusCode::from_u16(reply.status).unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &reply.headers {
        if name == http::header::CONTENT_LENGTH {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            actix_web::http::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            actix_web::http::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    match reply.body {
        Body::Empty => builder.finish(),
        Body::Bytes(bytes) => builder.body(bytes),
        Body::Head(length) => builder.body(HeadBody(length)),
        Body::Stream { stream, length: Some(length) } => {
            builder.body(actix_web::body::SizedStream::new(length, stream))
        }
        Body::Stream { stream, length: None } => builder.streaming(stream),
    }
}

/// The body of an answer to `HEAD`: the length a `GET` would get, no bytes
/// (actix writes the length and sends no body for `HEAD`).
struct HeadBody(Option<u64>);

impl MessageBody for HeadBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        match self.0 {
            Some(length) => BodySize::Sized(length),
            None => BodySize::None,
        }
    }

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presented<'a>(method: &'a Method, request: &'a HeaderMap, headers: HeaderMap) -> Presented<'a> {
        Presented {
            method,
            request,
            status: 200,
            headers,
            received: SystemTime::UNIX_EPOCH,
            age: Some(5),
            ranges: true,
        }
    }

    fn map(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn bytes_of(reply: &Reply) -> Bytes {
        match &reply.body {
            Body::Bytes(bytes) => bytes.clone(),
            _ => Bytes::new(),
        }
    }

    #[test]
    fn whole_bodies_answer_ranges_and_preconditions() {
        let stored = map(&[("etag", "\"v1\""), ("content-type", "text/plain")]);
        let get = Method::GET;
        let body = Bytes::from_static(b"0123456789A");
        let request = map(&[("range", "bytes=-1")]);
        let reply =
            with_bytes(presented(&get, &request, stored.clone()), body.clone(), CacheStatus::hit(1), XCache::Hit);
        assert_eq!((reply.status, bytes_of(&reply)), (206, Bytes::from_static(b"A")));
        assert_eq!(reply.headers.get("content-range").map(|v| v.as_bytes()), Some(&b"bytes 10-10/11"[..]));
        assert_eq!(reply.headers.get("age").map(|v| v.as_bytes()), Some(&b"5"[..]));
        let request = map(&[("range", "bytes=0-1,4-5")]);
        let reply =
            with_bytes(presented(&get, &request, stored.clone()), body.clone(), CacheStatus::hit(1), XCache::Hit);
        assert_eq!(reply.status, 206);
        assert!(reply.headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"multipart/byteranges")));
        let request = map(&[("range", "bytes=50-")]);
        assert_eq!(
            with_bytes(presented(&get, &request, stored.clone()), body.clone(), CacheStatus::hit(1), XCache::Hit)
                .status,
            416
        );
        let request = map(&[("if-none-match", "\"v1\""), ("range", "bytes=0-1")]);
        let reply =
            with_bytes(presented(&get, &request, stored.clone()), body.clone(), CacheStatus::hit(1), XCache::Hit);
        assert_eq!(reply.status, 304);
        assert!(reply.headers.contains_key("etag") && reply.headers.contains_key("age"));
        let request = map(&[("range", "bytes=0-1"), ("if-range", "\"v0\"")]);
        assert_eq!(
            with_bytes(presented(&get, &request, stored.clone()), body.clone(), CacheStatus::hit(1), XCache::Hit)
                .status,
            200
        );
        let head = Method::HEAD;
        let reply = with_bytes(presented(&head, &HeaderMap::new(), stored), body, CacheStatus::hit(1), XCache::Hit);
        assert!(matches!(reply.body, Body::Head(Some(11))));
    }

    #[test]
    fn pieces_answer_the_ranges_they_hold() {
        let get = Method::GET;
        let request = map(&[("range", "bytes=6-8")]);
        let piece = range::ContentRange { first: 4, last: 9, complete: Some(10) };
        let body = Bytes::from_static(b"456789");
        let reply =
            from_piece(presented(&get, &request, HeaderMap::new()), piece, &body, &[(6, 8)], CacheStatus::hit(1));
        let reply = reply.unwrap_or_else(|| panic!("the piece holds 6-8"));
        assert_eq!((reply.status, bytes_of(&reply)), (206, Bytes::from_static(b"678")));
        assert!(
            from_piece(presented(&get, &request, HeaderMap::new()), piece, &body, &[(2, 8)], CacheStatus::hit(1))
                .is_none()
        );
    }

    #[tokio::test]
    async fn streams_are_cut_to_the_range() {
        let chunks: Vec<Result<Bytes, OriginError>> =
            vec![Ok(Bytes::from_static(b"0123")), Ok(Bytes::from_static(b"4567")), Ok(Bytes::from_static(b"89"))];
        let out: Vec<Bytes> = slice(Box::pin(futures::stream::iter(chunks)), 3, 8)
            .filter_map(|c| std::future::ready(c.ok()))
            .collect()
            .await;
        assert_eq!(out.concat(), b"345678".to_vec());
    }

    #[test]
    fn cloudfront_fields_are_stamped_on_every_answer() {
        let mut reply = generated(502, "the origin is down", CacheStatus::default());
        reply.headers.insert("connection", HeaderValue::from_static("close"));
        reply.headers.insert("cache-status", HeaderValue::from_static("origin-cache; hit"));
        stamp(&mut reply, &Stamp { domain_name: "e1.cloudfront.localhost", request_id: "abc==" });
        assert_eq!(reply.headers.get("x-cache").map(|v| v.as_bytes()), Some(&b"Error from cloudfront"[..]));
        assert_eq!(
            reply.headers.get("via").map(|v| v.as_bytes()),
            Some(&b"1.1 e1.cloudfront.localhost (CloudFront)"[..])
        );
        assert_eq!(reply.headers.get("cache-status").map(|v| v.as_bytes()), Some(&b"origin-cache; hit, nubo-cdn"[..]));
        assert!(!reply.headers.contains_key("connection"));
    }
}
