//! Answering from the cache or the origin.
//!
//! A cacheable request looks in the tiers for a variant its `Vary` fields
//! select; a fresh one is a hit, a stale one in its
//! `stale-while-revalidate` window is served while a background request
//! validates it, any other is validated (or fetched anew) through single
//! flight, so concurrent requests for one key make one origin request.
//!
//! What the origin sends is relayed to the first viewer as it arrives: a
//! task reads the body, hands each piece to the viewer and, when the
//! response may be stored and fits `max_object_bytes`, keeps it; once the
//! body is whole it is published to the waiting requests and stored. A
//! response that cannot be kept releases the waiting requests at once to
//! fetch on their own. Only small bodies (the first read) are in hand
//! before the head goes out, so a malformed short response is still a
//! clean 502; a body that fails later cuts the viewer's connection, and
//! nothing of it is stored. Bodies that are compressed or replaced by a
//! custom error page are read whole first.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::{
    State, Viewer,
    key::{self, Hop},
    respond::{self, Body, Presented, Reply, XCache},
};
use crate::{
    coalesce::{Leader, Turn},
    compress,
    http_cache::{
        control::Directives,
        freshness, hop, invalidate,
        range::{self, Resolved},
        reuse::Assessment,
        status::{CacheStatus, Forward},
        storable, validate, vary,
    },
    origin::{Fetch, Fetched, OriginBody, OriginError, RequestBody},
    site::{Behavior, ErrorResponse, Site},
    tiers::{Entry, Key, Tiers},
};

/// How much of a body is read before the head goes to the viewer.
const PREFETCH_BYTES: usize = 64 * 1024;

/// A site and the index of the behavior serving a request.
#[derive(Clone, Copy)]
pub(crate) struct Route<'a> {
    pub site: &'a Arc<Site>,
    pub index: usize,
}

impl Route<'_> {
    fn behavior(&self) -> &Behavior {
        &self.site.behaviors[self.index]
    }
}

/// A stored response that is not fresh enough to serve as it is, and the
/// key it is stored under.
#[derive(Clone)]
struct Stale {
    entry: Arc<Entry>,
    headers: HeaderMap,
    assessment: Assessment,
    key: Key,
}

/// A request's cache keys. When the key carries the viewer's encodings
/// (`br,gzip`), a response that is not encoded and does not vary on
/// `Accept-Encoding` is the same for every viewer: it is stored under the
/// `plain` key, without the encodings, where viewers of any encoding find
/// it (a `Range` request, whose `Accept-Encoding` is `identity`, included).
/// Encoded responses stay under the `exact` key.
#[derive(Clone)]
struct Keys {
    exact: Key,
    plain: Option<Key>,
}

impl Keys {
    fn new(exact: Key) -> Self {
        let plain = key::without_encoding(&exact);
        Self { exact, plain }
    }

    /// Where a response with `headers` is stored.
    fn for_response(&self, headers: &HeaderMap) -> &Key {
        match &self.plain {
            Some(plain) if encoding_agnostic(headers) => plain,
            _ => &self.exact,
        }
    }
}

/// Not encoded, and not varying on `Accept-Encoding`.
fn encoding_agnostic(headers: &HeaderMap) -> bool {
    let encoded = crate::http_cache::fields::members(headers, "content-encoding")
        .iter()
        .any(|coding| !coding.eq_ignore_ascii_case("identity"));
    let varies = crate::http_cache::fields::members(headers, "vary")
        .iter()
        .any(|name| name.eq_ignore_ascii_case("accept-encoding") || *name == "*");
    !encoded && !varies
}

type Flight = Leader<Key, Arc<Entry>>;

/// The distribution's `ErrorCachingMinTTL` for `status`, if it sets one.
fn error_min_ttl(site: &Site, status: u16) -> Option<Duration> {
    site.error_responses.get(&status).map(|response| response.error_caching_min_ttl)
}

/// How the cache judges `entry` under `behavior` at `now`; `None` when
/// the behavior no longer lets it be cached.
fn assess(site: &Site, behavior: &Behavior, entry: &Entry, headers: &HeaderMap, now: SystemTime) -> Option<Assessment> {
    let status = if entry.status == 206 { 200 } else { entry.status };
    let directives = Directives::for_cdn(headers);
    let lifetime = freshness::lifetime(
        status,
        &directives,
        headers,
        &behavior.cache,
        error_min_ttl(site, entry.status),
        entry.response_time,
    )?;
    Some(Assessment::new(lifetime, headers, entry.request_time, entry.response_time, now))
}

/// The most recent variant whose `Vary` fields `presented` matches.
fn pick(variants: &[Arc<Entry>], presented: &HeaderMap) -> Option<Arc<Entry>> {
    variants
        .iter()
        .filter(|entry| vary::matches(&entry.vary, presented))
        .max_by_key(|entry| entry.response_time)
        .cloned()
}

fn age_secs(assessment: &Assessment) -> u64 {
    assessment.age.as_secs()
}

