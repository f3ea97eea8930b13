//! CloudFront end to end: distributions made with `aws-sdk-cloudfront`
//! through the edge, fetched by a plain HTTP client that reaches them by
//! `Host` (no DNS), over an origin the test runs and over nubo's own
//! website bucket and HTTP API.

use std::{io::Read, time::Duration};

use aws_sdk_cloudfront::types::{PublicKeyConfig, TrustedKeyGroups, ViewerProtocolPolicy};
use bytes::Bytes;
use nubo_e2e::{
    Nubo, ServiceName,
    cdn::{Origin, Resource},
    cloudfront::{
        ALL_VIEWER_EXCEPT_HOST_HEADER, CACHING_DISABLED, CACHING_OPTIMIZED,
        USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS, behavior, create, default_behavior, distribution,
        error_responses, header, http_origin, invalidate, viewer, wait_invalidated,
    },
    cloudfront_client,
};

fn address_of(url: &str) -> std::net::SocketAddr {
    url.trim_start_matches("http://").trim_start_matches("https://").parse().unwrap()
}

/// Text that compresses well and is over CloudFront's 1,000-byte floor.
fn script() -> String {
    (0..400).map(|line| format!("console.log('line {line} of the app');\n")).collect()
}

/// 200 KiB of bytes that do not repeat in any short period.
fn binary() -> Bytes {
    let mut state = 0x2545_f491u32;
    (0..200 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect::<Vec<_>>()
        .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_distribution_caches_coalesces_compresses_and_invalidates() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let origin = Origin::start([
        ("/page.html", Resource::cacheable("text/html", "<h1>cached</h1>", 300)),
        ("/app.js", Resource::cacheable("application/javascript", script(), 300)),
        ("/big.bin", Resource::cacheable("application/octet-stream", binary(), 300)),
        ("/slow.txt", Resource::cacheable("text/plain", "worth the wait", 300).delayed(Duration::from_millis(500))),
    ])
    .await;
    let cloudfront = cloudfront_client(&nubo.edge_url());
    let config = distribution(
        "caches",
        vec![http_origin("app", &origin.host(), origin.port())],
        default_behavior("app", CACHING_OPTIMIZED),
        vec![behavior("/echo*", "app", USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS).build().unwrap()],
        &[],
    )
    .build()
    .unwrap();
    let (id, domain) = create(&cloudfront, config).await;
    assert_eq!(domain, format!("{}.cloudfront.localhost", id.to_ascii_lowercase()));
    let cdn = nubo.http_url(ServiceName::Cdn);
    let client = viewer(address_of(&cdn), &[&domain]);
    let port = address_of(&cdn).port();
    let url = |path: &str| format!("http://{domain}:{port}{path}");

    // A miss, then a hit: the origin sees one request.
    let first = client.get(url("/page.html")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-cache"), "Miss from cloudfront");
    assert!(header(&first, "cache-status").contains("fwd="), "{}", header(&first, "cache-status"));
    assert!(header(&first, "via").ends_with(&format!("{domain} (CloudFront)")), "{}", header(&first, "via"));
    assert!(!header(&first, "x-amz-cf-id").is_empty());
    assert_eq!(first.text().await.unwrap(), "<h1>cached</h1>");
    let second = client.get(url("/page.html")).send().await.unwrap();
    assert_eq!(header(&second, "x-cache"), "Hit from cloudfront");
    assert!(header(&second, "cache-status").contains("hit"), "{}", header(&second, "cache-status"));
    assert_eq!(second.text().await.unwrap(), "<h1>cached</h1>");
    assert_eq!(origin.hits("/page.html"), 1);

    // The query-string policy keys on the query; CachingOptimized does not.
    for query in ["a=1", "a=2", "a=1"] {
        let echoed = client.get(url(&format!("/echo?{query}"))).send().await.unwrap();
        assert_eq!(echoed.text().await.unwrap(), format!("query={query}"));
    }
    assert_eq!(origin.hits("/echo"), 2, "two query strings, two origin fetches");
    for query in ["x=1", "x=2"] {
        let page = client.get(url(&format!("/page.html?{query}"))).send().await.unwrap();
        assert_eq!(header(&page, "x-cache"), "Hit from cloudfront", "CachingOptimized keys on no query string");
    }

    // 100 concurrent misses for one object make one origin request.
    let misses = (0..100).map(|_| {
        let client = client.clone();
        let url = url("/slow.txt");
        tokio::spawn(async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    });
    for answer in futures::future::join_all(misses).await {
        assert_eq!(answer.unwrap(), (200, "worth the wait".to_owned()));
    }
    assert_eq!(origin.hits("/slow.txt"), 1, "concurrent misses coalesce");

    // Compressed for viewers that accept it, the same bytes once decoded.
    let plain = script();
    let brotli = client.get(url("/app.js")).header("accept-encoding", "gzip, deflate, br").send().await.unwrap();
    assert_eq!(header(&brotli, "content-encoding"), "br");
    assert!(header(&brotli, "etag").starts_with("W/"), "a compressed variant's ETag is weak");
    let compressed = brotli.bytes().await.unwrap();
    assert!(compressed.len() < plain.len() / 4);
    let mut decoded = String::new();
    brotli::Decompressor::new(&compressed[..], 4096).read_to_string(&mut decoded).unwrap();
    assert_eq!(decoded, plain);
    let gzip = client.get(url("/app.js")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(header(&gzip, "content-encoding"), "gzip");
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&gzip.bytes().await.unwrap()[..]).read_to_string(&mut decoded).unwrap();
    assert_eq!(decoded, plain);
    let identity = client.get(url("/app.js")).send().await.unwrap();
    assert_eq!(header(&identity, "content-encoding"), "");
    assert_eq!(identity.text().await.unwrap(), plain);

    // A range of a cached object comes from the cache.
    let body = binary();
    let full = client.get(url("/big.bin")).send().await.unwrap();
    assert_eq!(full.bytes().await.unwrap(), body);
    let range = client.get(url("/big.bin")).header("range", "bytes=1000-1999").send().await.unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(header(&range, "content-range"), format!("bytes 1000-1999/{}", body.len()));
    assert_eq!(header(&range, "x-cache"), "Hit from cloudfront");
    assert_eq!(range.bytes().await.unwrap(), body.slice(1000..2000));
    let tail = client.get(url("/big.bin")).header("range", "bytes=-10").send().await.unwrap();
    assert_eq!(tail.bytes().await.unwrap(), body.slice(body.len() - 10..));
    assert_eq!(origin.hits("/big.bin"), 1);

    // An invalidation: the next request goes to the origin again.
    origin.set("/page.html", Resource::cacheable("text/html", "<h1>changed</h1>", 300));
    let invalidation = invalidate(&cloudfront, &id, &["/page*"]).await;
    wait_invalidated(&cloudfront, &id, &invalidation).await;
    let after = client.get(url("/page.html")).send().await.unwrap();
    assert_eq!(header(&after, "x-cache"), "Miss from cloudfront");
    assert_eq!(after.text().await.unwrap(), "<h1>changed</h1>");
    assert_eq!(origin.hits("/page.html"), 2);

    // An unknown host gets CloudFront's 403.
    let unknown = viewer(address_of(&cdn), &["nobody.cloudfront.localhost"]);
    let refused = unknown.get(format!("http://nobody.cloudfront.localhost:{port}/")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_page_app_over_a_website_bucket_and_an_http_api() {
    use aws_sdk_s3::{
        primitives::ByteStream,
        types::{IndexDocument, WebsiteConfiguration},
    };
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let edge = nubo.edge_url();

    // The app's files in a public website bucket.
    let s3 = nubo_e2e::s3_client(&edge);
    s3.create_bucket().bucket("spa").send().await.unwrap();
    s3.delete_public_access_block().bucket("spa").send().await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::spa/*"}]}"#;
    s3.put_bucket_policy().bucket("spa").policy(policy).send().await.unwrap();
    for (key, body, content_type) in [
        ("index.html", "<div id=app></div><script src=/app.js></script>", "text/html"),
        ("app.js", "document.getElementById('app').textContent = 'hello';", "application/javascript"),
    ] {
        s3.put_object()
            .bucket("spa")
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
    }
    s3.put_bucket_website()
        .bucket("spa")
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Its API: a function behind a quick-created HTTP API.
    let lambda = nubo_e2e::lambda_client(&edge);
    let function = nubo_e2e::create_echo(&lambda, "spa-api").send().await.unwrap();
    let apigateway = nubo_e2e::apigateway_client(&edge);
    let api = apigateway
        .create_api()
        .name("spa-api")
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
        .target(function.function_arn().unwrap())
        .send()
        .await
        .unwrap();
    let api_domain = format!("{}.execute-api.us-east-1.amazonaws.com", api.api_id().unwrap());

    let cloudfront = cloudfront_client(&edge);
    let website = aws_sdk_cloudfront::types::Origin::builder()
        .id("site")
        .domain_name("spa.s3-website-us-east-1.amazonaws.com")
        .custom_origin_config(
            aws_sdk_cloudfront::types::CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(aws_sdk_cloudfront::types::OriginProtocolPolicy::HttpOnly)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let api_origin = aws_sdk_cloudfront::types::Origin::builder()
        .id("api")
        .domain_name(&api_domain)
        .custom_origin_config(
            aws_sdk_cloudfront::types::CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(aws_sdk_cloudfront::types::OriginProtocolPolicy::HttpsOnly)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let config = distribution(
        "spa",
        vec![website, api_origin],
        default_behavior("site", CACHING_OPTIMIZED),
        vec![
            behavior("/api/*", "api", CACHING_DISABLED)
                .origin_request_policy_id(ALL_VIEWER_EXCEPT_HOST_HEADER)
                .build()
                .unwrap(),
        ],
        &["localhost"],
    )
    .default_root_object("index.html")
    .custom_error_responses(error_responses(&[403, 404], Some("/index.html"), Some("200"), 0))
    .build()
    .unwrap();
    let (_, _) = create(&cloudfront, config).await;

    // At http://localhost:{port}, no DNS needed.
    let cdn = nubo.http_url(ServiceName::Cdn);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let root = client.get(format!("{cdn}/")).header("host", "localhost").send().await.unwrap();
    assert_eq!(root.status(), 200);
    assert!(root.text().await.unwrap().starts_with("<div id=app>"));
    let script = client.get(format!("{cdn}/app.js")).header("host", "localhost").send().await.unwrap();
    assert!(script.text().await.unwrap().contains("hello"));
    // A deep link the bucket does not have: the SPA fallback.
    let deep = client.get(format!("{cdn}/users/42/settings")).header("host", "localhost").send().await.unwrap();
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.unwrap().starts_with("<div id=app>"));
    // The API behind /api/*, never cached.
    for _ in 0..2 {
        let called = client.get(format!("{cdn}/api/hello?x=1")).header("host", "localhost").send().await.unwrap();
        assert_eq!(called.status(), 200);
        assert_ne!(header(&called, "x-cache"), "Hit from cloudfront");
        let body: serde_json::Value = called.json().await.unwrap();
        assert_eq!(body["rawPath"], "/api/hello");
        assert_eq!(body["queryStringParameters"], serde_json::json!({ "x": "1" }));
    }
}

/// Signs `url` for `key_id` with the test key, through botocore's
/// CloudFrontSigner (a canned policy expiring at `expires`, a Unix time).
fn botocore_signed(url: &str, key_id: &str, expires: i64) -> String {
    let key = nubo_e2e::fixture("../../services/cdn/src/testdata/cloudfront-signer.pem");
    let program = r#"
import datetime, sys
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), password=None)
signer = CloudFrontSigner(sys.argv[2], lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA1()))
expires = datetime.datetime.fromtimestamp(int(sys.argv[4]), datetime.timezone.utc)
print(signer.generate_presigned_url(sys.argv[3], date_less_than=expires))
"#;
    let output = std::process::Command::new(nubo_e2e::python_tools().join("python"))
        .args(["-c", program, key.to_str().unwrap(), key_id, url, &expires.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_urls_https_redirects_and_origin_failures() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let origin = Origin::start([
        ("/private/report.txt", Resource::cacheable("text/plain", "for key holders", 300)),
        ("/secure/page.txt", Resource::cacheable("text/plain", "over TLS", 300)),
        ("/slow/page.txt", Resource::cacheable("text/plain", "too late", 300).delayed(Duration::from_secs(4))),
    ])
    .await;
    let broken = BrokenOrigin::start().await;
    let cloudfront = cloudfront_client(&nubo.edge_url());

    // A key group with the test key.
    let public_key =
        std::fs::read_to_string(nubo_e2e::fixture("../../services/cdn/src/testdata/cloudfront-signer.public.pem"))
            .unwrap();
    let key = cloudfront
        .create_public_key()
        .public_key_config(
            PublicKeyConfig::builder()
                .caller_reference("signer")
                .name("signer")
                .encoded_key(public_key)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let key_id = key.public_key().unwrap().id().to_owned();
    let group = cloudfront
        .create_key_group()
        .key_group_config(
            aws_sdk_cloudfront::types::KeyGroupConfig::builder().name("signers").items(&key_id).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let group_id = group.key_group().unwrap().id().to_owned();

    let mut slow = http_origin("slow", &origin.host(), origin.port());
    if let Some(custom) = slow.custom_origin_config.as_mut() {
        custom.origin_read_timeout = Some(1);
    }
    let config = distribution(
        "signed",
        vec![http_origin("app", &origin.host(), origin.port()), slow, http_origin("broken", "127.0.0.1", broken.port)],
        default_behavior("app", CACHING_OPTIMIZED),
        vec![
            behavior("/private/*", "app", CACHING_OPTIMIZED)
                .trusted_key_groups(
                    TrustedKeyGroups::builder().enabled(true).quantity(1).items(&group_id).build().unwrap(),
                )
                .build()
                .unwrap(),
            behavior("/secure/*", "app", CACHING_OPTIMIZED)
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .unwrap(),
            behavior("/slow/*", "slow", CACHING_OPTIMIZED).build().unwrap(),
            behavior("/broken/*", "broken", CACHING_OPTIMIZED).build().unwrap(),
        ],
        &[],
    )
    .build()
    .unwrap();
    let (_, domain) = create(&cloudfront, config).await;
    let cdn = address_of(&nubo.http_url(ServiceName::Cdn));
    let client = viewer(cdn, &[&domain]);
    let url = |path: &str| format!("http://{domain}:{}{path}", cdn.port());

    // Signed URLs: accepted while valid; refused expired, tampered or bare.
    let far = chrono::Utc::now().timestamp() + 3600;
    let signed = botocore_signed(&url("/private/report.txt"), &key_id, far);
    let accepted = client.get(&signed).send().await.unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.text().await.unwrap(), "for key holders");
    let expired = botocore_signed(&url("/private/report.txt"), &key_id, chrono::Utc::now().timestamp() - 60);
    assert_eq!(client.get(&expired).send().await.unwrap().status(), 403);
    let tampered = signed.replace("Expires=", &format!("Expires={}", 9)).replacen(
        &format!("Expires=9{far}"),
        &format!("Expires={}", far + 1),
        1,
    );
    assert_eq!(client.get(&tampered).send().await.unwrap().status(), 403);
    let other_path = signed.replace("/private/report.txt", "/private/other.txt");
    assert_eq!(client.get(&other_path).send().await.unwrap().status(), 403);
    let bare = client.get(url("/private/report.txt")).send().await.unwrap();
    assert_eq!(bare.status(), 403);
    assert!(bare.text().await.unwrap().contains("MissingKey"));
    assert_eq!(origin.hits("/private/report.txt"), 1, "refusals never reach the origin");

    // redirect-to-https: a 301 to the TLS listener, which serves it.
    let redirected = client.get(url("/secure/page.txt?a=b")).send().await.unwrap();
    assert_eq!(redirected.status(), 301);
    let location = header(&redirected, "location").to_owned();
    let https = nubo.https_url(ServiceName::Cdn);
    let https_port = https.rsplit(':').next().unwrap();
    assert_eq!(location, format!("https://{domain}:{https_port}/secure/page.txt?a=b"));
    let tls = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .resolve(&domain, address_of(&https))
        .no_proxy()
        .build()
        .unwrap();
    let secure = tls.get(&location).send().await.unwrap();
    assert_eq!(secure.status(), 200);
    assert_eq!(secure.text().await.unwrap(), "over TLS");

    // A slow origin: 504 once its read timeout passes.
    let started = std::time::Instant::now();
    let late = client.get(url("/slow/page.txt")).send().await.unwrap();
    assert_eq!(late.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());

    // Malformed origin responses: 502, and nothing of them is cached.
    for path in BrokenOrigin::PATHS {
        let answer = client.get(url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 502, "{path}");
        assert!(!answer.headers().contains_key("x-injected"), "{path}: a split response leaks no header");
    }
    broken.heal();
    for path in BrokenOrigin::PATHS {
        let answer = client.get(url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(header(&answer, "x-cache"), "Miss from cloudfront", "{path}: the malformed answer was not stored");
        assert_eq!(answer.text().await.unwrap(), "healed", "{path}");
    }
}

/// An origin that answers each of [`BrokenOrigin::PATHS`] with a malformed
/// HTTP/1.1 response until it is healed.
struct BrokenOrigin {
    port: u16,
    healed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl BrokenOrigin {
    const PATHS: [&'static str; 5] =
        ["/broken/chunks", "/broken/lengths", "/broken/headers", "/broken/split", "/broken/short"];

    async fn start() -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let healed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let serving = healed.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { continue };
                let healed = serving.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&request);
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let ok = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncache-control: max-age=300\r\n";
                    let response = if healed.load(std::sync::atomic::Ordering::SeqCst) {
                        format!("{ok}content-length: 6\r\nconnection: close\r\n\r\nhealed").into_bytes()
                    } else {
                        match path.as_str() {
                            "/broken/chunks" => format!("{ok}transfer-encoding: chunked\r\n\r\nzz\r\nnot hex\r\n0\r\n\r\n").into_bytes(),
                            "/broken/lengths" => format!("{ok}content-length: 5\r\ncontent-length: 7\r\n\r\nhello!!").into_bytes(),
                            "/broken/headers" => {
                                format!("{ok}x-huge: {}\r\ncontent-length: 2\r\n\r\nok", "a".repeat(200 * 1024)).into_bytes()
                            }
                            "/broken/split" => {
                                format!("{ok}content-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nx-injected: yes\r\ncontent-length: 4\r\n\r\nevil").into_bytes()
                            }
                            _ => format!("{ok}content-length: 100\r\n\r\nonly this much").into_bytes(),
                        }
                    };
                    let _ = stream.write_all(&response).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { port, healed, task }
    }

    fn heal(&self) {
        self.healed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for BrokenOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends `request` on a fresh connection and returns the status line.
async fn raw_status(address: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_viewer_requests_are_refused_and_poison_nothing() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let mut with_cookie = Resource::cacheable("text/html", "<h1>signed in</h1>", 300);
    with_cookie.headers.push(("set-cookie".into(), "session=for-the-first-viewer-only".into()));
    let origin = Origin::start([
        ("/page.html", Resource::cacheable("text/html", "<h1>intact</h1>", 300)),
        ("/private/secret.txt", Resource::cacheable("text/plain", "behind the dots", 300)),
        ("/welcome.html", with_cookie),
        ("/first-plain.js", Resource::cacheable("application/javascript", script(), 300)),
    ])
    .await;
    let cloudfront = cloudfront_client(&nubo.edge_url());
    let config = distribution(
        "malformed",
        vec![http_origin("app", &origin.host(), origin.port())],
        default_behavior("app", CACHING_OPTIMIZED),
        vec![],
        &[],
    )
    .build()
    .unwrap();
    let (_, domain) = create(&cloudfront, config).await;
    let cdn = address_of(&nubo.http_url(ServiceName::Cdn));
    let client = viewer(cdn, &[&domain]);
    let url = format!("http://{domain}:{}/page.html", cdn.port());
    assert_eq!(client.get(&url).send().await.unwrap().text().await.unwrap(), "<h1>intact</h1>");

    let huge = format!("GET /page.html HTTP/1.1\r\nHost: {domain}\r\nX-Big: {}\r\n\r\n", "a".repeat(128 * 1024));
    let conflicting = format!(
        "POST /page.html HTTP/1.1\r\nHost: {domain}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /evil HTTP/1.1\r\nHost: {domain}\r\n\r\n"
    );
    let bad_chunks = format!("POST /page.html HTTP/1.1\r\nHost: {domain}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    let split = format!("GET /page.html HTTP/1.1\r\nHost: {domain}\r\nX-A: b\rX-Injected: yes\r\n\r\n");
    for (name, request) in
        [("huge headers", huge), ("CL and TE", conflicting), ("bad chunks", bad_chunks), ("bare CR", split)]
    {
        let status = raw_status(cdn, request.as_bytes()).await;
        let code: u16 = status.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        assert!(code == 0 || (400..500).contains(&code), "{name}: {status}");
    }
    assert_eq!(origin.hits("/evil"), 0, "no smuggled request reached the origin");
    // Dot segments, plain or encoded, are refused before any behavior is
    // chosen: the origin would resolve them after.
    for path in ["/a/../private/secret.txt", "/a/%2e%2e/private/secret.txt", "/a/./page.html"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n\r\n");
        let status = raw_status(cdn, request.as_bytes()).await;
        assert!(status.contains(" 400 "), "{path}: {status}");
    }
    assert_eq!(origin.hits("/private/secret.txt"), 0);

    // One viewer's Set-Cookie is never replayed from the cache.
    let first = client.get(format!("http://{domain}:{}/welcome.html", cdn.port())).send().await.unwrap();
    assert_eq!(header(&first, "set-cookie"), "session=for-the-first-viewer-only");
    let second = client.get(format!("http://{domain}:{}/welcome.html", cdn.port())).send().await.unwrap();
    assert_eq!(header(&second, "x-cache"), "Hit from cloudfront");
    assert_eq!(header(&second, "set-cookie"), "", "a stored response carries no Set-Cookie");

    // A viewer that takes no compression first does not turn it off for
    // those that accept it.
    let js = format!("http://{domain}:{}/first-plain.js", cdn.port());
    assert_eq!(header(&client.get(&js).send().await.unwrap(), "content-encoding"), "");
    let later = client.get(&js).header("accept-encoding", "br, gzip").send().await.unwrap();
    assert_eq!(header(&later, "content-encoding"), "br");
    let after = client.get(&url).send().await.unwrap();
    assert_eq!(header(&after, "x-cache"), "Hit from cloudfront");
    assert_eq!(after.text().await.unwrap(), "<h1>intact</h1>");
    assert_eq!(origin.hits("/page.html"), 1);
}
