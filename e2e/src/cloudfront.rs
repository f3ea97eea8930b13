//! Distributions as the cdn suites and benchmark make them through
//! `aws-sdk-cloudfront`, and the plain HTTP client a viewer uses to reach
//! them by `Host` without DNS.

use std::{net::SocketAddr, time::Duration};

use aws_sdk_cloudfront::types::{
    Aliases, CacheBehavior, CacheBehaviors, CustomErrorResponse, CustomErrorResponses, CustomOriginConfig,
    DefaultCacheBehavior, DistributionConfig, Origin, OriginProtocolPolicy, Origins, ViewerProtocolPolicy,
};

/// The managed cache policies, by the ids AWS gives them.
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
pub const USE_ORIGIN_CACHE_CONTROL_HEADERS: &str = "83da9c7e-98b4-4e11-a168-04f0df8e2c65";
pub const USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS: &str = "4cc15a8a-d715-48a4-82b8-cc0b614638fe";
/// The managed origin request policies.
pub const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";
pub const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// A custom origin over plain HTTP at `domain:port`.
pub fn http_origin(id: &str, domain: &str, port: u16) -> Origin {
    Origin::builder()
        .id(id)
        .domain_name(domain)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(port as i32)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
                .origin_read_timeout(5)
                .origin_keepalive_timeout(5)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// The default behavior: every viewer protocol, a cache policy by id.
pub fn default_behavior(origin_id: &str, cache_policy: &str) -> DefaultCacheBehavior {
    DefaultCacheBehavior::builder()
        .target_origin_id(origin_id)
        .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
        .cache_policy_id(cache_policy)
        .compress(true)
        .build()
        .unwrap()
}

/// An ordered behavior for `pattern`.
pub fn behavior(
    pattern: &str,
    origin_id: &str,
    cache_policy: &str,
) -> aws_sdk_cloudfront::types::builders::CacheBehaviorBuilder {
    CacheBehavior::builder()
        .path_pattern(pattern)
        .target_origin_id(origin_id)
        .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
        .cache_policy_id(cache_policy)
        .compress(true)
}

/// A distribution config over `origins` with its behaviors and, for
/// `aliases`, the names it also answers to.
pub fn distribution(
    reference: &str,
    origins: Vec<Origin>,
    default: DefaultCacheBehavior,
    ordered: Vec<CacheBehavior>,
    aliases: &[&str],
) -> aws_sdk_cloudfront::types::builders::DistributionConfigBuilder {
    let mut config = DistributionConfig::builder()
        .caller_reference(reference)
        .comment(reference)
        .enabled(true)
        .origins(Origins::builder().quantity(origins.len() as i32).set_items(Some(origins)).build().unwrap())
        .default_cache_behavior(default);
    if !ordered.is_empty() {
        config = config.cache_behaviors(
            CacheBehaviors::builder().quantity(ordered.len() as i32).set_items(Some(ordered)).build().unwrap(),
        );
    }
    if !aliases.is_empty() {
        config = config.aliases(
            Aliases::builder()
                .quantity(aliases.len() as i32)
                .set_items(Some(aliases.iter().map(|alias| alias.to_string()).collect()))
                .build()
                .unwrap(),
        );
    }
    config
}

/// Custom error responses: each status in `codes` answered with
/// `page` and `response_code`, cached for `ttl` seconds.
pub fn error_responses(
    codes: &[i32],
    page: Option<&str>,
    response_code: Option<&str>,
    ttl: i64,
) -> CustomErrorResponses {
    let items: Vec<_> = codes
        .iter()
        .map(|code| {
            CustomErrorResponse::builder()
                .error_code(*code)
                .set_response_page_path(page.map(str::to_owned))
                .set_response_code(response_code.map(str::to_owned))
                .error_caching_min_ttl(ttl)
                .build()
                .unwrap()
        })
        .collect();
    CustomErrorResponses::builder().quantity(items.len() as i32).set_items(Some(items)).build().unwrap()
}

/// Creates `config` and returns the distribution's id and domain name.
pub async fn create(cloudfront: &aws_sdk_cloudfront::Client, config: DistributionConfig) -> (String, String) {
    let created =
        cloudfront.create_distribution().distribution_config(config).send().await.expect("CreateDistribution");
    let distribution = created.distribution().expect("a distribution");
    let (id, domain) = (distribution.id().to_owned(), distribution.domain_name().to_owned());
    wait_deployed(cloudfront, &id).await;
    (id, domain)
}

/// Waits (ten seconds at most) until every replica serves distribution
/// `id`'s latest config, as CloudFront's `Deployed` says.
pub async fn wait_deployed(cloudfront: &aws_sdk_cloudfront::Client, id: &str) {
    for _ in 0..200 {
        let got = cloudfront.get_distribution().id(id).send().await.expect("GetDistribution");
        if got.distribution().map(|distribution| distribution.status()) == Some("Deployed") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("distribution {id} was never deployed");
}

/// Waits (ten seconds at most) until invalidation `id` is Completed.
pub async fn wait_invalidated(cloudfront: &aws_sdk_cloudfront::Client, distribution: &str, id: &str) {
    for _ in 0..200 {
        let got = cloudfront.get_invalidation().distribution_id(distribution).id(id).send().await.unwrap();
        if got.invalidation().map(|invalidation| invalidation.status()) == Some("Completed") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("invalidation {id} never completed");
}

/// Starts an invalidation of `paths` and returns its id.
pub async fn invalidate(cloudfront: &aws_sdk_cloudfront::Client, distribution: &str, paths: &[&str]) -> String {
    use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
    let batch = InvalidationBatch::builder()
        .caller_reference(format!("invalidation-{}", crate::unique_keyspace()))
        .paths(
            Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.iter().map(|path| path.to_string()).collect()))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created =
        cloudfront.create_invalidation().distribution_id(distribution).invalidation_batch(batch).send().await.unwrap();
    created.invalidation().expect("an invalidation").id().to_owned()
}

/// A viewer: a plain HTTP client that reaches `hosts` at `address` (the
/// cdn's HTTP port) without DNS, follows no redirects and decodes no
/// bodies, so the test sees what the cdn sent.
pub fn viewer(address: SocketAddr, hosts: &[&str]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy();
    for host in hosts {
        builder = builder.resolve(host, address);
    }
    builder.build().unwrap()
}

/// The value of `name` in `response`, or "".
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
}
