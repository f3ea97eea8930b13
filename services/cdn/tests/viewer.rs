//! The viewer path end to end: a distribution over a loopback origin,
//! driven with a plain HTTP client.

mod support;

use std::time::Duration;

use nubo_cdn::site::Selection;
use support::{Answer, Edge, RawOrigin, client, error_response, header, site};

const TEXT: (&str, &str) = ("content-type", "text/plain");

#[tokio::test]
async fn a_miss_then_a_hit_with_cloudfront_s_fields() {
    let origin = RawOrigin::start().await;
    origin.set("/a", Answer::new(200, &[TEXT, ("cache-control", "max-age=600"), ("etag", "\"v1\"")], b"alpha"));
    let edge = Edge::start(site(origin.address)).await;
    let client = client();

    let first = client.get(edge.url("/a")).send().await.expect("a response");
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-cache"), "Miss from cloudfront");
    assert_eq!(header(&first, "cache-status"), "nubo-cdn; fwd=uri-miss; fwd-status=200; stored");
    assert_eq!(header(&first, "via"), "1.1 e2testdist0001.cloudfront.localhost (CloudFront)");
    assert_eq!(header(&first, "x-amz-cf-id").len(), 56);
    assert!(!header(&first, "x-amz-cf-pop").is_empty());
    assert_eq!(first.text().await.expect("a body"), "alpha");

    let second = client.get(edge.url("/a")).send().await.expect("a response");
    assert_eq!(header(&second, "x-cache"), "Hit from cloudfront");
    assert!(header(&second, "cache-status").starts_with("nubo-cdn; hit; ttl="), "{}", header(&second, "cache-status"));
    assert!(header(&second, "age").parse::<u64>().is_ok());
    assert_eq!(header(&second, "etag"), "\"v1\"");
    assert_eq!(second.text().await.expect("a body"), "alpha");
    assert_eq!(origin.hits("/a"), 1);

    let seen = &origin.seen("/a")[0];
    assert!(seen.header("x-forwarded-for").is_some_and(|value| value.ends_with("127.0.0.1")));
    assert!(seen.header("via").is_some_and(|value| value.contains("(CloudFront)")));
    assert!(seen.header("x-amz-cf-id").is_some());
}

#[tokio::test]
async fn the_cache_policy_decides_which_query_strings_make_the_key() {
    let origin = RawOrigin::start().await;
    origin.route("/q", |seen| {
        Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], format!("query={}", seen.query).as_bytes())
    });
    let mut site = site(origin.address);
    site.behaviors[0].cache.key.query_strings = Selection::Only(vec!["v".into()]);
    site.behaviors[0].forward.query_strings = Selection::None;
    let edge = Edge::start(site).await;
    let client = client();
    let body = |path: &'static str| {
        let client = client.clone();
        let url = edge.url(path);
        async move { client.get(url).send().await.expect("a response").text().await.expect("a body") }
    };
    assert_eq!(body("/q?v=1&utm=a").await, "query=v=1");
    assert_eq!(body("/q?v=2").await, "query=v=2");
    assert_eq!(
        body("/q?utm=b&v=1").await,
        "query=v=1",
        "parameters outside the key reach neither the key nor the origin"
    );
    assert_eq!(origin.hits("/q"), 2);
}

#[tokio::test]
async fn a_hundred_concurrent_misses_make_one_origin_request() {
    let origin = RawOrigin::start().await;
    origin.set(
        "/spike",
        Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], &vec![b'x'; 200_000])
            .after(Duration::from_millis(300)),
    );
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    let requests = (0..100).map(|_| {
        let request = client.get(edge.url("/spike")).send();
        async move {
            let response = request.await.expect("a response");
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("a body").len()
        }
    });
    let lengths = futures::future::join_all(requests).await;
    assert!(lengths.iter().all(|&length| length == 200_000));
    assert_eq!(origin.hits("/spike"), 1);
}

