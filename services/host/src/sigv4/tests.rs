//! SigV4 verification against AWS's published vectors (the `get-vanilla`
//! case of the SigV4 test suite, and the worked presigned-URL, chunked
//! upload and trailer examples of the S3 documentation) and against every
//! way a request can fail to be what it claims.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::*;

const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const S3_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn at(stamp: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").unwrap().and_utc()
}

fn suite_policy() -> Policy {
    Policy::hashed("service", "us-east-1", 15)
}

fn suite_keys() -> Credentials {
    Credentials::new("000000000000").with_root_key("AKIDEXAMPLE", SUITE_SECRET)
}

const VANILLA_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

/// The `get-vanilla` case of AWS's published SigV4 test suite.
fn vanilla(authorization: &str) -> RequestHead<'_> {
    RequestHead {
        method: "GET",
        raw_path: "/",
        raw_query: "",
        headers: vec![
            ("host".into(), "example.amazonaws.com"),
            ("x-amz-date".into(), "20150830T123600Z"),
            ("authorization".into(), authorization),
        ],
    }
}

#[test]
fn accepts_the_published_test_vector() {
    let verified =
        suite_keys().verify(&suite_policy(), &vanilla(VANILLA_AUTH), Some(b""), at("20150830T123900Z")).unwrap();
    assert_eq!(verified.principal.arn, "arn:aws:iam::000000000000:root");
    assert_eq!(verified.payload, Payload::Verified);
}

#[test]
fn refuses_a_wrong_secret_an_unknown_key_and_a_skewed_clock() {
    let wrong = Credentials::new("0").with_root_key("AKIDEXAMPLE", "not-the-secret");
    let request = vanilla(VANILLA_AUTH);
    assert_eq!(
        wrong.verify(&suite_policy(), &request, Some(b""), at("20150830T123600Z")).unwrap_err(),
        AuthError::Mismatch
    );
    let other = Credentials::new("0").with_root_key("SOMEONE", SUITE_SECRET);
    assert_eq!(
        other.verify(&suite_policy(), &request, Some(b""), at("20150830T123600Z")).unwrap_err(),
        AuthError::UnknownKey
    );
    let skewed = suite_keys().verify(&suite_policy(), &request, Some(b""), at("20150830T125200Z")).unwrap_err();
    assert_eq!(
        skewed.to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)"
    );
    let early = suite_keys().verify(&suite_policy(), &request, Some(b""), at("20150830T122000Z")).unwrap_err();
    assert!(
        early.to_string().starts_with("Signature not yet current: 20150830T123600Z is still later than"),
        "{early}"
    );
    // Five minutes for the services that allow only five.
    let strict = Policy::hashed("service", "us-east-1", 5);
    assert!(matches!(
        suite_keys().verify(&strict, &request, Some(b""), at("20150830T124200Z")),
        Err(AuthError::Skewed { max_minutes: 5, .. })
    ));
}

#[test]
fn refuses_a_signature_scoped_to_another_service_or_region() {
    let request = vanilla(VANILLA_AUTH);
    let now = at("20150830T123600Z");
    let dynamodb = Policy::hashed("dynamodb", "us-east-1", 15);
    assert_eq!(
        suite_keys().verify(&dynamodb, &request, Some(b""), now).unwrap_err(),
        AuthError::WrongService { expected: "dynamodb", got: "service".into() }
    );
    let elsewhere = Policy::hashed("service", "eu-west-9", 15);
    assert_eq!(
        suite_keys().verify(&elsewhere, &request, Some(b""), now).unwrap_err(),
        AuthError::WrongRegion { expected: "eu-west-9".into(), got: "us-east-1".into() }
    );
}

#[test]
fn refuses_a_tampered_request_and_an_unsigned_host() {
    let mut request = vanilla(VANILLA_AUTH);
    request.raw_path = "/other";
    let now = at("20150830T123600Z");
    assert_eq!(suite_keys().verify(&suite_policy(), &request, Some(b""), now).unwrap_err(), AuthError::Mismatch);
    let no_host = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    assert_eq!(
        suite_keys().verify(&suite_policy(), &vanilla(no_host), Some(b""), now).unwrap_err(),
        AuthError::HostNotSigned
    );
}

