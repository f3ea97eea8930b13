//! CloudFront's managed policies, by their AWS ids and with the settings
//! AWS documents for them ("Use managed cache policies", "Use managed
//! origin request policies", "Use managed response headers policies").
//! They exist in every account, are listed with `Type=managed`, and can be
//! neither updated nor deleted.

use crate::model::{Node, list_of};

/// The `LastModifiedTime` answered for every managed policy: they are
/// not the account's, so they have no creation of their own.
pub const LAST_MODIFIED: &str = "2020-05-01T00:00:00.000Z";

/// `(id, config)` of each managed cache policy.
pub fn cache_policies() -> Vec<(&'static str, Node)> {
    const ORIGIN_HEADERS: &[&str] = &["host", "origin", "x-http-method-override", "x-http-method", "x-method-override"];
    vec![
        (
            "658327ea-f89d-4fab-a63d-7e88639e58f6",
            cache_policy(
                "Managed-CachingOptimized",
                "Policy with caching enabled. Supports Gzip and Brotli compression.",
                [1, 86_400, 31_536_000],
                Key::none(true),
            ),
        ),
        (
            "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            cache_policy("Managed-CachingDisabled", "Policy with caching disabled", [0, 0, 0], Key::none(false)),
        ),
        (
            "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
            cache_policy(
                "Managed-UseOriginCacheControlHeaders",
                "Policy for origins that return Cache-Control headers. Query strings are not included in the cache key.",
                [0, 0, 31_536_000],
                Key { headers: ORIGIN_HEADERS, cookies: "all", query_strings: ("none", &[]), compressed: true },
            ),
        ),
        (
            "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
            cache_policy(
                "Managed-UseOriginCacheControlHeaders-QueryStrings",
                "Policy for origins that return Cache-Control headers and serve different content based on values present in the query string.",
                [0, 0, 31_536_000],
                Key { headers: ORIGIN_HEADERS, cookies: "all", query_strings: ("all", &[]), compressed: true },
            ),
        ),
        (
            "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
            cache_policy(
                "Managed-CachingOptimizedForUncompressedObjects",
                "Default policy when compression is disabled",
                [1, 86_400, 31_536_000],
                Key::none(false),
            ),
        ),
        (
            "08627262-05a9-4f76-9ded-b50ca2e3a84f",
            cache_policy(
                "Managed-Elemental-MediaPackage",
                "Policy for Elemental MediaPackage Origin",
                [0, 86_400, 31_536_000],
                Key {
                    headers: &["origin"],
                    cookies: "none",
                    query_strings: ("whitelist", &["aws.manifestfilter", "start", "end", "m"]),
                    compressed: false,
                },
            ),
        ),
        (
            "2e54312d-136d-493c-8eb9-b001f22f67d2",
            cache_policy(
                "Managed-Amplify",
                "Policy for Amplify Origin",
                [2, 2, 600],
                Key {
                    headers: &["Authorization", "CloudFront-Viewer-Country", "Host"],
                    cookies: "all",
                    query_strings: ("all", &[]),
                    compressed: true,
                },
            ),
        ),
    ]
}