#[tokio::test]
async fn ranges_are_served_from_a_cached_whole_response() {
    let origin = RawOrigin::start().await;
    origin.set("/r", Answer::new(200, &[TEXT, ("cache-control", "max-age=600"), ("etag", "\"r1\"")], b"0123456789"));
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    assert_eq!(client.get(edge.url("/r")).send().await.expect("a response").status(), 200);
    let ranged = client.get(edge.url("/r")).header("range", "bytes=2-5").send().await.expect("a response");
    assert_eq!(ranged.status(), 206);
    assert_eq!(header(&ranged, "content-range"), "bytes 2-5/10");
    assert_eq!(header(&ranged, "x-cache"), "Hit from cloudfront");
    assert_eq!(ranged.text().await.expect("a body"), "2345");
    let suffix = client.get(edge.url("/r")).header("range", "bytes=-3").send().await.expect("a response");
    assert_eq!(suffix.text().await.expect("a body"), "789");
    let beyond = client.get(edge.url("/r")).header("range", "bytes=50-60").send().await.expect("a response");
    assert_eq!(beyond.status(), 416);
    assert_eq!(header(&beyond, "content-range"), "bytes */10");
    assert_eq!(origin.hits("/r"), 1);
}

#[tokio::test]
async fn a_range_miss_is_cut_from_the_origin_s_whole_response_and_that_is_stored() {
    let origin = RawOrigin::start().await;
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    origin.set(
        "/big",
        Answer::new(200, &[("content-type", "application/octet-stream"), ("cache-control", "max-age=600")], &body),
    );
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    let ranged = client.get(edge.url("/big")).header("range", "bytes=100000-100009").send().await.expect("a response");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.expect("a body").as_ref(), &body[100_000..100_010]);
    // The fill task stores the whole body after the viewer got its part.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let whole = client.get(edge.url("/big")).send().await.expect("a response");
    assert_eq!(header(&whole, "x-cache"), "Hit from cloudfront");
    assert_eq!(whole.bytes().await.expect("a body").as_ref(), &body[..]);
    assert_eq!(origin.hits("/big"), 1);
}

#[tokio::test]
async fn the_spa_fallback_serves_the_index_for_missing_paths() {
    let origin = RawOrigin::start().await;
    origin.set(
        "/index.html",
        Answer::new(200, &[("content-type", "text/html"), ("cache-control", "max-age=600")], b"<app/>"),
    );
    let mut site = site(origin.address);
    site.error_responses.insert(404, error_response(Some("/index.html"), Some(200), 30));
    site.error_responses.insert(403, error_response(Some("/index.html"), Some(200), 30));
    let edge = Edge::start(site).await;
    let client = client();
    for _ in 0..3 {
        let response = client.get(edge.url("/app/settings/profile")).send().await.expect("a response");
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type"), "text/html");
        assert_eq!(response.text().await.expect("a body"), "<app/>");
    }
    // The error is cached for its ErrorCachingMinTTL, the page for its own.
    assert_eq!(origin.hits("/app/settings/profile"), 1);
    assert_eq!(origin.hits("/index.html"), 1);
    let root = client.get(edge.url("/")).send().await.expect("a response");
    assert_eq!(root.text().await.expect("a body"), "<app/>", "the default root object");
}

#[tokio::test]
async fn an_error_without_freshness_is_cached_for_ten_seconds_by_default() {
    let origin = RawOrigin::start().await;
    origin.set("/gone", Answer::new(404, &[TEXT], b"not here"));
    origin.set("/bad", Answer::new(400, &[TEXT], b"bad"));
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    for _ in 0..2 {
        let response = client.get(edge.url("/gone")).send().await.expect("a response");
        assert_eq!(response.status(), 404);
        assert_eq!(header(&response, "x-cache"), "Error from cloudfront");
        let response = client.get(edge.url("/bad")).send().await.expect("a response");
        assert_eq!(response.status(), 400);
    }
    assert_eq!(origin.hits("/gone"), 1, "a 404 is cached");
    assert_eq!(origin.hits("/bad"), 2, "a 400 is cached only with max-age");
}