#[test]
fn refuses_malformed_headers_without_panicking() {
    let now = at("20150830T123600Z");
    let partial = vanilla("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request");
    assert!(matches!(suite_keys().verify(&suite_policy(), &partial, Some(b""), now), Err(AuthError::Malformed(_))));
    let mut unsigned = vanilla("");
    unsigned.headers.retain(|(name, _)| name != "authorization");
    assert_eq!(suite_keys().verify(&suite_policy(), &unsigned, Some(b""), now).unwrap_err(), AuthError::Missing);
    let v2 = vanilla("AWS AKIDEXAMPLE:c2lnbmF0dXJl");
    assert!(matches!(suite_keys().verify(&suite_policy(), &v2, Some(b""), now), Err(AuthError::Unsupported(_))));
    for garbage in
        ["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=é/ü/…/x/aws4_request, SignedHeaders=host, Signature=zz"]
    {
        assert!(suite_keys().verify(&suite_policy(), &vanilla(garbage), Some(b""), now).is_err());
    }
}

/// Signs a request of the `get-vanilla` shape with this module's canonical form.
fn sign_suite(head: &RequestHead<'_>, signed: &[&str], payload_hash: &str) -> String {
    let canonical = canonical::canonical_request(
        head.method,
        &canonical::canonical_uri(head.raw_path, true),
        &canonical::canonical_query(head.raw_query, false),
        &head.headers,
        signed,
        payload_hash,
    )
    .unwrap();
    let to_sign = canonical::string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &canonical);
    let key = signing_key(SUITE_SECRET, "20150830", "us-east-1", "service");
    hex::encode(canonical::hmac(&key, to_sign.as_bytes()))
}

#[test]
fn a_json_service_always_signs_the_body_hash() {
    let now = at("20150830T123600Z");
    let body = b"{\"TableName\":\"t\"}";
    let mut head = vanilla("");
    head.headers.retain(|(name, _)| name != "authorization");
    let signature = sign_suite(&head, &["host", "x-amz-date"], &sha256_hex(body));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
    );
    head.headers.push(("authorization".into(), &authorization));
    assert!(suite_keys().verify(&suite_policy(), &head, Some(body), now).is_ok());
    // Replayed with another body.
    assert_eq!(suite_keys().verify(&suite_policy(), &head, Some(b"{}"), now).unwrap_err(), AuthError::Mismatch);
    // A declared hash must be the body's: neither a marker nor another digest.
    head.headers.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD"));
    assert!(matches!(
        suite_keys().verify(&suite_policy(), &head, Some(body), now),
        Err(AuthError::BadContentSha256(_))
    ));
    head.headers.pop();
    head.headers.push(("x-amz-content-sha256".into(), EMPTY_HASH));
    assert!(matches!(
        suite_keys().verify(&suite_policy(), &head, Some(body), now),
        Err(AuthError::ContentSha256Mismatch { .. })
    ));
}

const EMPTY_HASH: &str = canonical::EMPTY_SHA256;

/// The presigned GET of the S3 documentation ("Authenticating Requests:
/// Using Query Parameters").
const PRESIGNED_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn presigned(query: &str) -> RequestHead<'_> {
    RequestHead {
        method: "GET",
        raw_path: "/test.txt",
        raw_query: query,
        headers: vec![("host".into(), "examplebucket.s3.amazonaws.com")],
    }
}

fn s3_keys() -> Credentials {
    Credentials::new("000000000000").with_root_key(S3_KEY, S3_SECRET)
}