/// Answers a request whose method the behavior caches.
pub(crate) async fn cached(state: &State, route: Route<'_>, viewer: &Viewer) -> Reply {
    let behavior = route.behavior();
    let keys = Keys::new(key::cache_key(
        &route.site.id,
        &viewer.path,
        &viewer.query,
        &viewer.method,
        &viewer.headers,
        &behavior.cache.key,
    ));
    let mut variants = state.tiers.variants(&keys.exact).await;
    let mut found = pick(&variants, &viewer.presented).map(|entry| (entry, keys.exact.clone()));
    if found.is_none()
        && let Some(plain) = &keys.plain
    {
        let shared: Vec<Arc<Entry>> = state
            .tiers
            .variants(plain)
            .await
            .into_iter()
            .filter(|entry| {
                let headers = respond::entry_headers(entry);
                // An unencoded copy serves a viewer who accepts gzip or br
                // only where this behavior would not have compressed it for
                // them; otherwise their own fetch stores the compressed one.
                let spec = &behavior.cache.key;
                let would_compress = behavior.compress
                    && (spec.gzip || spec.brotli)
                    && compress::compressible_status(entry.status)
                    && compress::choose_among(&viewer.presented, &headers, None, spec.brotli).is_some();
                encoding_agnostic(&headers) && !would_compress
            })
            .collect();
        found = pick(&shared, &viewer.presented).map(|entry| (entry, plain.clone()));
        variants.extend(shared);
    }
    let now = SystemTime::now();
    let request = Directives::parse(&viewer.headers);
    let forward = if variants.is_empty() { Forward::UriMiss } else { Forward::VaryMiss };
    let Some((entry, stored_under)) = found else {
        if request.only_if_cached {
            return only_if_cached(forward);
        }
        return miss(state, route, viewer, keys, None, forward).await;
    };
    let headers = respond::entry_headers(&entry);
    let Some(assessment) = assess(route.site, behavior, &entry, &headers, now) else {
        return miss(state, route, viewer, keys, None, Forward::UriMiss).await;
    };
    if entry.status == 206 {
        if assessment.reusable(&request)
            && let Some(reply) = from_piece(viewer, &entry, &headers, &assessment)
        {
            return reply;
        }
        if request.only_if_cached {
            return only_if_cached(Forward::Partial);
        }
        let stale = Stale { entry, headers, assessment, key: stored_under };
        return miss(state, route, viewer, keys, Some(stale), Forward::Partial).await;
    }
    if assessment.reusable(&request) {
        let cache = CacheStatus::hit(assessment.ttl_left());
        return deliver(state, route, viewer, &entry, headers, Some(age_secs(&assessment)), cache, XCache::Hit).await;
    }
    if request.only_if_cached {
        return only_if_cached(Forward::Stale);
    }
    let stale = Stale { entry, headers, assessment, key: stored_under };
    if stale.assessment.while_revalidating() {
        spawn_refresh(state.clone(), route.site.clone(), route.index, viewer.clone(), stale.clone());
        let cache = CacheStatus { forward: Some(Forward::Stale), ..CacheStatus::hit(stale.assessment.ttl_left()) };
        let age = Some(age_secs(&stale.assessment));
        return deliver(state, route, viewer, &stale.entry, stale.headers, age, cache, XCache::Hit).await;
    }
    miss(state, route, viewer, keys, Some(stale), Forward::Stale).await
}

/// RFC 9111 §5.2.1.7: nothing stored to answer `only-if-cached` with.
fn only_if_cached(forward: Forward) -> Reply {
    let cache = CacheStatus { detail: Some("only-if-cached"), ..CacheStatus::forward(forward) };
    respond::generated(504, "The requested object is not in the cache.", cache)
}

/// A stored piece of partial content answering a range inside it.
fn from_piece(viewer: &Viewer, entry: &Entry, headers: &HeaderMap, assessment: &Assessment) -> Option<Reply> {
    let piece = headers
        .get(http::header::CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(range::parse_content_range)?;
    let specs = viewer.ranges.as_ref()?;
    if !crate::http_cache::conditional::if_range_holds(&viewer.headers, headers) {
        return None;
    }
    let length = piece.complete.unwrap_or(piece.last + 1);
    let Resolved::Ranges(ranges) = range::resolve(specs, length) else { return None };
    let presented = Presented {
        method: &viewer.method,
        request: &viewer.headers,
        status: 206,
        headers: headers.clone(),
        received: entry.response_time,
        age: Some(age_secs(assessment)),
        ranges: false,
    };
    respond::from_piece(presented, piece, &entry.body, &ranges, CacheStatus::hit(assessment.ttl_left()))
}

/// Serves a whole response (stored, or just fetched), or the custom error
/// page its status calls for.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    entry: &Entry,
    headers: HeaderMap,
    age: Option<u64>,
    cache: CacheStatus,
    x_cache: XCache,
) -> Reply {
    if let Some(page) = custom_page(route.site, entry.status, viewer) {
        return error_page(state, route.site, viewer, entry.status, page).await;
    }
    let presented = Presented {
        method: &viewer.method,
        request: &viewer.headers,
        status: entry.status,
        headers,
        received: entry.response_time,
        age,
        ranges: true,
    };
    respond::with_bytes(presented, entry.body.clone(), cache, x_cache)
}