#[tokio::test]
async fn viewer_preconditions_are_answered_from_the_cache() {
    let origin = RawOrigin::start().await;
    let modified = "Tue, 01 Dec 2026 00:00:00 GMT";
    origin.set(
        "/c",
        Answer::new(
            200,
            &[TEXT, ("cache-control", "max-age=600"), ("etag", "\"c1\""), ("last-modified", modified)],
            b"conditional",
        ),
    );
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    client.get(edge.url("/c")).send().await.expect("a response");
    let by_tag = client.get(edge.url("/c")).header("if-none-match", "\"c1\"").send().await.expect("a response");
    assert_eq!(by_tag.status(), 304);
    assert_eq!(header(&by_tag, "etag"), "\"c1\"");
    let by_date = client.get(edge.url("/c")).header("if-modified-since", modified).send().await.expect("a response");
    assert_eq!(by_date.status(), 304);
    let precedence = client
        .get(edge.url("/c"))
        .header("if-none-match", "\"other\"")
        .header("if-modified-since", modified)
        .send()
        .await
        .expect("a response");
    assert_eq!(precedence.status(), 200, "If-None-Match wins over If-Modified-Since");
    let failed = client.get(edge.url("/c")).header("if-match", "\"other\"").send().await.expect("a response");
    assert_eq!(failed.status(), 412);
    assert_eq!(origin.hits("/c"), 1);
    assert!(origin.seen("/c")[0].header("if-none-match").is_none(), "the miss fetched the whole response");
}

#[tokio::test]
async fn a_stale_response_is_validated_and_freshened_by_a_304() {
    let origin = RawOrigin::start().await;
    origin.route("/v", |seen| {
        if seen.header("if-none-match") == Some("\"v1\"") {
            Answer::new(304, &[("cache-control", "max-age=600"), ("etag", "\"v1\""), ("x-version", "2")], b"")
        } else {
            Answer::new(
                200,
                &[TEXT, ("cache-control", "max-age=1"), ("etag", "\"v1\""), ("x-version", "1")],
                b"validated",
            )
        }
    });
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    client.get(edge.url("/v")).send().await.expect("a response");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = client.get(edge.url("/v")).send().await.expect("a response");
    assert_eq!(header(&refreshed, "x-cache"), "RefreshHit from cloudfront");
    assert_eq!(header(&refreshed, "x-version"), "2", "the 304's fields replace the stored ones");
    assert!(header(&refreshed, "cache-status").contains("fwd=stale; fwd-status=304"));
    assert_eq!(refreshed.text().await.expect("a body"), "validated");
    let after = client.get(edge.url("/v")).send().await.expect("a response");
    assert_eq!(header(&after, "x-cache"), "Hit from cloudfront", "the 304's max-age made it fresh again");
    assert_eq!(header(&after, "x-version"), "2");
    assert_eq!(origin.hits("/v"), 2);
}

