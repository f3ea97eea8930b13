//! The line format against CloudFront's documented examples, and the
//! writer through the public interface.

use std::collections::HashMap;

use super::*;
use crate::site::Logging;

fn at(text: &str) -> SystemTime {
    DateTime::parse_from_rfc3339(text).unwrap().into()
}

fn value(text: &str) -> Option<HeaderValue> {
    Some(HeaderValue::from_str(text).unwrap())
}

fn formatted(line: &LogLine, edge_location: &str, domain_name: &str) -> String {
    let mut out = String::new();
    format_line(&mut out, edge_location, domain_name, line);
    out
}

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36";

#[test]
fn a_hit_is_written_as_cloudfront_documents_it() {
    let line = LogLine {
        time: at("2019-12-04T21:02:31Z"),
        client: "192.0.2.100:11040".parse().unwrap(),
        method: http::Method::GET,
        uri: "/index.html".parse().unwrap(),
        status: 200,
        sc_bytes: 392,
        cs_bytes: 23,
        user_agent: value(CHROME),
        host: value("d111111abcdef8.cloudfront.net"),
        result: EdgeResult::Hit,
        response_result: EdgeResult::Hit,
        request_id: "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==".into(),
        https: true,
        tls: Some(("TLSv1.2".into(), "ECDHE-RSA-AES128-GCM-SHA256".into())),
        version: http::Version::HTTP_2,
        time_taken: Duration::from_micros(1_200),
        time_to_first_byte: Duration::from_micros(900),
        content_type: value("text/html"),
        content_length: Some(78),
        ..LogLine::default()
    };
    // The first line of the example in CloudFront's guide.
    let expected = "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\t\
Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t\
-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\t\
ECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-\n";
    assert_eq!(formatted(&line, "LAX1", "d111111abcdef8.cloudfront.net"), expected);
    assert_eq!(expected.trim_end().split('\t').count(), 33);
    assert_eq!(HEADER.lines().nth(1).unwrap().split(' ').count(), 34);
}

#[test]
fn an_origin_error_is_written_as_cloudfront_documents_it() {
    let line = LogLine {
        time: at("2019-12-13T22:36:27Z"),
        client: "192.0.2.200:25260".parse().unwrap(),
        uri: "/favicon.ico".parse().unwrap(),
        status: 502,
        sc_bytes: 900,
        cs_bytes: 675,
        referer: value("http://www.example.com/"),
        user_agent: value(CHROME),
        host: value("www.example.com"),
        result: EdgeResult::Error,
        response_result: EdgeResult::Error,
        detailed_result: Some("OriginDnsError"),
        request_id: "1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==".into(),
        time_taken: Duration::from_millis(102),
        time_to_first_byte: Duration::from_millis(102),
        content_type: value("text/html"),
        content_length: Some(507),
        ..LogLine::default()
    };
    let expected = "2019-12-13\t22:36:27\tSEA19-C1\t900\t192.0.2.200\tGET\td111111abcdef8.cloudfront.net\t/favicon.ico\t502\t\
http://www.example.com/\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t\
-\t-\tError\t1pkpNfBQ39sYMnjjUQjmH2w1wdJnbHYTbag21o_3OfcQgPzdL2RSSQ==\twww.example.com\thttp\t675\t0.102\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t\
25260\t0.102\tOriginDnsError\ttext/html\t507\t-\t-\n";
    assert_eq!(formatted(&line, "SEA19-C1", "d111111abcdef8.cloudfront.net"), expected);
}