/// The custom error response with a page that `status` calls for.
fn custom_page<'a>(site: &'a Site, status: u16, viewer: &Viewer) -> Option<&'a ErrorResponse> {
    if viewer.internal || status < 400 {
        return None;
    }
    site.error_responses.get(&status).filter(|response| response.response_page_path.is_some())
}

/// The custom error page for `status` (the SPA fallback): its page fetched
/// through the distribution like any request, and answered with the
/// configured status when it was found.
fn error_page<'a>(
    state: &'a State,
    site: &'a Arc<Site>,
    viewer: &'a Viewer,
    status: u16,
    page: &'a ErrorResponse,
) -> Pin<Box<dyn Future<Output = Reply> + 'a>> {
    Box::pin(async move {
        let path = page.response_page_path.clone().unwrap_or_default();
        let mut headers = viewer.headers.clone();
        for name in key::VIEWER_PRECONDITIONS.iter().chain(&["range"]) {
            headers.remove(*name);
        }
        let mut presented = viewer.presented.clone();
        presented.remove(http::header::RANGE);
        let internal = Viewer {
            method: if viewer.method == Method::HEAD { Method::HEAD } else { Method::GET },
            headers,
            presented,
            path: path.clone(),
            query: String::new(),
            ranges: None,
            internal: true,
            ..viewer.clone()
        };
        let index = super::behavior_index(site, &path);
        let mut reply = cached(state, Route { site, index }, &internal).await;
        if (200..300).contains(&reply.status) {
            reply.status = page.response_code.unwrap_or(status);
        }
        reply
    })
}

/// A miss, or a stale response to validate: one request per key goes to
/// the origin, the others wait for its response.
async fn miss(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    keys: Keys,
    stale: Option<Stale>,
    forward: Forward,
) -> Reply {
    if viewer.method == Method::HEAD {
        return fetch(state, route, viewer, keys, None, stale, forward).await;
    }
    match state.flights.join(&keys.exact) {
        Turn::Lead(leader) => fetch(state, route, viewer, keys, Some(leader), stale, forward).await,
        Turn::Follow(follower) => match follower.outcome().await {
            Some(entry) if vary::matches(&entry.vary, &viewer.presented) && entry.status != 206 => {
                let headers = respond::entry_headers(&entry);
                let assessment = assess(route.site, route.behavior(), &entry, &headers, SystemTime::now());
                let cache = CacheStatus {
                    collapsed: true,
                    ttl: assessment.as_ref().map(Assessment::ttl_left),
                    ..CacheStatus::forward(forward)
                };
                let age = assessment.as_ref().map(age_secs);
                deliver(state, route, viewer, &entry, headers, age, cache, XCache::Hit).await
            }
            _ => fetch(state, route, viewer, keys, None, stale, forward).await,
        },
    }
}

/// The origin request for a cacheable request: its path, query and
/// header as the policies select them.
fn origin_request(route: Route<'_>, viewer: &Viewer) -> Fetch {
    let behavior = route.behavior();
    let hop = Hop {
        domain_name: &route.site.domain_name,
        client_ip: viewer.client_ip,
        request_id: &viewer.request_id,
        cacheable: true,
        has_body: false,
    };
    let headers = key::origin_headers(&viewer.headers, behavior, &hop);
    let query = key::origin_query(&viewer.query, &behavior.cache.key.query_strings, &behavior.forward.query_strings);
    let path_and_query = if query.is_empty() { viewer.path.clone() } else { format!("{}?{query}", viewer.path) };
    Fetch { method: viewer.method.clone(), path_and_query, headers, body: RequestBody::Empty }
}

/// The range a stored piece starting at 0 lacks, to complete it with.
fn completion(stale: &Stale) -> Option<range::ContentRange> {
    let piece = stale
        .headers
        .get(http::header::CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(range::parse_content_range)?;
    (piece.first == 0 && piece.complete.is_some()).then_some(piece)
}

/// Fetches from the origin (conditionally when a stale response can be
/// validated) and answers.
fn fetch<'a>(
    state: &'a State,
    route: Route<'a>,
    viewer: &'a Viewer,
    keys: Keys,
    leader: Option<Flight>,
    stale: Option<Stale>,
    forward: Forward,
) -> Pin<Box<dyn Future<Output = Reply> + 'a>> {
    Box::pin(async move {
        let mut request = origin_request(route, viewer);
        let validating = stale.as_ref().is_some_and(|stale| stale.entry.status != 206 && stale.assessment.validatable);
        if validating && let Some(stale) = &stale {
            for (name, value) in validate::conditional_headers(&stale.headers) {
                request.headers.insert(name, value);
            }
        }
        let completing = match &stale {
            Some(stale) if stale.entry.status == 206 && viewer.ranges.is_none() && viewer.method == Method::GET => {
                completion(stale)
            }
            _ => None,
        };
        if let Some(piece) = completing
            && let Ok(value) = HeaderValue::from_str(&format!("bytes={}-", piece.last + 1))
        {
            request.headers.insert(http::header::RANGE, value);
        }
        let serves_on_error = |stale: &Option<Stale>| {
            stale.as_ref().filter(|stale| stale.entry.status != 206 && stale.assessment.serves_on_error()).cloned()
        };
        let fetched = match state.origins.fetch(&route.behavior().origin, request).await {
            Ok(fetched) => fetched,
            Err(error) => {
                drop(leader);
                tracing::debug!(distribution = %route.site.id, path = %viewer.path, error = %error, "origin failed");
                if let Some(stale) = serves_on_error(&stale) {
                    return stale_for_error(state, route, viewer, stale, error.detail()).await;
                }
                return failure(state, route, viewer, &error, forward).await;
            }
        };
        let latency = fetched.response_time.duration_since(fetched.request_time).ok();
        let mut reply = if fetched.status >= 500
            && let Some(stale) = serves_on_error(&stale)
        {
            drop(leader);
            stale_for_error(state, route, viewer, stale, "origin-error").await
        } else if fetched.status == 304
            && validating
            && let Some(stale) = stale
        {
            refreshed(state, route, viewer, keys, leader, stale, fetched, forward).await
        } else if let Some(piece) = completing
            && fetched.status == 206
            && let Some(stale) = &stale
        {
            completed(state, route, viewer, keys, leader, stale, piece, fetched, forward).await
        } else {
            received(state, route, viewer, keys, leader, fetched, forward).await
        };
        reply.origin_latency = reply.origin_latency.or(latency);
        reply
    })
}