#[tokio::test]
async fn malformed_origin_responses_are_502_and_never_stored() {
    let origin = RawOrigin::start().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("/both-lengths", b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec()),
        ("/bad-chunks", b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\ntransfer-encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n".to_vec()),
        ("/two-lengths", b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!".to_vec()),
        ("/short", b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\ncontent-length: 100\r\n\r\nonly ten b".to_vec()),
        ("/split", b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\nlocation: /x\rcontent-length: 0\r\n\r\n".to_vec()),
        ("/folded", b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\nx-folded: a\r\n b\r\ncontent-length: 2\r\n\r\nok".to_vec()),
        ("/not-http", b"SMTP ready\r\n\r\n".to_vec()),
    ];
    let mut huge = b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\n".to_vec();
    for index in 0..40 {
        huge.extend_from_slice(format!("x-filler-{index}: {}\r\n", "y".repeat(2000)).as_bytes());
    }
    huge.extend_from_slice(b"content-length: 2\r\n\r\nok");
    let cases: Vec<(&str, Vec<u8>)> = cases.into_iter().chain([("/huge", huge)]).collect();
    for (path, raw) in &cases {
        origin.set(path, Answer::raw(raw));
    }
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    for (path, _) in &cases {
        let response = client.get(edge.url(path)).send().await.expect("a response");
        assert_eq!(response.status(), 502, "{path}");
        assert_eq!(header(&response, "x-cache"), "Error from cloudfront", "{path}");
        assert!(
            header(&response, "cache-status").contains("detail=origin-malformed"),
            "{path}: {}",
            header(&response, "cache-status")
        );
    }
    // Nothing was stored: once the origin is well, its answer is fetched.
    for (path, _) in &cases {
        origin.set(path, Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], b"well"));
        let response = client.get(edge.url(path)).send().await.expect("a response");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.expect("a body"), "well", "{path}");
    }
}

#[tokio::test]
async fn a_split_response_never_answers_another_request() {
    let origin = RawOrigin::start().await;
    let split = b"HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncache-control: max-age=600\r\ncontent-length: 6\r\n\r\nPOISON";
    origin.set("/first", Answer { raw: split.to_vec(), delay: Duration::ZERO, close: false });
    origin.set("/second", Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], b"second"));
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    let first = client.get(edge.url("/first")).send().await.expect("a response");
    assert_eq!(first.text().await.expect("a body"), "hello");
    for _ in 0..3 {
        let second = client.get(edge.url("/second")).send().await.expect("a response");
        assert_eq!(second.text().await.expect("a body"), "second");
    }
    assert_eq!(origin.hits("/second"), 1);
}

#[tokio::test]
async fn a_malformed_revalidation_leaves_the_stored_response_serving() {
    let origin = RawOrigin::start().await;
    origin.set("/keep", Answer::new(200, &[TEXT, ("cache-control", "max-age=1"), ("etag", "\"k1\"")], b"kept"));
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    assert_eq!(client.get(edge.url("/keep")).send().await.expect("a response").text().await.expect("a body"), "kept");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    origin.set("/keep", Answer::raw(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\nbad"));
    for _ in 0..2 {
        let response = client.get(edge.url("/keep")).send().await.expect("a response");
        assert_eq!(response.status(), 200);
        assert!(header(&response, "cache-status").contains("fwd=stale"), "{}", header(&response, "cache-status"));
        assert_eq!(response.text().await.expect("a body"), "kept");
    }
}

#[tokio::test]
async fn a_slow_origin_times_out_with_504() {
    let origin = RawOrigin::start().await;
    origin.set("/slow", Answer::new(200, &[TEXT], b"late").after(Duration::from_secs(3)));
    let mut site = site(origin.address);
    let behavior = &mut site.behaviors[0];
    let mut slow = (*behavior.origin).clone();
    slow.read_timeout = Duration::from_millis(300);
    slow.connection_attempts = 2;
    behavior.origin = std::sync::Arc::new(slow);
    let edge = Edge::start(site).await;
    let started = std::time::Instant::now();
    let response = client().get(edge.url("/slow")).send().await.expect("a response");
    assert_eq!(response.status(), 504);
    assert_eq!(header(&response, "x-cache"), "Error from cloudfront");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(origin.hits("/slow"), 2, "GET is attempted as often as the origin's connection attempts");
}

#[tokio::test]
async fn an_unreachable_origin_is_502() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address");
    let edge = Edge::start(site(unused)).await;
    let response = client().get(edge.url("/x")).send().await.expect("a response");
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn unsafe_methods_invalidate_the_uri_and_its_locations() {
    let origin = RawOrigin::start().await;
    origin.set("/doc", Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], b"doc"));
    origin.set("/other", Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], b"other"));
    let edge = Edge::start(site(origin.address)).await;
    let other = format!("http://{}/other", edge.address);
    origin.route("/form", move |seen| {
        assert_eq!(seen.body, b"a=1");
        Answer::new(201, &[("location", "/doc"), ("content-location", other.as_str())], b"")
    });
    let client = client();
    for path in ["/doc", "/other"] {
        client.get(edge.url(path)).send().await.expect("a response");
        client.get(edge.url(path)).send().await.expect("a response");
    }
    let posted = client.post(edge.url("/form")).body("a=1").send().await.expect("a response");
    assert_eq!(posted.status(), 201);
    assert!(header(&posted, "cache-status").contains("fwd=method"));
    for path in ["/doc", "/other"] {
        client.get(edge.url(path)).send().await.expect("a response");
        assert_eq!(origin.hits(path), 2, "{path} was invalidated");
    }
}

