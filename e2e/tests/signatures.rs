//! SigV4 as each service's clients meet it over the wire: a gzip-encoded
//! signed DynamoDB request is served (the signature covers the bytes as
//! sent); a signature scoped to another service or region, a skewed clock,
//! a bogus payload hash, an expired presigned URL and a bad signature are
//! each refused in the protocol's own error shape; requests are counted per
//! AWS operation on `/metrics`.

use std::{
    io::Write as _,
    time::{Duration, SystemTime},
};

use nubo_e2e::{Nubo, ServiceName, Signing, sign_request};
use serde_json::Value;

struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8], signing: &Signing<'_>) -> Answer {
    let signed = sign_request(method, url, headers, body, signing);
    let client = reqwest::Client::new();
    let mut request = client.request(method.parse().unwrap(), url).body(body.to_vec());
    for (name, value) in headers.iter().filter(|(name, _)| *name != "host") {
        request = request.header(*name, *value);
    }
    for (name, value) in &signed {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("the service answers");
    Answer { status: response.status().as_u16(), body: response.text().await.unwrap_or_default() }
}

const LIST_TABLES: &[(&str, &str)] =
    &[("content-type", "application/x-amz-json-1.0"), ("x-amz-target", "DynamoDB_20120810.ListTables")];

#[tokio::test(flavor = "multi_thread")]
async fn every_front_checks_signatures_as_its_aws_original() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let dynamodb = format!("{}/", nubo.http_url(ServiceName::Data));
    let dynamodb_signing = Signing { service: "dynamodb", ..Signing::default() };

    // A correctly signed, gzip-encoded request is served.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(b"{}").unwrap();
    let compressed = gzip.finish().unwrap();
    let mut headers = LIST_TABLES.to_vec();
    headers.push(("content-encoding", "gzip"));
    let served = send("POST", &dynamodb, &headers, &compressed, &dynamodb_signing).await;
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.json()["TableNames"], Value::Array(Vec::new()));

    // Scoped to S3, or to another region: refused.
    let s3_scope = send("POST", &dynamodb, LIST_TABLES, b"{}", &Signing { service: "s3", ..Signing::default() }).await;
    assert_eq!(s3_scope.status, 400);
    assert_eq!(s3_scope.json()["__type"], "com.amazon.coral.service#InvalidSignatureException");
    assert!(s3_scope.json()["message"].as_str().unwrap().contains("'dynamodb'"), "{}", s3_scope.body);
    let elsewhere =
        send("POST", &dynamodb, LIST_TABLES, b"{}", &Signing { region: "eu-west-9", ..dynamodb_signing.clone() }).await;
    assert_eq!(elsewhere.json()["__type"], "com.amazon.coral.service#InvalidSignatureException");

    // Sixteen minutes of skew: DynamoDB allows fifteen.
    let past = SystemTime::now() - Duration::from_secs(16 * 60);
    let skewed = send("POST", &dynamodb, LIST_TABLES, b"{}", &Signing { time: past, ..dynamodb_signing.clone() }).await;
    assert!(skewed.json()["message"].as_str().unwrap().starts_with("Signature expired:"), "{}", skewed.body);
    // Lambda allows five; six is refused with 403, four is served.
    let lambda = format!("{}/2015-03-31/functions", nubo.http_url(ServiceName::Functions));
    let six = SystemTime::now() - Duration::from_secs(6 * 60);
    let late = send("GET", &lambda, &[], b"", &Signing { service: "lambda", time: six, ..Signing::default() }).await;
    assert_eq!(late.status, 403, "{}", late.body);
    let four = SystemTime::now() - Duration::from_secs(4 * 60);
    let fine = send("GET", &lambda, &[], b"", &Signing { service: "lambda", time: four, ..Signing::default() }).await;
    assert_eq!(fine.status, 200, "{}", fine.body);

    // A payload hash that is not a digest, and a signed digest of another
    // body (a captured request replayed with a new body): both refused.
    let mut bogus = LIST_TABLES.to_vec();
    bogus.push(("x-amz-content-sha256", "STREAMING-NONSENSE"));
    let refused = send("POST", &dynamodb, &bogus, b"{}", &dynamodb_signing).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.json()["__type"], "com.amazon.coral.service#InvalidSignatureException");
    assert!(refused.json()["message"].as_str().unwrap().contains("x-amz-content-sha256"), "{}", refused.body);
    let other_body = nubo_host::sigv4::sha256_hex(b"{\"ExclusiveStartTableName\":\"a\"}");
    let mut replayed = LIST_TABLES.to_vec();
    replayed.push(("x-amz-content-sha256", &other_body));
    let refused = send("POST", &dynamodb, &replayed, b"{}", &dynamodb_signing).await;
    assert_eq!(refused.json()["__type"], "com.amazon.coral.service#InvalidSignatureException", "{}", refused.body);
    assert!(refused.json()["message"].as_str().unwrap().contains("does not match"), "{}", refused.body);

    // S3: a presigned GET passes the signature check (and finds no such
    // bucket), an expired one is refused as S3 does,
    // and a bogus x-amz-content-sha256 is S3's InvalidArgument.
    let storage = nubo.http_url(ServiceName::Storage);
    let object = format!("{storage}/bucket/key.txt");
    let presign = |time, expiry| Signing {
        service: "s3",
        time,
        presigned_for: Some(expiry),
        unsigned_payload: true,
        ..Signing::default()
    };
    let query = |params: Vec<(String, String)>| {
        params
            .iter()
            .map(|(k, v)| format!("{k}={}", nubo_host::sigv4::uri_encode(v, true)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let fresh = query(sign_request("GET", &object, &[], b"", &presign(SystemTime::now(), Duration::from_secs(60))));
    let answer = reqwest::get(format!("{object}?{fresh}")).await.unwrap();
    assert_eq!(answer.status(), 404);
    assert!(answer.text().await.unwrap().contains("<Code>NoSuchBucket</Code>"));
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let stale = query(sign_request("GET", &object, &[], b"", &presign(hour_ago, Duration::from_secs(60))));
    let answer = reqwest::get(format!("{object}?{stale}")).await.unwrap();
    assert_eq!(answer.status(), 403);
    let text = answer.text().await.unwrap();
    assert!(text.contains("<Code>AccessDenied</Code><Message>Request has expired</Message>"), "{text}");
    let put = send(
        "PUT",
        &object,
        &[("x-amz-content-sha256", "not-a-digest")],
        b"hello",
        &Signing { service: "s3", ..Signing::default() },
    )
    .await;
    assert_eq!(put.status, 400, "{}", put.body);
    assert!(
        put.body.contains("<Code>InvalidArgument</Code>")
            && put.body.contains("<ArgumentName>x-amz-content-sha256</ArgumentName>"),
        "{}",
        put.body
    );

    // Route 53 answers in its own XML shape.
    let route53 = format!("{}/2013-04-01/hostedzone", nubo.http_url(ServiceName::Dns));
    let wrong =
        send("GET", &route53, &[], b"", &Signing { service: "route53", region: "eu-west-9", ..Signing::default() })
            .await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert!(wrong.body.contains("<Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"), "{}", wrong.body);

    // Every request above is counted under its AWS operation.
    let metrics =
        reqwest::get(format!("{}/metrics", nubo.http_url(ServiceName::Data))).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("operation=\"ListTables\",status=\"200\""), "{metrics}");
    assert!(metrics.contains("operation=\"ListTables\",status=\"400\""), "{metrics}");
}