/// A stale response standing in for an origin that failed.
async fn stale_for_error(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    stale: Stale,
    detail: &'static str,
) -> Reply {
    let cache = CacheStatus {
        forward: Some(Forward::Stale),
        detail: Some(detail),
        ..CacheStatus::hit(stale.assessment.ttl_left())
    };
    deliver(state, route, viewer, &stale.entry, stale.headers, Some(age_secs(&stale.assessment)), cache, XCache::Hit)
        .await
}

/// The error CloudFront answers when the origin fails (502, 504), or its
/// custom error page.
async fn failure(state: &State, route: Route<'_>, viewer: &Viewer, error: &OriginError, forward: Forward) -> Reply {
    let status = error.status();
    if let Some(page) = custom_page(route.site, status, viewer) {
        return error_page(state, route.site, viewer, status, page).await;
    }
    let cache = CacheStatus { detail: Some(error.detail()), ..CacheStatus::forward(forward) };
    respond::generated(status, &error.to_string(), cache)
}

/// A `304` to the cache's validation: the stored response freshened and
/// served, or fetched again when the `304` is about another one.
#[allow(clippy::too_many_arguments)]
async fn refreshed(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    keys: Keys,
    leader: Option<Flight>,
    stale: Stale,
    fetched: Fetched,
    forward: Forward,
) -> Reply {
    if !validate::selects(&stale.headers, &fetched.headers) {
        return fetch(state, route, viewer, keys, leader, None, forward).await;
    }
    let key = stale.key.clone();
    let entry = Arc::new(freshened(&stale.entry, &fetched.headers, fetched.request_time, fetched.response_time));
    let headers = respond::entry_headers(&entry);
    let now = SystemTime::now();
    let Some(assessment) = assess(route.site, route.behavior(), &entry, &headers, now) else {
        state.tiers.remove(&key).await;
        drop(leader);
        let cache = CacheStatus { forward_status: Some(304), ..CacheStatus::forward(forward) };
        return deliver(state, route, viewer, &entry, headers, None, cache, XCache::RefreshHit).await;
    };
    if let Some(leader) = &leader {
        leader.publish(entry.clone());
    }
    state.tiers.store(&key, entry.clone(), assessment.keep_for()).await;
    drop(leader);
    let cache = CacheStatus {
        forward_status: Some(304),
        ttl: Some(assessment.ttl_left()),
        stored: true,
        ..CacheStatus::forward(forward)
    };
    deliver(state, route, viewer, &entry, headers, Some(age_secs(&assessment)), cache, XCache::RefreshHit).await
}

/// `entry` with its header freshened by `update` and its clock reset to
/// the exchange that validated it.
fn freshened(entry: &Entry, update: &HeaderMap, request_time: SystemTime, response_time: SystemTime) -> Entry {
    Entry {
        status: entry.status,
        headers: validate::freshen(&entry.headers, update),
        body: entry.body.clone(),
        request_time,
        response_time,
        vary: entry.vary.clone(),
    }
}