#[tokio::test]
async fn head_is_answered_from_a_stored_get() {
    let origin = RawOrigin::start().await;
    origin.set("/h", Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], b"twelve bytes"));
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    client.get(edge.url("/h")).send().await.expect("a response");
    let head = client.head(edge.url("/h")).send().await.expect("a response");
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-length"), "12");
    assert_eq!(header(&head, "x-cache"), "Hit from cloudfront");
    assert_eq!(origin.hits("/h"), 1);
}

#[tokio::test]
async fn viewer_protocol_policies_redirect_or_refuse_plain_http() {
    let origin = RawOrigin::start().await;
    let mut site = site(origin.address);
    site.behaviors[0].viewer_protocol = nubo_cdn::site::ViewerProtocol::RedirectToHttps;
    let mut strict = support::behavior(origin.address);
    strict.path_pattern = Some("/secure/*".into());
    strict.viewer_protocol = nubo_cdn::site::ViewerProtocol::HttpsOnly;
    site.behaviors.insert(0, strict);
    let config = nubo_cdn::Config { https_port: 9443, ..nubo_cdn::Config::default() };
    let edge = Edge::start_with(site, config).await;
    let client = client();
    let redirected = client.get(edge.url("/page?x=1")).send().await.expect("a response");
    assert_eq!(redirected.status(), 301);
    assert_eq!(header(&redirected, "location"), "https://127.0.0.1:9443/page?x=1");
    let refused = client.get(edge.url("/secure/page")).send().await.expect("a response");
    assert_eq!(refused.status(), 403);
    assert_eq!(origin.hits("/page") + origin.hits("/secure/page"), 0);
}

#[tokio::test]
async fn unknown_hosts_and_disabled_distributions_get_403() {
    let origin = RawOrigin::start().await;
    let mut disabled = site(origin.address);
    disabled.enabled = false;
    let edge = Edge::start(disabled).await;
    let client = client();
    let response = client.get(edge.url("/")).send().await.expect("a response");
    assert_eq!(response.status(), 403);
    let response = client.get(edge.url("/")).header("host", "nobody.example").send().await.expect("a response");
    assert_eq!(response.status(), 403);
    assert_eq!(header(&response, "x-cache"), "Error from cloudfront");
}

#[tokio::test]
async fn vary_keeps_variants_apart() {
    let origin = RawOrigin::start().await;
    origin.route("/lang", |seen| {
        let language = seen.header("accept-language").unwrap_or("none").to_owned();
        Answer::new(200, &[TEXT, ("cache-control", "max-age=600"), ("vary", "Accept-Language")], language.as_bytes())
    });
    origin.set("/star", Answer::new(200, &[TEXT, ("cache-control", "max-age=600"), ("vary", "*")], b"star"));
    let edge = Edge::start(site(origin.address)).await;
    let client = client();
    let fetch = |language: &'static str| {
        let request = client.get(edge.url("/lang")).header("accept-language", language).send();
        async move { request.await.expect("a response").text().await.expect("a body") }
    };
    assert_eq!(fetch("en").await, "en");
    assert_eq!(fetch("fr").await, "fr");
    assert_eq!(fetch("en").await, "en");
    assert_eq!(fetch("fr").await, "fr");
    assert_eq!(origin.hits("/lang"), 2);
    client.get(edge.url("/star")).send().await.expect("a response");
    client.get(edge.url("/star")).send().await.expect("a response");
    assert_eq!(origin.hits("/star"), 2, "Vary: * is never reused");
}