#[test]
fn a_presigned_url_verifies_until_it_expires() {
    let policy = Policy::s3("us-east-1");
    let verified = s3_keys().verify(&policy, &presigned(PRESIGNED_QUERY), None, at("20130524T120000Z")).unwrap();
    assert_eq!(verified.payload, Payload::Unsigned);
    assert!(matches!(
        s3_keys().verify(&policy, &presigned(PRESIGNED_QUERY), None, at("20130525T000001Z")),
        Err(AuthError::PresignedExpired { expires_secs: 86400, .. })
    ));
    assert_eq!(
        s3_keys().verify(&policy, &presigned(PRESIGNED_QUERY), None, at("20130523T000000Z")).unwrap_err(),
        AuthError::PresignedNotYetValid
    );
    let tampered = PRESIGNED_QUERY.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401");
    assert_eq!(
        s3_keys().verify(&policy, &presigned(&tampered), None, at("20130524T120000Z")).unwrap_err(),
        AuthError::Mismatch
    );
    let too_long = PRESIGNED_QUERY.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801");
    assert_eq!(
        s3_keys().verify(&policy, &presigned(&too_long), None, at("20130524T120000Z")).unwrap_err(),
        AuthError::PresignedExpiryTooLong
    );
    let incomplete = PRESIGNED_QUERY.replace("&X-Amz-SignedHeaders=host", "");
    assert!(matches!(
        s3_keys().verify(&policy, &presigned(&incomplete), None, at("20130524T120000Z")),
        Err(AuthError::MalformedQuery(_))
    ));
}

/// The head of the chunked upload example of the S3 documentation
/// ("Signature Calculations for the Authorization Header: Transferring
/// Payload in Multiple Chunks").
fn chunked_head<'a>(content_sha256: &'a str, authorization: &'a str, trailer: bool) -> RequestHead<'a> {
    let mut headers = vec![
        ("host".to_owned(), "s3.amazonaws.com"),
        ("x-amz-date".to_owned(), "20130524T000000Z"),
        ("x-amz-storage-class".to_owned(), "REDUCED_REDUNDANCY"),
        ("authorization".to_owned(), authorization),
        ("x-amz-content-sha256".to_owned(), content_sha256),
        ("content-encoding".to_owned(), "aws-chunked"),
        ("x-amz-decoded-content-length".to_owned(), "66560"),
    ];
    if trailer {
        headers.push(("x-amz-trailer".to_owned(), "x-amz-checksum-crc32c"));
    } else {
        headers.push(("content-length".to_owned(), "66824"));
    }
    RequestHead { method: "PUT", raw_path: "/examplebucket/chunkObject.txt", raw_query: "", headers }
}

const CHUNKED_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const TRAILER_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";

fn chunked_body(signatures: [&str; 3], trailer: Option<(&str, &str)>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("10000;chunk-signature={}\r\n", signatures[0]).as_bytes());
    body.extend_from_slice(&[b'a'; 65536]);
    body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", signatures[1]).as_bytes());
    body.extend_from_slice(&[b'a'; 1024]);
    body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", signatures[2]).as_bytes());
    if let Some((checksum, signature)) = trailer {
        body.extend_from_slice(
            format!("x-amz-checksum-crc32c:{checksum}\r\nx-amz-trailer-signature:{signature}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(b"\r\n");
    body
}

const CHUNK_SIGNATURES: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];
const TRAILER_CHUNK_SIGNATURES: [&str; 3] = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
];
const TRAILER_SIGNATURE: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

/// Verifies the head, then decodes `body` in pieces of `step` bytes.
fn decode(head: &RequestHead<'_>, body: &[u8], step: usize) -> Result<(Vec<u8>, Trailers), AuthError> {
    let verified = s3_keys().verify(&Policy::s3("us-east-1"), head, None, at("20130524T000100Z"))?;
    let mut decoder = ChunkedDecoder::new(&verified.payload, head)?.expect("a chunked payload");
    let mut data = Vec::new();
    for piece in body.chunks(step) {
        for bytes in decoder.push(piece)? {
            data.extend_from_slice(&bytes);
        }
    }
    Ok((data, decoder.finish()?))
}