/// The rest of a stored piece arrived: joined, stored, and the whole
/// served; if the pieces do not join, the whole is fetched anew.
#[allow(clippy::too_many_arguments)]
async fn completed(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    keys: Keys,
    leader: Option<Flight>,
    stale: &Stale,
    piece: range::ContentRange,
    fetched: Fetched,
    forward: Forward,
) -> Reply {
    let rest_range = fetched
        .headers
        .get(http::header::CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(range::parse_content_range);
    let same = strong_validators_match(&stale.headers, &fetched.headers);
    let body = match read_all(fetched.body, state.config.max_object_bytes).await {
        Ok(Some(body)) => body,
        _ => return fetch(state, route, viewer, keys, leader, None, forward).await,
    };
    let joined = rest_range.filter(|_| same).and_then(|rest| range::combine((piece, &stale.entry.body), (rest, &body)));
    let Some((_, body)) = joined.filter(|(whole, _)| whole.is_whole()) else {
        return fetch(state, route, viewer, keys, leader, None, forward).await;
    };
    let key = stale.key.clone();
    let mut headers = validate::freshen(&stale.entry.headers, &fetched.headers);
    headers.retain(|(name, _)| name != "content-range" && name != "content-length");
    let entry = Arc::new(Entry {
        status: 200,
        headers,
        body,
        request_time: fetched.request_time,
        response_time: fetched.response_time,
        vary: stale.entry.vary.clone(),
    });
    let headers = respond::entry_headers(&entry);
    let assessment = assess(route.site, route.behavior(), &entry, &headers, SystemTime::now());
    let mut cache = CacheStatus { forward_status: Some(206), ..CacheStatus::forward(forward) };
    if let Some(assessment) = &assessment {
        if let Some(leader) = &leader {
            leader.publish(entry.clone());
        }
        state.tiers.store(&key, entry.clone(), assessment.keep_for()).await;
        cache.stored = true;
    }
    drop(leader);
    deliver(state, route, viewer, &entry, headers, None, cache, XCache::Miss).await
}

/// Both heads carry the same strong entity tag (RFC 9111 §3.4).
fn strong_validators_match(a: &HeaderMap, b: &HeaderMap) -> bool {
    use crate::http_cache::conditional::EntityTag;
    let tag = |headers: &HeaderMap| {
        headers.get(http::header::ETAG).and_then(|value| EntityTag::parse_bytes(value.as_bytes()))
    };
    matches!((tag(a), tag(b)), (Some(a), Some(b)) if a.strong_eq(&b))
}

/// The head of what may be stored, until its body is whole.
#[derive(Clone)]
struct EntryHead {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    request_time: SystemTime,
    response_time: SystemTime,
    vary: vary::Selection,
}

impl EntryHead {
    fn with_body(self, body: Bytes) -> Entry {
        Entry {
            status: self.status,
            headers: self.headers,
            body,
            request_time: self.request_time,
            response_time: self.response_time,
            vary: self.vary,
        }
    }
}

/// A fresh response from the origin: stored when it may be, and served.
async fn received(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    keys: Keys,
    leader: Option<Flight>,
    mut fetched: Fetched,
    forward: Forward,
) -> Reply {
    let site = route.site;
    let behavior = route.behavior();
    let status = fetched.status;
    let directives = Directives::for_cdn(&fetched.headers);
    let as_status = if status == 206 { 200 } else { status };
    let selection = vary::select(&fetched.headers, &viewer.presented);
    let lifetime = freshness::lifetime(
        as_status,
        &directives,
        &fetched.headers,
        &behavior.cache,
        error_min_ttl(site, status),
        fetched.response_time,
    );
    let context = storable::Context {
        method: if viewer.method == Method::OPTIONS { &Method::GET } else { &viewer.method },
        request: &viewer.headers,
        policy_lifetime: !behavior.cache.min_ttl.is_zero() || !behavior.cache.default_ttl.is_zero(),
        overrides_no_store: !behavior.cache.min_ttl.is_zero(),
    };
    let piece_ok = status != 206
        || fetched
            .headers
            .get(http::header::CONTENT_RANGE)
            .and_then(|value| value.to_str().ok())
            .and_then(range::parse_content_range)
            .is_some();
    let mut storable = viewer.method != Method::HEAD
        && piece_ok
        && selection.is_some()
        && lifetime.is_some()
        && storable::storable(
            context,
            StatusCode::from_u16(as_status).unwrap_or(StatusCode::OK),
            &fetched.headers,
            &directives,
        );
    hop::strip(&mut fetched.headers);
    let key = keys.for_response(&fetched.headers).clone();
    let max = state.config.max_object_bytes;
    if fetched.body.expected_len().is_some_and(|length| length > max) {
        storable = false;
    }
    let head = EntryHead {
        status,
        headers: stored_fields(behavior, &fetched.headers, &directives),
        request_time: fetched.request_time,
        response_time: fetched.response_time,
        vary: selection.unwrap_or_default(),
    };
    let keep = lifetime
        .map(|lifetime| {
            let stored = head.clone().with_body(Bytes::new());
            Assessment::new(
                lifetime,
                &respond::entry_headers(&stored),
                stored.request_time,
                stored.response_time,
                stored.response_time,
            )
            .keep_for()
        })
        .unwrap_or_default();
    let leader = if storable { leader } else { None };
    let mut cache = CacheStatus {
        forward_status: Some(status),
        stored: storable && !keep.is_zero(),
        ..CacheStatus::forward(forward)
    };

    if viewer.method == Method::HEAD {
        let headers = head_update(state, route, viewer, &keys, &fetched).await.unwrap_or(fetched.headers);
        let presented = presented(viewer, status, headers, fetched.response_time);
        let length = fetched.body.announced_len();
        return respond::with_stream(presented, Box::pin(futures::stream::empty()), length, cache, XCache::Miss);
    }

    // Bodies the cache must have whole before answering: a custom error
    // page replaces them, or they are compressed.
    let coding = compression(behavior, viewer, status, &fetched);
    if custom_page(site, status, viewer).is_some() || coding.is_some() {
        let limit = if coding.is_some() { max.min(compress::MAX_BYTES) } else { max };
        let body = match read_all(fetched.body, limit).await {
            Ok(Some(body)) => body,
            Ok(None) => return respond::generated(502, "The origin's response is too large to transform.", cache),
            Err(error) => return failure(state, route, viewer, &error, forward).await,
        };
        let (entry, headers) = match coding {
            Some(coding) => compressed(behavior, head, &fetched.headers, &viewer.presented, &directives, coding, &body),
            None => (head.with_body(body), fetched.headers),
        };
        let entry = Arc::new(entry);
        if storable {
            if let Some(leader) = &leader {
                leader.publish(entry.clone());
            }
            // Where the variant as stored belongs: compressed, under the key
            // with the viewer's encodings.
            let key = keys.for_response(&headers);
            state.tiers.store(key, entry.clone(), keep).await;
        }
        drop(leader);
        return deliver(state, route, viewer, &entry, headers, None, cache, XCache::Miss).await;
    }

    let (prefix, done) = match prefetch(&mut fetched.body).await {
        Ok(read) => read,
        Err(error) => {
            drop(leader);
            return failure(state, route, viewer, &error, forward).await;
        }
    };
    if done {
        let body = concat(prefix);
        let entry = Arc::new(head.with_body(body));
        if storable && entry.body.len() as u64 <= max {
            if let Some(leader) = &leader {
                leader.publish(entry.clone());
            }
            state.tiers.store(&key, entry.clone(), keep).await;
        } else {
            cache.stored = false;
        }
        drop(leader);
        let presented = presented(viewer, status, fetched.headers, fetched.response_time);
        return respond::with_bytes(presented, entry.body.clone(), cache, XCache::Miss);
    }
    let length = fetched.body.expected_len();
    let filling = Fill { tiers: state.tiers.clone(), key, leader, head, keep, storing: storable, max };
    let stream = filling.spawn(prefix, fetched.body);
    let presented = presented(viewer, status, fetched.headers, fetched.response_time);
    respond::with_stream(presented, Box::pin(stream), length, cache, XCache::Miss)
}

/// A just-received response presented to the viewer that asked for it.
fn presented(viewer: &Viewer, status: u16, headers: HeaderMap, received: SystemTime) -> Presented<'_> {
    Presented { method: &viewer.method, request: &viewer.headers, status, headers, received, age: None, ranges: true }
}

