//! S3 as browsers and other services meet it: anonymous reads a policy
//! allows (after Block Public Access is lifted, as on a new S3 bucket), a
//! static website with index and error documents, CORS preflights, form
//! uploads with a signed policy (boto3's `generate_presigned_post`),
//! event notifications that invoke a function, lifecycle expiry, and
//! buckets that belong to one configured user and not another.

use std::time::{Duration, Instant};

use aws_sdk_s3::{
    primitives::ByteStream,
    types::{
        CorsConfiguration, CorsRule, ErrorDocument, IndexDocument, LambdaFunctionConfiguration,
        NotificationConfiguration, WebsiteConfiguration,
    },
};
use nubo_e2e::{Nubo, credentials, fixture, path_with_python_tools, s3_client, s3_client_with};
use nubo_host::ServiceName;
use serde_json::Value;

const PUBLIC_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;

fn http_for(host: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

#[tokio::test]
async fn a_public_website_with_index_and_error_documents_and_cors() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let endpoint = nubo.http_url(ServiceName::Storage);
    let s3 = s3_client(&endpoint);
    s3.create_bucket().bucket("site").send().await.unwrap();
    for (key, body, content_type) in [
        ("index.html", "<h1>home</h1>", "text/html"),
        ("docs/index.html", "<h1>docs</h1>", "text/html"),
        ("404.html", "<h1>not here</h1>", "text/html"),
        ("app.js", "console.log(1)", "application/javascript"),
    ] {
        s3.put_object()
            .bucket("site")
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await
            .unwrap();
    }

    // A new bucket blocks public policies, as S3's do; anonymous reads fail.
    let anonymous = reqwest::Client::new();
    assert_eq!(anonymous.get(format!("{endpoint}/site/index.html")).send().await.unwrap().status(), 403);
    let blocked = s3.put_bucket_policy().bucket("site").policy(PUBLIC_READ).send().await;
    assert_eq!(blocked.unwrap_err().raw_response().unwrap().status().as_u16(), 403);
    s3.delete_public_access_block().bucket("site").send().await.unwrap();
    s3.put_bucket_policy().bucket("site").policy(PUBLIC_READ).send().await.unwrap();
    let status = s3.get_bucket_policy_status().bucket("site").send().await.unwrap();
    assert_eq!(status.policy_status().and_then(|status| status.is_public()), Some(true));
    let public = anonymous.get(format!("{endpoint}/site/index.html")).send().await.unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(public.text().await.unwrap(), "<h1>home</h1>");
    // The policy grants reads, not writes or listings.
    assert_eq!(anonymous.put(format!("{endpoint}/site/evil.html")).body("x").send().await.unwrap().status(), 403);
    assert_eq!(anonymous.get(format!("{endpoint}/site?list-type=2")).send().await.unwrap().status(), 403);

    // The website endpoint.
    s3.put_bucket_website()
        .bucket("site")
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
                .error_document(ErrorDocument::builder().key("404.html").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let website = s3.get_bucket_website().bucket("site").send().await.unwrap();
    assert_eq!(website.index_document().map(|index| index.suffix()), Some("index.html"));
    let port = port_of(&endpoint);
    let host = "site.s3-website.localhost";
    let browser = http_for(host, port);
    let root = browser.get(format!("http://{host}:{port}/")).send().await.unwrap();
    assert_eq!(root.status(), 200);
    assert_eq!(root.headers()["content-type"], "text/html");
    assert_eq!(root.text().await.unwrap(), "<h1>home</h1>");
    let docs = browser.get(format!("http://{host}:{port}/docs/")).send().await.unwrap();
    assert_eq!(docs.text().await.unwrap(), "<h1>docs</h1>");
    let slash = browser.get(format!("http://{host}:{port}/docs")).send().await.unwrap();
    assert_eq!(slash.status(), 302);
    assert_eq!(slash.headers()["location"], "/docs/");
    // A missing page: the error document, with the error's status (403:
    // the policy does not grant s3:ListBucket, so S3 will not say 404).
    let missing = browser.get(format!("http://{host}:{port}/nope.html")).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.text().await.unwrap(), "<h1>not here</h1>");
    let post = browser.post(format!("http://{host}:{port}/")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert!(post.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    // The website endpoint's own port, with the bucket in the path (no DNS
    // needed) or in the Host.
    let website_url = nubo.website_url();
    let by_path = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = by_path.get(format!("{website_url}/site/docs/")).send().await.unwrap();
    assert_eq!(page.text().await.unwrap(), "<h1>docs</h1>");
    let slash = by_path.get(format!("{website_url}/site/docs")).send().await.unwrap();
    assert_eq!(slash.headers()["location"], "/site/docs/");
    let root = by_path.get(format!("{website_url}/site")).send().await.unwrap();
    assert_eq!(root.headers()["location"], "/site/");
    let website_port = port_of(&website_url);
    let by_host = http_for(host, website_port).get(format!("http://{host}:{website_port}/")).send().await.unwrap();
    assert_eq!(by_host.text().await.unwrap(), "<h1>home</h1>");
    // Through the edge, the same website.
    let edge_port = port_of(&nubo.edge_url());
    let through_edge = http_for(host, edge_port).get(format!("http://{host}:{edge_port}/app.js")).send().await.unwrap();
    assert_eq!(through_edge.status(), 200);
    assert_eq!(through_edge.text().await.unwrap(), "console.log(1)");

    // CORS: a preflight from an allowed origin, one from another, and the
    // headers on an actual response.
    s3.put_bucket_cors()
        .bucket("site")
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(
                    CorsRule::builder()
                        .allowed_origins("https://app.example.com")
                        .allowed_methods("GET")
                        .allowed_methods("PUT")
                        .allowed_headers("*")
                        .expose_headers("ETag")
                        .max_age_seconds(600)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let preflight = anonymous
        .request(reqwest::Method::OPTIONS, format!("{endpoint}/site/upload.bin"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type,x-amz-date")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://app.example.com");
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("PUT"));
    assert_eq!(preflight.headers()["access-control-max-age"], "600");
    let refused = anonymous
        .request(reqwest::Method::OPTIONS, format!("{endpoint}/site/upload.bin"))
        .header("origin", "https://evil.test")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let actual = anonymous
        .get(format!("{endpoint}/site/app.js"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(actual.headers()["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(actual.headers()["access-control-expose-headers"], "ETag");
    let rules = s3.get_bucket_cors().bucket("site").send().await.unwrap();
    assert_eq!(rules.cors_rules().len(), 1);
}

#[tokio::test]
async fn browser_form_uploads_are_held_to_their_policy() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let endpoint = nubo.http_url(ServiceName::Storage);
    let output = std::process::Command::new("python3")
        .arg(fixture("s3/boto3_post.py"))
        .arg(&endpoint)
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["accepted"], 204, "{answer}");
    assert_eq!(answer["stored"], "picture bytes");
    assert_eq!(answer["content_type"], "image/png");
    assert_eq!(answer["created"], 201);
    assert!(answer["created_body"].as_str().unwrap().contains("<Key>uploads/second.png</Key>"), "{answer}");
    assert_eq!(answer["redirected"], 303);
    assert!(answer["redirect_location"].as_str().unwrap().starts_with("https://app.example.com/done?bucket=forms"));
    assert_eq!(answer["wrong_prefix"], 403);
    assert!(answer["wrong_prefix_body"].as_str().unwrap().contains("Policy Condition failed"), "{answer}");
    assert_eq!(answer["too_large"], 400);
    assert!(answer["too_large_body"].as_str().unwrap().contains("EntityTooLarge"), "{answer}");
    assert_eq!(answer["extra_field"], 403);
    assert!(answer["extra_field_body"].as_str().unwrap().contains("Extra input fields"), "{answer}");
    assert_eq!(answer["tampered"], 403);
    assert_eq!(answer["refused_left_nothing"], true);
}

/// A function that prints the S3 event it receives.
const RECORDER: &str =
    "import json\n\ndef handler(event, context):\n    print('S3EVENT ' + json.dumps(event))\n    return 'ok'\n";

#[tokio::test(flavor = "multi_thread")]
async fn notifications_invoke_a_function_with_the_s3_event() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let lambda = nubo_e2e::lambda_client(&nubo.http_url(ServiceName::Functions));
    let package = nubo_e2e::package_of(&[("app.py", RECORDER)]);
    lambda
        .create_function()
        .function_name("on-upload")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(nubo_e2e::ROLE)
        .handler("app.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(package))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let s3 = s3_client(&nubo.http_url(ServiceName::Storage));
    s3.create_bucket().bucket("inbox").send().await.unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("inbox")
        .notification_configuration(
            NotificationConfiguration::builder()
                .lambda_function_configurations(
                    LambdaFunctionConfiguration::builder()
                        .id("uploads")
                        .lambda_function_arn("arn:aws:lambda:us-east-1:000000000000:function:on-upload")
                        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
                        .filter(
                            aws_sdk_s3::types::NotificationConfigurationFilter::builder()
                                .key(
                                    aws_sdk_s3::types::S3KeyFilter::builder()
                                        .filter_rules(
                                            aws_sdk_s3::types::FilterRule::builder()
                                                .name(aws_sdk_s3::types::FilterRuleName::Prefix)
                                                .value("in/")
                                                .build(),
                                        )
                                        .build(),
                                )
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let configured = s3.get_bucket_notification_configuration().bucket("inbox").send().await.unwrap();
    assert_eq!(configured.lambda_function_configurations().len(), 1);
    s3.put_object().bucket("inbox").key("out/skipped.txt").body(ByteStream::from_static(b"no")).send().await.unwrap();
    s3.put_object()
        .bucket("inbox")
        .key("in/my photo.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();

    // The event arrives through the functions service's queue.
    let deadline = Instant::now() + Duration::from_secs(30);
    let event = loop {
        let output = nubo_e2e::aws_cli(state.path(), Some(&nubo.edge_url()))
            .args([
                "logs",
                "filter-log-events",
                "--log-group-name",
                "/aws/lambda/on-upload",
                "--filter-pattern",
                "S3EVENT",
            ])
            .output()
            .unwrap();
        let found: Option<Value> = serde_json::from_slice::<Value>(&output.stdout).ok().and_then(|answer| {
            answer["events"].as_array().and_then(|events| {
                events.iter().find_map(|event| {
                    let message = event["message"].as_str()?;
                    serde_json::from_str(message.trim().strip_prefix("S3EVENT ")?).ok()
                })
            })
        });
        if let Some(event) = found {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "no S3 event reached the function: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let record = &event["Records"][0];
    assert_eq!(record["eventSource"], "aws:s3");
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    assert_eq!(record["s3"]["bucket"]["name"], "inbox");
    assert_eq!(record["s3"]["object"]["key"], "in/my+photo.txt", "keys are URL-encoded as S3 sends them");
    assert_eq!(record["s3"]["object"]["size"], 5);
    assert_eq!(record["s3"]["configurationId"], "uploads");
    assert_eq!(event["Records"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn lifecycle_rules_expire_objects_and_abort_uploads() {
    let state = tempfile::tempdir().unwrap();
    // A lifecycle day of one second, applied every second.
    let nubo = Nubo::up_with(
        state.path(),
        &[("NUBO_STORAGE__LIFECYCLE_INTERVAL_SECS", "1"), ("NUBO_STORAGE__LIFECYCLE_DAY_SECS", "1")],
    )
    .await;
    let s3 = s3_client(&nubo.http_url(ServiceName::Storage));
    s3.create_bucket().bucket("logs").send().await.unwrap();
    s3.put_object().bucket("logs").key("tmp/old.log").body(ByteStream::from_static(b"old")).send().await.unwrap();
    s3.put_object()
        .bucket("logs")
        .key("keep/important.log")
        .body(ByteStream::from_static(b"keep"))
        .send()
        .await
        .unwrap();
    let upload = s3.create_multipart_upload().bucket("logs").key("tmp/partial").send().await.unwrap();
    let rule = aws_sdk_s3::types::LifecycleRule::builder()
        .id("expire-tmp")
        .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
        .filter(aws_sdk_s3::types::LifecycleRuleFilter::builder().prefix("tmp/").build())
        .expiration(aws_sdk_s3::types::LifecycleExpiration::builder().days(2).build())
        .abort_incomplete_multipart_upload(
            aws_sdk_s3::types::AbortIncompleteMultipartUpload::builder().days_after_initiation(2).build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket("logs")
        .lifecycle_configuration(
            aws_sdk_s3::types::BucketLifecycleConfiguration::builder().rules(rule).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let rules = s3.get_bucket_lifecycle_configuration().bucket("logs").send().await.unwrap();
    assert_eq!(rules.rules().len(), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = s3.list_objects_v2().bucket("logs").send().await.unwrap();
        let keys: Vec<_> = listed.contents().iter().map(|object| object.key().unwrap().to_owned()).collect();
        let uploads = s3.list_multipart_uploads().bucket("logs").send().await.unwrap();
        if keys == ["keep/important.log"] && uploads.uploads().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not expired: {keys:?}, {:?}", uploads.uploads());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let aborted = s3.list_parts().bucket("logs").key("tmp/partial").upload_id(upload.upload_id().unwrap()).send().await;
    assert!(aborted.is_err());
}

const USERS: &str = r#"[{ name = "alice", access_key_id = "AKIDALICE", secret_access_key = "alice-secret" }, { name = "bob", access_key_id = "AKIDBOB", secret_access_key = "bob-secret" }]"#;

#[tokio::test]
async fn each_user_owns_its_buckets() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(state.path(), &[("NUBO_CREDENTIALS__USERS", USERS)]).await;
    let endpoint = nubo.http_url(ServiceName::Storage);
    let alice = s3_client_with(&endpoint, credentials("AKIDALICE", "alice-secret"));
    let bob = s3_client_with(&endpoint, credentials("AKIDBOB", "bob-secret"));
    alice.create_bucket().bucket("alices").send().await.unwrap();
    alice.put_object().bucket("alices").key("diary").body(ByteStream::from_static(b"secret")).send().await.unwrap();
    let denied = bob.get_object().bucket("alices").key("diary").send().await;
    assert_eq!(denied.unwrap_err().raw_response().unwrap().status().as_u16(), 403);
    let denied = bob.put_object().bucket("alices").key("graffiti").body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(denied.unwrap_err().raw_response().unwrap().status().as_u16(), 403);
    let taken = bob.create_bucket().bucket("alices").send().await;
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&taken.unwrap_err()), Some("BucketAlreadyExists"));
    let listed = bob.list_buckets().send().await.unwrap();
    assert!(listed.buckets().is_empty(), "{listed:?}");
    let own = alice.list_buckets().send().await.unwrap();
    assert_eq!(own.buckets().len(), 1);
}