#[test]
fn values_are_url_encoded_as_cloudfront_encodes_them() {
    let mut out = String::new();
    escape(&mut out, b"<>\"#%{}|\\^~[]`' ");
    assert_eq!(out, "%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60%27%20");
    let mut out = String::new();
    escape(&mut out, b"a\tb\nc\rd\x00e\x7f");
    assert_eq!(out, "a%09b%0Ac%0Dd%00e%7F");
    let mut out = String::new();
    escape(&mut out, "café".as_bytes());
    assert_eq!(out, "caf%C3%A9");
    let mut out = String::new();
    escape(&mut out, b"");
    assert_eq!(out, "-");
    // What needs no encoding is left alone.
    let mut out = String::new();
    escape(&mut out, b"/a/b.html;v=1,2&x=(y)!*+$@:?");
    assert_eq!(out, "/a/b.html;v=1,2&x=(y)!*+$@:?");
}

#[test]
fn the_stem_query_status_and_range_fields() {
    let line = LogLine {
        time: at("2024-02-29T23:59:59.999Z"),
        client: "[2001:db8::1]:4000".parse().unwrap(),
        method: http::Method::HEAD,
        uri: "/a%20b/c%22.txt?x=1&y=%2F".parse().unwrap(),
        status: 0,
        cookie: value("session=abc; theme=dark"),
        forwarded_for: value("203.0.113.9"),
        range: Some((100, 199)),
        content_length: Some(100),
        version: http::Version::HTTP_10,
        ..LogLine::default()
    };
    let text = formatted(&line, "NUBO1", "e1.cloudfront.localhost");
    let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
    assert_eq!(fields.len(), 33);
    let named: HashMap<&str, &str> =
        HEADER.lines().nth(1).unwrap().split(' ').skip(1).zip(fields.iter().copied()).collect();
    assert_eq!(named["date"], "2024-02-29");
    assert_eq!(named["time"], "23:59:59");
    assert_eq!(named["c-ip"], "2001:db8::1");
    assert_eq!(named["c-port"], "4000");
    assert_eq!(named["cs-method"], "HEAD");
    // The stem as the viewer sent it, its `%` encoded again, as
    // CloudFront's logs show it; the query without its `?`.
    assert_eq!(named["cs-uri-stem"], "/a%2520b/c%2522.txt");
    assert_eq!(named["cs-uri-query"], "x=1&y=%252F");
    assert_eq!(named["sc-status"], "000");
    assert_eq!(named["cs(Cookie)"], "session=abc;%20theme=dark");
    assert_eq!(named["x-forwarded-for"], "203.0.113.9");
    assert_eq!(named["cs-protocol"], "http");
    assert_eq!(named["ssl-protocol"], "-");
    assert_eq!(named["cs-protocol-version"], "HTTP/1.0");
    assert_eq!(named["x-edge-detailed-result-type"], "Miss");
    assert_eq!(named["sc-content-type"], "-");
    assert_eq!(named["sc-content-len"], "100");
    assert_eq!(named["sc-range-start"], "100");
    assert_eq!(named["sc-range-end"], "199");
    assert_eq!(named["x-edge-request-id"], "-");
}

#[test]
fn outcomes_map_to_cloudfront_result_types() {
    assert_eq!(EdgeResult::from(Outcome::Hit).as_str(), "Hit");
    assert_eq!(EdgeResult::from(Outcome::RefreshHit).as_str(), "RefreshHit");
    assert_eq!(EdgeResult::from(Outcome::Miss).as_str(), "Miss");
    assert_eq!(EdgeResult::from(Outcome::Pass).as_str(), "Miss");
    assert_eq!(EdgeResult::from(Outcome::Error).as_str(), "Error");
}

fn site(id: &str, logging: Option<Logging>) -> Site {
    Site {
        id: id.into(),
        domain_name: format!("{}.cloudfront.localhost", id.to_ascii_lowercase()),
        aliases: vec![],
        enabled: true,
        default_root_object: None,
        behaviors: vec![],
        error_responses: HashMap::new(),
        logging,
        version: 1,
    }
}

fn logged(prefix: &str, include_cookies: bool) -> Option<Logging> {
    Some(Logging { prefix: prefix.into(), include_cookies })
}