/// The coding to compress a response with: the behavior compresses, its
/// cache policy keys on the viewer's encodings (CloudFront compresses only
/// the formats the policy caches), and `crate::compress` finds the
/// response compressible for this viewer.
fn compression(behavior: &Behavior, viewer: &Viewer, status: u16, fetched: &Fetched) -> Option<compress::Coding> {
    let spec = &behavior.cache.key;
    if !behavior.compress
        || !(spec.gzip || spec.brotli)
        || !compress::compressible_status(status)
        || viewer.ranges.is_some()
    {
        return None;
    }
    compress::choose_among(&viewer.presented, &fetched.headers, None, spec.brotli)
}

/// The compressed variant of a response: its body encoded and its header
/// marked as `crate::compress` marks it (`Content-Encoding`, a weak
/// `ETag`, `Vary: Accept-Encoding`).
fn compressed(
    behavior: &Behavior,
    head: EntryHead,
    headers: &HeaderMap,
    presented: &HeaderMap,
    directives: &Directives,
    coding: compress::Coding,
    body: &[u8],
) -> (Entry, HeaderMap) {
    let encoded = compress::encode(coding, body);
    let mut headers = headers.clone();
    compress::mark_compressed(&mut headers, coding, encoded.len());
    // It now varies on Accept-Encoding too.
    let vary = vary::select(&headers, presented).unwrap_or_else(|| head.vary.clone());
    let stored = EntryHead { headers: stored_fields(behavior, &headers, directives), vary, ..head };
    (stored.with_body(encoded), headers)
}

/// A `200` to a `HEAD` freshens the stored response to `GET` it matches,
/// or drops it when the representation changed (RFC 9111 §4.3.5); the
/// freshened header is what the `HEAD` is answered with.
async fn head_update(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    keys: &Keys,
    fetched: &Fetched,
) -> Option<HeaderMap> {
    if fetched.status != 200 {
        return None;
    }
    let mut found = None;
    for key in std::iter::once(&keys.exact).chain(keys.plain.as_ref()) {
        let variants = state.tiers.variants(key).await;
        if let Some(entry) = pick(&variants, &viewer.presented).filter(|entry| entry.status == 200) {
            found = Some((entry, key));
            break;
        }
    }
    let (entry, key) = found?;
    let stored = respond::entry_headers(&entry);
    match validate::head_outcome(&stored, &fetched.headers) {
        validate::HeadOutcome::Invalidate => {
            state.tiers.remove(key).await;
            None
        }
        validate::HeadOutcome::Freshen => {
            let entry = Arc::new(freshened(&entry, &fetched.headers, fetched.request_time, fetched.response_time));
            let headers = respond::entry_headers(&entry);
            match assess(route.site, route.behavior(), &entry, &headers, SystemTime::now()) {
                Some(assessment) => state.tiers.store(key, entry, assessment.keep_for()).await,
                None => state.tiers.remove(key).await,
            }
            Some(headers)
        }
    }
}