#[test]
fn the_documented_chunked_upload_verifies() {
    let head = chunked_head(STREAMING_PAYLOAD, CHUNKED_AUTH, false);
    for step in [1 << 20, 4096, 7] {
        let (data, trailers) = decode(&head, &chunked_body(CHUNK_SIGNATURES, None), step).unwrap();
        assert_eq!(data, vec![b'a'; 66560]);
        assert_eq!(trailers, Trailers::default());
    }
}

#[test]
fn a_tampered_chunk_or_chunk_signature_is_refused() {
    let head = chunked_head(STREAMING_PAYLOAD, CHUNKED_AUTH, false);
    let mut body = chunked_body(CHUNK_SIGNATURES, None);
    body[100] = b'b';
    assert_eq!(decode(&head, &body, 4096).unwrap_err(), AuthError::Body(BodyError::ChunkSignatureMismatch));
    let mut swapped = CHUNK_SIGNATURES;
    swapped[1] = CHUNK_SIGNATURES[0];
    assert_eq!(
        decode(&head, &chunked_body(swapped, None), 4096).unwrap_err(),
        AuthError::Body(BodyError::ChunkSignatureMismatch)
    );
    // A body cut before its final chunk.
    let body = chunked_body(CHUNK_SIGNATURES, None);
    assert!(matches!(decode(&head, &body[..body.len() - 90], 4096), Err(AuthError::Body(BodyError::Malformed(_)))));
    // A wrong seed signature fails at the head.
    let wrong_seed = CHUNKED_AUTH.replace("4f232c43", "4f232c44");
    assert_eq!(
        decode(&chunked_head(STREAMING_PAYLOAD, &wrong_seed, false), &body, 4096).unwrap_err(),
        AuthError::Mismatch
    );
    // No data of a tampered chunk is released before the refusal.
    let verified = s3_keys().verify(&Policy::s3("us-east-1"), &head, None, at("20130524T000100Z")).unwrap();
    let mut decoder = ChunkedDecoder::new(&verified.payload, &head).unwrap().unwrap();
    let mut tampered = chunked_body(CHUNK_SIGNATURES, None);
    tampered[200] = b'!';
    assert!(decoder.push(&tampered[..60000]).unwrap().is_empty());
    assert!(decoder.push(&tampered[60000..]).is_err());
}