#[tokio::test]
async fn a_restricted_behavior_refuses_unsigned_and_tampered_requests() {
    let origin = RawOrigin::start().await;
    origin.set("/private/report.pdf", Answer::new(200, &[TEXT, ("cache-control", "max-age=600")], b"secret"));
    let mut site = site(origin.address);
    let der = include_bytes!("../src/testdata/cloudfront-signer.spki.der").to_vec();
    let keys = nubo_cdn::site::TrustedKeys { keys: [("K2JCJMDEHXQW5F".to_owned(), der)].into_iter().collect() };
    site.behaviors[0].trusted_keys = Some(std::sync::Arc::new(keys));
    let edge = Edge::start(site).await;
    let client = client();
    let unsigned = client.get(edge.url("/private/report.pdf")).send().await.expect("a response");
    assert_eq!(unsigned.status(), 403);
    assert_eq!(header(&unsigned, "content-type"), "text/xml");
    assert!(unsigned.text().await.expect("a body").contains("<Code>MissingKey</Code>"));
    let tampered = client
        .get(edge.url("/private/report.pdf?Expires=4070908800&Signature=AAAA&Key-Pair-Id=K2JCJMDEHXQW5F"))
        .send()
        .await
        .expect("a response");
    assert_eq!(tampered.status(), 403);
    assert!(tampered.text().await.expect("a body").contains("<Code>AccessDenied</Code>"));
    assert_eq!(origin.hits("/private/report.pdf"), 0);
}

#[tokio::test]
async fn compressible_bodies_are_compressed_once_per_encoding_and_decode_to_the_origin_s() {
    use std::io::Read as _;
    let origin = RawOrigin::start().await;
    let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog. ".iter().copied().cycle().take(20_000).collect();
    origin.set(
        "/app.js",
        Answer::new(
            200,
            &[("content-type", "application/javascript"), ("cache-control", "max-age=600"), ("etag", "\"js1\"")],
            &text,
        ),
    );
    let mut site = site(origin.address);
    let behavior = &mut site.behaviors[0];
    behavior.compress = true;
    behavior.cache.key.gzip = true;
    behavior.cache.key.brotli = true;
    let edge = Edge::start(site).await;
    let client = client();
    for _ in 0..2 {
        let br =
            client.get(edge.url("/app.js")).header("accept-encoding", "gzip, br").send().await.expect("a response");
        assert_eq!(header(&br, "content-encoding"), "br");
        assert_eq!(header(&br, "etag"), "W/\"js1\"", "the compressed variant's tag is weak");
        let bytes = br.bytes().await.expect("a body");
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&bytes[..], 4096).read_to_end(&mut decoded).expect("brotli");
        assert_eq!(decoded, text);
        let gzip = client.get(edge.url("/app.js")).header("accept-encoding", "gzip").send().await.expect("a response");
        assert_eq!(header(&gzip, "content-encoding"), "gzip");
        let bytes = gzip.bytes().await.expect("a body");
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut decoded).expect("gzip");
        assert_eq!(decoded, text);
        let plain = client.get(edge.url("/app.js")).send().await.expect("a response");
        assert_eq!(header(&plain, "content-encoding"), "");
        assert_eq!(plain.bytes().await.expect("a body").as_ref(), &text[..]);
    }
    assert_eq!(origin.hits("/app.js"), 3, "one fetch per encoding in the key, then hits");
    let conditional = client
        .get(edge.url("/app.js"))
        .header("accept-encoding", "br")
        .header("if-none-match", "\"js1\"")
        .send()
        .await
        .expect("a response");
    assert_eq!(conditional.status(), 304, "a weak match answers If-None-Match");
}