/// Reads the first part of a body: `done` when that was all of it.
async fn prefetch(body: &mut OriginBody) -> Result<(Vec<Bytes>, bool), OriginError> {
    let mut chunks = Vec::new();
    let mut size = 0;
    while size < PREFETCH_BYTES {
        match body.next().await {
            Some(Ok(chunk)) => {
                size += chunk.len();
                chunks.push(chunk);
            }
            Some(Err(error)) => return Err(error),
            None => return Ok((chunks, true)),
        }
    }
    Ok((chunks, false))
}

/// A whole body of at most `limit` bytes; `None` when it is larger.
async fn read_all(mut body: OriginBody, limit: u64) -> Result<Option<Bytes>, OriginError> {
    let mut out = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out.freeze()))
}

fn concat(chunks: Vec<Bytes>) -> Bytes {
    match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.into_iter().next().unwrap_or_default(),
        _ => {
            let mut out = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
            for chunk in chunks {
                out.extend_from_slice(&chunk);
            }
            out.freeze()
        }
    }
}

/// The task that reads a body for the viewer and, when it may, keeps it.
struct Fill {
    tiers: Tiers,
    key: Key,
    leader: Option<Flight>,
    head: EntryHead,
    keep: Duration,
    storing: bool,
    max: u64,
}

impl Fill {
    /// Starts reading; the viewer's stream is what it returns. A viewer
    /// that goes away does not stop a body being kept, for the requests
    /// waiting on it.
    fn spawn(self, prefix: Vec<Bytes>, body: OriginBody) -> impl futures::Stream<Item = Result<Bytes, OriginError>> {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, OriginError>>(16);
        tokio::spawn(self.run(prefix, body, sender));
        tokio_stream::wrappers::ReceiverStream::new(receiver)
    }

    async fn run(
        mut self,
        prefix: Vec<Bytes>,
        mut body: OriginBody,
        sender: tokio::sync::mpsc::Sender<Result<Bytes, OriginError>>,
    ) {
        let mut kept: Option<Vec<Bytes>> = self.storing.then(Vec::new);
        let mut size: u64 = 0;
        let mut viewer_open = true;
        let mut prefix = prefix.into_iter();
        loop {
            let chunk = match prefix.next() {
                Some(chunk) => chunk,
                None => match body.next().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(error)) => {
                        // Nothing of a broken body is kept; the waiting
                        // requests are released as the leader drops.
                        let _ = sender.send(Err(error)).await;
                        return;
                    }
                    None => break,
                },
            };
            if let Some(chunks) = &mut kept {
                size += chunk.len() as u64;
                if size > self.max {
                    kept = None;
                    self.leader = None;
                } else {
                    chunks.push(chunk.clone());
                }
            }
            if viewer_open && sender.send(Ok(chunk)).await.is_err() {
                viewer_open = false;
            }
            if !viewer_open && kept.is_none() {
                return;
            }
        }
        drop(sender);
        if let Some(chunks) = kept {
            let entry = Arc::new(self.head.with_body(concat(chunks)));
            if let Some(leader) = &self.leader {
                leader.publish(entry.clone());
            }
            self.tiers.store(&self.key, entry, self.keep).await;
        }
    }
}

/// Validates a response served stale within `stale-while-revalidate`,
/// off the viewer's path; one at a time per key.
fn spawn_refresh(state: State, site: Arc<Site>, index: usize, viewer: Viewer, stale: Stale) {
    tokio::spawn(async move {
        let key = stale.key.clone();
        let Turn::Lead(leader) = state.flights.join(&key) else { return };
        let route = Route { site: &site, index };
        let mut request = origin_request(route, &viewer);
        if stale.assessment.validatable {
            for (name, value) in validate::conditional_headers(&stale.headers) {
                request.headers.insert(name, value);
            }
        }
        let Ok(fetched) = state.origins.fetch(&route.behavior().origin, request).await else { return };
        let entry = if fetched.status == 304 && validate::selects(&stale.headers, &fetched.headers) {
            freshened(&stale.entry, &fetched.headers, fetched.request_time, fetched.response_time)
        } else if fetched.status == 200 {
            let directives = Directives::for_cdn(&fetched.headers);
            let Some(selection) = vary::select(&fetched.headers, &viewer.presented) else { return };
            let head = EntryHead {
                status: 200,
                headers: stored_fields(route.behavior(), &fetched.headers, &directives),
                request_time: fetched.request_time,
                response_time: fetched.response_time,
                vary: selection,
            };
            let context = storable::Context {
                method: &Method::GET,
                request: &viewer.headers,
                policy_lifetime: !route.behavior().cache.min_ttl.is_zero()
                    || !route.behavior().cache.default_ttl.is_zero(),
                overrides_no_store: !route.behavior().cache.min_ttl.is_zero(),
            };
            if !storable::storable(context, StatusCode::OK, &fetched.headers, &directives) {
                return;
            }
            match read_all(fetched.body, state.config.max_object_bytes).await {
                Ok(Some(body)) => head.with_body(body),
                _ => return,
            }
        } else {
            return;
        };
        let entry = Arc::new(entry);
        let headers = respond::entry_headers(&entry);
        if let Some(assessment) = assess(&site, route.behavior(), &entry, &headers, SystemTime::now()) {
            leader.publish(entry.clone());
            state.tiers.store(&key, entry, assessment.keep_for()).await;
        }
    });
}