#[test]
fn the_documented_trailer_upload_verifies_with_its_checksum() {
    let head = chunked_head(STREAMING_PAYLOAD_TRAILER, TRAILER_AUTH, true);
    let body = chunked_body(TRAILER_CHUNK_SIGNATURES, Some(("sOO8/Q==", TRAILER_SIGNATURE)));
    let (data, trailers) = decode(&head, &body, 1000).unwrap();
    assert_eq!(data.len(), 66560);
    assert_eq!(trailers.checksum, Some((ChecksumAlgorithm::Crc32c, "sOO8/Q==".into())));
    // Another checksum breaks the trailer signature; a missing signature is refused.
    let forged = chunked_body(TRAILER_CHUNK_SIGNATURES, Some(("AAAAAA==", TRAILER_SIGNATURE)));
    assert_eq!(decode(&head, &forged, 1000).unwrap_err(), AuthError::Body(BodyError::ChunkSignatureMismatch));
    let mut unsigned = chunked_body(TRAILER_CHUNK_SIGNATURES, None);
    unsigned.truncate(unsigned.len() - 2);
    unsigned.extend_from_slice(b"x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
    assert_eq!(
        decode(&head, &unsigned, 1000).unwrap_err(),
        AuthError::Body(BodyError::MissingTrailer("x-amz-trailer-signature".into()))
    );
}

#[test]
fn s3_payload_markers_are_checked() {
    let policy = Policy::s3("us-east-1");
    let now = at("20130524T000100Z");
    let head = chunked_head("STREAMING-BOGUS", CHUNKED_AUTH, false);
    assert_eq!(
        s3_keys().verify(&policy, &head, None, now).unwrap_err(),
        AuthError::BadContentSha256("STREAMING-BOGUS".into())
    );
    let mut missing = chunked_head(STREAMING_PAYLOAD, CHUNKED_AUTH, false);
    missing.headers.retain(|(name, _)| name != "x-amz-content-sha256");
    assert_eq!(s3_keys().verify(&policy, &missing, None, now).unwrap_err(), AuthError::MissingContentSha256);
}

#[test]
fn temporary_keys_need_their_session_token() {
    let sessions = Sessions::new("a cluster secret of some length");
    let keys = suite_keys().with_sessions(sessions.clone());
    let now = Utc::now();
    let issued = sessions.issue(&Principal::root("000000000000", "AKIDEXAMPLE"), now + chrono::Duration::hours(1));
    let (_, principal) = keys.resolve(&issued.access_key_id, Some(&issued.session_token), now).unwrap();
    assert_eq!(principal.arn, "arn:aws:iam::000000000000:root");
    assert_eq!(keys.resolve(&issued.access_key_id, None, now).unwrap_err(), AuthError::InvalidToken);
    assert_eq!(keys.resolve("AKIDEXAMPLE", Some(&issued.session_token), now).unwrap_err(), AuthError::InvalidToken);
}

#[test]
fn header_and_query_signatures_together_are_refused() {
    let mut head = presigned(PRESIGNED_QUERY);
    head.headers.push(("authorization".into(), CHUNKED_AUTH));
    assert_eq!(
        s3_keys().verify(&Policy::s3("us-east-1"), &head, None, at("20130524T120000Z")).unwrap_err(),
        AuthError::AmbiguousAuth
    );
}

#[test]
fn an_unsigned_amz_header_is_refused() {
    let mut head = chunked_head(STREAMING_PAYLOAD, CHUNKED_AUTH, false);
    head.headers.push(("x-amz-meta-owner".into(), "mallory"));
    assert_eq!(
        s3_keys().verify(&Policy::s3("us-east-1"), &head, None, at("20130524T000100Z")).unwrap_err(),
        AuthError::UnsignedHeader("x-amz-meta-owner".into())
    );
    // X-Amz-Target names a JSON service's action: it must be signed too.
    let mut request = vanilla(VANILLA_AUTH);
    request.headers.push(("x-amz-target".into(), "DynamoDB_20120810.DeleteTable"));
    assert!(matches!(
        suite_keys().verify(&suite_policy(), &request, Some(b""), at("20150830T123600Z")),
        Err(AuthError::UnsignedHeader(_))
    ));
}

#[test]
fn a_payload_without_trailers_takes_none() {
    let head = chunked_head(STREAMING_PAYLOAD, CHUNKED_AUTH, false);
    let mut body = chunked_body(CHUNK_SIGNATURES, None);
    body.truncate(body.len() - 2);
    body.extend_from_slice(b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    assert!(matches!(decode(&head, &body, 4096), Err(AuthError::Body(BodyError::Malformed(_)))));
}

#[test]
fn extreme_dates_and_expiries_are_refused_without_panicking() {
    let policy = Policy::s3("us-east-1");
    let now = at("20130524T120000Z");
    for (from, to) in [
        ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=99991231T235959Z"),
        ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=00000101T000000Z"),
        ("X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013"),
        ("X-Amz-Expires=86400", "X-Amz-Expires=99999999999999999999999"),
        ("X-Amz-Expires=86400", "X-Amz-Expires=-1"),
        ("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524", "X-Amz-Credential=%2F%2F%2F%2F"),
    ] {
        let query = PRESIGNED_QUERY.replace(from, to);
        assert!(s3_keys().verify(&policy, &presigned(&query), None, now).is_err(), "{to}");
    }
}

#[test]
fn a_temporary_key_verifies_with_its_token_and_only_with_it() {
    let sessions = Sessions::new("a cluster secret of some length");
    let keys = suite_keys().with_sessions(sessions.clone());
    let now = at("20150830T123600Z");
    let issued =
        sessions.issue(&Principal::user("000000000000", "alice", "AKIDALICE"), now + chrono::Duration::hours(1));
    let sign = |token: &str| {
        let head = RequestHead {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: vec![
                ("host".into(), "example.amazonaws.com"),
                ("x-amz-date".into(), "20150830T123600Z"),
                ("x-amz-security-token".into(), token),
            ],
        };
        let signed = ["host", "x-amz-date", "x-amz-security-token"];
        let canonical = canonical::canonical_request("GET", "/", "", &head.headers, &signed, EMPTY_HASH).unwrap();
        let to_sign =
            canonical::string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &canonical);
        let key = signing_key(&issued.secret_access_key, "20150830", "us-east-1", "service");
        format!(
            "AWS4-HMAC-SHA256 Credential={}/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
            issued.access_key_id,
            signed.join(";"),
            hex::encode(canonical::hmac(&key, to_sign.as_bytes()))
        )
    };
    let with_token = |token: &'static str, authorization: &'static str| RequestHead {
        method: "GET",
        raw_path: "/",
        raw_query: "",
        headers: vec![
            ("host".into(), "example.amazonaws.com"),
            ("x-amz-date".into(), "20150830T123600Z"),
            ("x-amz-security-token".into(), token),
            ("authorization".into(), authorization),
        ],
    };
    let token: &'static str = Box::leak(issued.session_token.clone().into_boxed_str());
    let authorization: &'static str = Box::leak(sign(token).into_boxed_str());
    let verified = keys.verify(&suite_policy(), &with_token(token, authorization), Some(b""), now).unwrap();
    assert_eq!(verified.principal.arn, "arn:aws:iam::000000000000:user/alice");
    assert!(verified.principal.temporary);
    let other = sessions.issue(&Principal::root("000000000000", "AKIDEXAMPLE"), now + chrono::Duration::hours(1));
    let other_token: &'static str = Box::leak(other.session_token.into_boxed_str());
    let resigned: &'static str = Box::leak(sign(other_token).into_boxed_str());
    assert_eq!(
        keys.verify(&suite_policy(), &with_token(other_token, resigned), Some(b""), now).unwrap_err(),
        AuthError::InvalidToken
    );
}

#[test]
fn a_session_token_may_go_unsigned_outside_s3_only() {
    let sessions = Sessions::new("a cluster secret of some length");
    let keys = suite_keys().with_sessions(sessions.clone());
    let now = at("20150830T123600Z");
    let issued = sessions.issue(&Principal::root("000000000000", "AKIDEXAMPLE"), now + chrono::Duration::hours(1));
    let mut head = RequestHead {
        method: "GET",
        raw_path: "/",
        raw_query: "",
        headers: vec![("host".into(), "example.amazonaws.com"), ("x-amz-date".into(), "20150830T123600Z")],
    };
    let signed = ["host", "x-amz-date"];
    let canonical = canonical::canonical_request("GET", "/", "", &head.headers, &signed, EMPTY_HASH).unwrap();
    let to_sign = canonical::string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &canonical);
    let key = signing_key(&issued.secret_access_key, "20150830", "us-east-1", "service");
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
        issued.access_key_id,
        hex::encode(canonical::hmac(&key, to_sign.as_bytes()))
    );
    head.headers.push(("x-amz-security-token".into(), &issued.session_token));
    head.headers.push(("authorization".into(), &authorization));
    assert!(keys.verify(&suite_policy(), &head, Some(b""), now).unwrap().principal.temporary);
    let s3 = Policy { service: "service", ..Policy::s3("us-east-1") };
    head.headers.push(("x-amz-content-sha256".into(), EMPTY_HASH));
    assert_eq!(
        keys.verify(&s3, &head, None, now).unwrap_err(),
        AuthError::UnsignedHeader("x-amz-security-token".into())
    );
}