/// Every file under `root`, by path relative to it, with its text.
fn files(root: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                found.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn lines_go_to_one_file_per_distribution_and_hour() {
    let state = tempfile::tempdir().unwrap();
    let log = AccessLog::start(state.path(), "NUBO1");
    let root = state.path().join("cdn/logs");
    let first = site("E1ABC", logged("web/", true));
    let line = |time: &str, path: &str| LogLine {
        time: at(time),
        uri: path.parse().unwrap(),
        status: 200,
        cookie: value("a=1"),
        ..LogLine::default()
    };
    log.record(&first, line("2024-05-01T10:00:01Z", "/one"));
    log.record(&first, line("2024-05-01T10:59:59Z", "/two"));
    log.record(&first, line("2024-05-01T11:00:00Z", "/three"));
    // A late line of a closed hour goes back to that hour's file.
    log.record(&first, line("2024-05-01T10:30:00Z", "/late"));
    // A prefix cannot climb out of the distribution's directory.
    log.record(&site("E2DEF", logged("../../x//y", false)), line("2024-05-01T10:00:00Z", "/other"));
    // Not logging: nothing written.
    log.record(&site("E3GHI", None), line("2024-05-01T10:00:00Z", "/quiet"));
    log.flush().await;
    assert_eq!(log.dropped(), 0);

    let written = files(&root);
    let names: Vec<&str> = written.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let unique = names[0].rsplit('.').next().unwrap();
    assert_eq!(unique.len(), 12);
    assert_eq!(
        names,
        [
            format!("E1ABC/web/E1ABC.2024-05-01-10.{unique}"),
            format!("E1ABC/web/E1ABC.2024-05-01-11.{unique}"),
            format!("E2DEF/x/y/E2DEF.2024-05-01-10.{unique}"),
        ]
    );
    let stems = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| line.split('\t').nth(7).unwrap().to_owned())
            .collect()
    };
    let (ten, eleven, other) = (&written[0].1, &written[1].1, &written[2].1);
    assert!(ten.starts_with(HEADER), "{ten}");
    assert_eq!(ten.matches("#Version").count(), 1, "{ten}");
    assert_eq!(stems(ten), ["/one", "/two", "/late"]);
    assert!(eleven.starts_with(HEADER));
    assert_eq!(stems(eleven), ["/three"]);
    // Cookies only where the distribution includes them.
    assert!(ten.lines().nth(2).unwrap().split('\t').nth(12) == Some("a=1"), "{ten}");
    assert_eq!(other.lines().nth(2).unwrap().split('\t').nth(12), Some("-"));
    assert!(ten.lines().nth(2).unwrap().contains("\te1abc.cloudfront.localhost\t"));
}

#[test]
fn a_full_queue_drops_lines_and_counts_them() {
    // A queue of one that nobody reads.
    let (sender, _receiver) = mpsc::channel(1);
    let log = AccessLog { inner: Arc::new(Inner { sender: Some(sender), dropped: Arc::default() }) };
    let site = site("E1", logged("", false));
    for _ in 0..5 {
        log.record(&site, LogLine::default());
    }
    assert_eq!(log.dropped(), 4);
    // A disabled log drops nothing, because it takes nothing.
    let disabled = AccessLog::disabled();
    disabled.record(&site, LogLine::default());
    assert_eq!(disabled.dropped(), 0);
}

#[tokio::test]
async fn lines_that_cannot_be_written_are_counted_as_dropped() {
    let state = tempfile::tempdir().unwrap();
    // `cdn` is a file, so no log directory can be made under it.
    std::fs::write(state.path().join("cdn"), b"not a directory").unwrap();
    let log = AccessLog::start(state.path(), "NUBO1");
    let site = site("E1", logged("", false));
    log.record(&site, LogLine { time: at("2024-05-01T10:00:00Z"), ..LogLine::default() });
    log.record(&site, LogLine { time: at("2024-05-01T10:00:01Z"), ..LogLine::default() });
    log.flush().await;
    assert_eq!(log.dropped(), 2);
}