/// Relays a request whose method is not cached (`POST`, `PUT`, ...) and
/// its body; a success invalidates what the cache holds for its URI and
/// the URIs its `Location` and `Content-Location` name (RFC 9111 §4.4).
pub(crate) async fn forward(
    state: &State,
    route: Route<'_>,
    viewer: &Viewer,
    payload: Option<actix_web::web::Payload>,
) -> Reply {
    let behavior = route.behavior();
    let hop = Hop {
        domain_name: &route.site.domain_name,
        client_ip: viewer.client_ip,
        request_id: &viewer.request_id,
        cacheable: false,
        has_body: payload.is_some(),
    };
    let headers = key::origin_headers(&viewer.headers, behavior, &hop);
    let query = key::origin_query(&viewer.query, &behavior.cache.key.query_strings, &behavior.forward.query_strings);
    let path_and_query = if query.is_empty() { viewer.path.clone() } else { format!("{}?{query}", viewer.path) };
    let body = match payload {
        Some(mut payload) => {
            let (sender, receiver) = tokio::sync::mpsc::channel(8);
            // The payload belongs to this worker's thread; it is relayed
            // from here as the origin takes it.
            actix_web::rt::spawn(async move {
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|error| std::io::Error::other(error.to_string()));
                    let failed = chunk.is_err();
                    if sender.send(chunk).await.is_err() || failed {
                        break;
                    }
                }
            });
            RequestBody::Stream(receiver)
        }
        None => RequestBody::Empty,
    };
    let request = Fetch { method: viewer.method.clone(), path_and_query, headers, body };
    let mut fetched = match state.origins.fetch(&behavior.origin, request).await {
        Ok(fetched) => fetched,
        Err(error) => return failure(state, route, viewer, &error, Forward::Method).await,
    };
    if invalidate::invalidates(&viewer.method, fetched.status) {
        invalidate_after(state, route, viewer, &fetched.headers).await;
    }
    hop::strip(&mut fetched.headers);
    let length = fetched.body.expected_len();
    let cache = CacheStatus { forward_status: Some(fetched.status), ..CacheStatus::forward(Forward::Method) };
    let body = Body::Stream { stream: Box::pin(fetched.body), length };
    let origin_latency = fetched.response_time.duration_since(fetched.request_time).ok();
    Reply { status: fetched.status, headers: fetched.headers, body, cache, x_cache: XCache::Miss, origin_latency }
}

/// Drops the stored responses an unsafe method's success makes unusable.
async fn invalidate_after(state: &State, route: Route<'_>, viewer: &Viewer, response: &HeaderMap) {
    let site = route.site;
    let mut targets = vec![invalidate::Target { path: viewer.path.clone(), query: Some(viewer.query.clone()) }];
    let origin_path = &route.behavior().origin.origin_path;
    for mut target in invalidate::located(&viewer.path, &viewer.host, response) {
        // The origin names its own paths, under the origin path.
        if !origin_path.is_empty()
            && let Some(rest) = target.path.strip_prefix(origin_path.as_str())
            && rest.starts_with('/')
        {
            target.path = rest.to_owned();
        }
        targets.push(target);
    }
    for target in targets {
        let behavior = &site.behaviors[super::behavior_index(site, &target.path)];
        let query = target.query.unwrap_or_default();
        for method in [Method::GET, Method::OPTIONS] {
            let keys = Keys::new(key::cache_key(
                &site.id,
                &target.path,
                &query,
                &method,
                &viewer.headers,
                &behavior.cache.key,
            ));
            state.tiers.remove(&keys.exact).await;
            if let Some(plain) = &keys.plain {
                state.tiers.remove(plain).await;
            }
        }
    }
}

/// The fields stored of a response under `behavior`: RFC 9111's, less
/// `Set-Cookie` where the cache key holds no cookies. There one stored copy
/// serves every viewer whatever cookies they send, and one viewer's
/// session must never be handed to the others; the viewer whose request
/// fetched it still gets it. Where cookies are in the key, the copy serves
/// only viewers who sent the same ones, and it is kept whole, as RFC 9111
/// asks.
fn stored_fields(behavior: &Behavior, headers: &HeaderMap, directives: &Directives) -> Vec<(String, Vec<u8>)> {
    let mut fields = hop::stored_fields(headers, directives);
    if behavior.cache.key.cookies == crate::site::Selection::None {
        fields.retain(|(name, _)| name != "set-cookie");
    }
    fields
}