/// What a managed cache policy keys on.
struct Key {
    headers: &'static [&'static str],
    cookies: &'static str,
    query_strings: (&'static str, &'static [&'static str]),
    compressed: bool,
}

impl Key {
    fn none(compressed: bool) -> Self {
        Key { headers: &[], cookies: "none", query_strings: ("none", &[]), compressed }
    }
}

fn cache_policy(name: &str, comment: &str, [min, default, max]: [u64; 3], key: Key) -> Node {
    let headers = if key.headers.is_empty() { "none" } else { "whitelist" };
    let parameters = Node::new("ParametersInCacheKeyAndForwardedToOrigin")
        .with(Node::leaf("EnableAcceptEncodingGzip", key.compressed.to_string()))
        .with(Node::leaf("EnableAcceptEncodingBrotli", key.compressed.to_string()))
        .with(headers_config(headers, key.headers))
        .with(Node::new("CookiesConfig").with(Node::leaf("CookieBehavior", key.cookies)).with(list_of(
            "Cookies",
            "Name",
            &[],
        )))
        .with(query_strings_config(key.query_strings.0, key.query_strings.1));
    Node::new("CachePolicyConfig")
        .with(Node::leaf("Comment", comment))
        .with(Node::leaf("Name", name))
        .with(Node::leaf("DefaultTTL", default.to_string()))
        .with(Node::leaf("MaxTTL", max.to_string()))
        .with(Node::leaf("MinTTL", min.to_string()))
        .with(parameters)
}

fn headers_config(behavior: &str, names: &[&str]) -> Node {
    Node::new("HeadersConfig").with(Node::leaf("HeaderBehavior", behavior)).with(list_of("Headers", "Name", names))
}

fn query_strings_config(behavior: &str, names: &[&str]) -> Node {
    Node::new("QueryStringsConfig").with(Node::leaf("QueryStringBehavior", behavior)).with(list_of(
        "QueryStrings",
        "Name",
        names,
    ))
}

/// The CloudFront headers `AllViewerAndCloudFrontHeaders-2022-06` adds.
const CLOUDFRONT_HEADERS: &[&str] = &[
    "CloudFront-Viewer-Address",
    "CloudFront-Viewer-ASN",
    "CloudFront-Viewer-City",
    "CloudFront-Viewer-Country",
    "CloudFront-Viewer-Country-Name",
    "CloudFront-Viewer-Country-Region",
    "CloudFront-Viewer-Country-Region-Name",
    "CloudFront-Viewer-Header-Count",
    "CloudFront-Viewer-Header-Order",
    "CloudFront-Viewer-Http-Version",
    "CloudFront-Viewer-JA3-Fingerprint",
    "CloudFront-Viewer-Latitude",
    "CloudFront-Viewer-Longitude",
    "CloudFront-Viewer-Metro-Code",
    "CloudFront-Viewer-Postal-Code",
    "CloudFront-Viewer-Time-Zone",
    "CloudFront-Viewer-TLS",
    "CloudFront-Forwarded-Proto",
    "CloudFront-Is-Android-Viewer",
    "CloudFront-Is-Desktop-Viewer",
    "CloudFront-Is-IOS-Viewer",
    "CloudFront-Is-Mobile-Viewer",
    "CloudFront-Is-SmartTV-Viewer",
    "CloudFront-Is-Tablet-Viewer",
];

/// `(id, config)` of each managed origin request policy.
pub fn origin_request_policies() -> Vec<(&'static str, Node)> {
    vec![
        (
            "216adef6-5c7f-47e4-b989-5492eafa07d3",
            origin_request_policy(
                "Managed-AllViewer",
                "Policy to forward all parameters in viewer requests",
                ("allViewer", &[]),
                "all",
                "all",
            ),
        ),
        (
            "b689b0a8-53d0-40ab-baf2-68738e2966ac",
            origin_request_policy(
                "Managed-AllViewerExceptHostHeader",
                "Policy to forward all parameters in viewer requests except for the Host header",
                ("allExcept", &["host"]),
                "all",
                "all",
            ),
        ),
        (
            "33f36d7e-f396-46d9-90e0-52428a34d9dc",
            origin_request_policy(
                "Managed-AllViewerAndCloudFrontHeaders-2022-06",
                "Policy to forward all parameters in viewer requests and all CloudFront headers",
                ("allViewerAndWhitelistCloudFront", CLOUDFRONT_HEADERS),
                "all",
                "all",
            ),
        ),
        (
            "59781a5b-3903-41f3-afcb-af62929ccde1",
            origin_request_policy(
                "Managed-CORS-CustomOrigin",
                "Policy for Custom Origin with CORS",
                ("whitelist", &["origin"]),
                "none",
                "none",
            ),
        ),
        (
            "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf",
            origin_request_policy(
                "Managed-CORS-S3Origin",
                "Policy for S3 origin with CORS",
                ("whitelist", &["origin", "access-control-request-headers", "access-control-request-method"]),
                "none",
                "none",
            ),
        ),
        (
            "acba4595-bd28-49b8-b9fe-13317c0390fa",
            origin_request_policy(
                "Managed-UserAgentRefererHeaders",
                "Policy for forwarding User-Agent and Referer headers",
                ("whitelist", &["user-agent", "referer"]),
                "none",
                "none",
            ),
        ),
        (
            "775133bc-15f2-49f9-abea-afb2e0bf67d2",
            origin_request_policy(
                "Managed-Elemental-MediaTailor-PersonalizedManifests",
                "Policy for Elemental MediaTailor Personalized Manifests",
                (
                    "whitelist",
                    &[
                        "origin",
                        "access-control-request-headers",
                        "x-forwarded-for",
                        "access-control-request-method",
                        "user-agent",
                    ],
                ),
                "none",
                "all",
            ),
        ),
    ]
}

fn origin_request_policy(
    name: &str,
    comment: &str,
    headers: (&str, &[&str]),
    cookies: &str,
    query_strings: &str,
) -> Node {
    Node::new("OriginRequestPolicyConfig")
        .with(Node::leaf("Comment", comment))
        .with(Node::leaf("Name", name))
        .with(headers_config(headers.0, headers.1))
        .with(Node::new("CookiesConfig").with(Node::leaf("CookieBehavior", cookies)).with(list_of(
            "Cookies",
            "Name",
            &[],
        )))
        .with(query_strings_config(query_strings, &[]))
}

/// `(id, config)` of each managed response headers policy. The headers a
/// viewer gets from them are `crate::response_headers`' business; these
/// are what the API lists.
pub fn response_headers_policies() -> Vec<(&'static str, Node)> {
    let simple_cors = cors(&["*"], &["*"], &["ALL"], None, false);
    let preflight = cors(&["*"], &["*"], &["ALL"], Some(&["*"]), false);
    vec![
        (
            "5cc3b908-e619-4b99-88e5-2cf7f45965bd",
            response_headers_policy(
                "Managed-CORS-With-Preflight",
                "Allows all origins for CORS requests, including preflight requests",
                Some(preflight.clone()),
                false,
            ),
        ),
        (
            "67f7725c-6f97-4210-82d7-5512b31e9d03",
            response_headers_policy(
                "Managed-SecurityHeadersPolicy",
                "Adds a set of security headers to every response",
                None,
                true,
            ),
        ),
        (
            "60669652-455b-4ae9-85a4-c4c02393f86c",
            response_headers_policy(
                "Managed-SimpleCORS",
                "Allows all origins for simple CORS requests",
                Some(simple_cors.clone()),
                false,
            ),
        ),
        (
            "e61eb60c-9c35-4d20-a928-2b84e02af89c",
            response_headers_policy(
                "Managed-CORS-and-SecurityHeadersPolicy",
                "Allows all origins for simple CORS requests and adds security headers",
                Some(simple_cors),
                true,
            ),
        ),
        (
            "eaab4381-ed33-4a86-88ca-d9558dc6cd63",
            response_headers_policy(
                "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
                "Allows all origins for CORS requests, including preflight requests, and adds security headers",
                Some(preflight),
                true,
            ),
        ),
    ]
}

fn cors(origins: &[&str], headers: &[&str], methods: &[&str], expose: Option<&[&str]>, credentials: bool) -> Node {
    let mut config = Node::new("CorsConfig")
        .with(list_of("AccessControlAllowOrigins", "Origin", origins))
        .with(list_of("AccessControlAllowHeaders", "Header", headers))
        .with(list_of("AccessControlAllowMethods", "Method", methods))
        .with(Node::leaf("AccessControlAllowCredentials", credentials.to_string()));
    if let Some(expose) = expose {
        config.children.push(list_of("AccessControlExposeHeaders", "Header", expose));
    }
    config.with(Node::leaf("OriginOverride", "false"))
}

fn response_headers_policy(name: &str, comment: &str, cors: Option<Node>, security: bool) -> Node {
    let mut config =
        Node::new("ResponseHeadersPolicyConfig").with(Node::leaf("Comment", comment)).with(Node::leaf("Name", name));
    if let Some(cors) = cors {
        config.children.push(cors);
    }
    if security {
        let override_false = || Node::leaf("Override", "false");
        config.children.push(
            Node::new("SecurityHeadersConfig")
                .with(
                    Node::new("XSSProtection")
                        .with(override_false())
                        .with(Node::leaf("Protection", "true"))
                        .with(Node::leaf("ModeBlock", "true")),
                )
                .with(Node::new("FrameOptions").with(override_false()).with(Node::leaf("FrameOption", "SAMEORIGIN")))
                .with(
                    Node::new("ReferrerPolicy")
                        .with(override_false())
                        .with(Node::leaf("ReferrerPolicy", "strict-origin-when-cross-origin")),
                )
                .with(Node::new("ContentTypeOptions").with(Node::leaf("Override", "true")))
                .with(
                    Node::new("StrictTransportSecurity")
                        .with(override_false())
                        .with(Node::leaf("IncludeSubdomains", "false"))
                        .with(Node::leaf("Preload", "false"))
                        .with(Node::leaf("AccessControlMaxAgeSec", "31536000")),
                ),
        );
    }
    config
}

/// The managed cache policy `id`.
pub fn cache_policy_by_id(id: &str) -> Option<Node> {
    cache_policies().into_iter().find(|(known, _)| *known == id).map(|(_, config)| config)
}

pub fn origin_request_policy_by_id(id: &str) -> Option<Node> {
    origin_request_policies().into_iter().find(|(known, _)| *known == id).map(|(_, config)| config)
}

pub fn response_headers_policy_by_id(id: &str) -> Option<Node> {
    response_headers_policies().into_iter().find(|(known, _)| *known == id).map(|(_, config)| config)
}
