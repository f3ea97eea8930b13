//! The CloudFront API through `aws-sdk-cloudfront` (at the edge and at the
//! cdn's own port), boto3 and the AWS CLI against `nubo up`:
//! distributions, tags, policies managed and custom, public keys, key
//! groups, origin access controls, invalidations, the waiters, and the
//! errors CloudFront answers.

use std::time::{Duration, Instant};

use aws_sdk_cloudfront::{
    Client,
    client::Waiters as _,
    error::ProvideErrorMetadata,
    types::{
        Aliases, AllowedMethods, CachePolicyConfig, CachePolicyCookieBehavior, CachePolicyCookiesConfig,
        CachePolicyHeaderBehavior, CachePolicyHeadersConfig, CachePolicyQueryStringBehavior,
        CachePolicyQueryStringsConfig, CachePolicyType, CachedMethods, CookiePreference, CustomErrorResponse,
        CustomErrorResponses, CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
        EventType, ForwardedValues, FunctionAssociation, FunctionAssociations, InvalidationBatch, ItemSelection,
        KeyGroupConfig, LambdaFunctionAssociation, LambdaFunctionAssociations, Method, Origin,
        OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
        OriginAccessControlSigningProtocols, OriginProtocolPolicy, OriginRequestPolicyConfig,
        OriginRequestPolicyCookieBehavior, OriginRequestPolicyCookiesConfig, OriginRequestPolicyHeaderBehavior,
        OriginRequestPolicyHeadersConfig, OriginRequestPolicyQueryStringBehavior,
        OriginRequestPolicyQueryStringsConfig, Origins, ParametersInCacheKeyAndForwardedToOrigin, Paths,
        PublicKeyConfig, QueryStringNames, S3OriginConfig, Tag, TagKeys, Tags, TrustedKeyGroups, ViewerProtocolPolicy,
    },
};
use nubo_e2e::{Nubo, Ports, Process, cloudfront_client, fixture, path_with_python_tools, try_wait_healthy};
use nubo_host::ServiceName;
use serde_json::Value;

const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

/// The public key of the signed URL fixtures (services/cdn's test data).
fn public_key_pem() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../services/cdn/src/testdata/cloudfront-signer.public.pem");
    std::fs::read_to_string(path).unwrap()
}

/// The error code of a failed call.
fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(result: Result<T, E>) -> String {
    let error = result.expect_err("the call should fail");
    error.code().unwrap_or_else(|| panic!("no error code in {error:?}")).to_owned()
}

/// The error message of a failed call.
fn message<T, E: ProvideErrorMetadata>(result: &Result<T, E>) -> String {
    result.as_ref().err().and_then(|error| error.message()).unwrap_or_default().to_owned()
}

fn origin(id: &str, domain: &str) -> Origin {
    let custom = CustomOriginConfig::builder()
        .http_port(8000)
        .https_port(443)
        .origin_protocol_policy(OriginProtocolPolicy::HttpOnly)
        .build()
        .unwrap();
    Origin::builder().id(id).domain_name(domain).custom_origin_config(custom).build().unwrap()
}

fn behavior(target: &str, policy: &str) -> aws_sdk_cloudfront::types::builders::DefaultCacheBehaviorBuilder {
    DefaultCacheBehavior::builder()
        .target_origin_id(target)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy_id(policy)
}

fn aliases(names: &[&str]) -> Aliases {
    let mut aliases = Aliases::builder().quantity(names.len() as i32);
    for name in names {
        aliases = aliases.items(*name);
    }
    aliases.build().unwrap()
}

/// A distribution over one HTTP origin, on the CachingOptimized policy.
fn config(reference: &str, cnames: &[&str]) -> aws_sdk_cloudfront::types::builders::DistributionConfigBuilder {
    DistributionConfig::builder()
        .caller_reference(reference)
        .aliases(aliases(cnames))
        .origins(Origins::builder().quantity(1).items(origin("web", "origin.example")).build().unwrap())
        .default_cache_behavior(behavior("web", CACHING_OPTIMIZED).build().unwrap())
        .comment("made by the e2e suite")
        .enabled(true)
}

async fn deployed(client: &Client, id: &str) {
    let started = Instant::now();
    client.wait_until_distribution_deployed().id(id).wait(Duration::from_secs(30)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the waiter took {:?}", started.elapsed());
}

#[tokio::test]
async fn distributions_are_created_read_updated_listed_disabled_and_deleted() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    // Through the edge, as AWS_ENDPOINT_URL users have it, and at the cdn
    // port itself: one API.
    let edge = cloudfront_client(&nubo.edge_url());
    let direct = cloudfront_client(&nubo.http_url(ServiceName::Cdn));

    let created = edge
        .create_distribution()
        .distribution_config(config("e2e-1", &["www.e2e.example", "localhost"]).build().unwrap())
        .send()
        .await
        .unwrap();
    let distribution = created.distribution().unwrap();
    let id = distribution.id().to_owned();
    assert_eq!(distribution.status(), "InProgress", "a change is in progress when it is answered");
    assert_eq!(distribution.domain_name(), format!("{}.cloudfront.localhost", id.to_ascii_lowercase()));
    assert_eq!(distribution.arn(), format!("arn:aws:cloudfront::000000000000:distribution/{id}"));
    assert!(id.starts_with('E') && id.len() == 14, "{id}");
    assert!(created.location().unwrap().ends_with(&format!("/2020-05-31/distribution/{id}")));
    let first_etag = created.e_tag().unwrap().to_owned();

    // The waiter polls once at once, then only after a minute: it must
    // find the distribution deployed on its first look.
    deployed(&direct, &id).await;
    let got = direct.get_distribution().id(&id).send().await.unwrap();
    assert_eq!(got.distribution().unwrap().status(), "Deployed");
    assert_eq!(got.e_tag(), Some(first_etag.as_str()));

    // GetDistributionConfig answers what was sent, with CloudFront's defaults.
    let config_answer = edge.get_distribution_config().id(&id).send().await.unwrap();
    let stored = config_answer.distribution_config().unwrap().clone();
    assert_eq!(stored.aliases().unwrap().items(), ["www.e2e.example", "localhost"]);
    assert_eq!(stored.price_class().map(|class| class.as_str()), Some("PriceClass_All"));
    assert_eq!(stored.http_version().map(|version| version.as_str()), Some("http2"));
    let stored_origin = &stored.origins().unwrap().items()[0];
    assert_eq!(stored_origin.connection_attempts(), Some(3));
    assert_eq!(stored_origin.custom_origin_config().unwrap().origin_read_timeout(), Some(30));
    let allowed = stored.default_cache_behavior().unwrap().allowed_methods().unwrap();
    assert_eq!(allowed.quantity(), 2);

    // Updates need the current ETag in If-Match.
    let changed = DistributionConfig::builder()
        .set_caller_reference(Some(stored.caller_reference().to_owned()))
        .set_aliases(stored.aliases().cloned())
        .set_origins(stored.origins().cloned())
        .set_default_cache_behavior(stored.default_cache_behavior().cloned())
        .comment("changed")
        .enabled(true)
        .build()
        .unwrap();
    let update = || edge.update_distribution().id(&id).distribution_config(changed.clone());
    assert_eq!(code(update().send().await), "InvalidIfMatchVersion");
    assert_eq!(code(update().if_match("E0000000000000").send().await), "PreconditionFailed");
    let updated = update().if_match(&first_etag).send().await.unwrap();
    assert_eq!(updated.distribution().unwrap().status(), "InProgress");
    assert_eq!(updated.distribution().unwrap().distribution_config().unwrap().comment(), "changed");
    let second_etag = updated.e_tag().unwrap().to_owned();
    assert_ne!(second_etag, first_etag);
    assert_eq!(code(update().if_match(&first_etag).send().await), "PreconditionFailed", "a stale ETag");
    let moved = DistributionConfig::builder()
        .caller_reference("another-reference")
        .set_origins(stored.origins().cloned())
        .set_default_cache_behavior(stored.default_cache_behavior().cloned())
        .comment("")
        .enabled(true)
        .build()
        .unwrap();
    let illegal = edge.update_distribution().id(&id).if_match(&second_etag).distribution_config(moved).send().await;
    assert_eq!(code(illegal), "IllegalUpdate");

    // A CNAME answers for one distribution only.
    let taken = edge
        .create_distribution()
        .distribution_config(config("e2e-2", &["WWW.e2e.example"]).build().unwrap())
        .send()
        .await;
    assert_eq!(code(taken), "CNAMEAlreadyExists");

    // A caller reference makes one distribution: the same config answers
    // it again, another config is refused.
    let again = edge
        .create_distribution()
        .distribution_config(config("e2e-1", &["www.e2e.example", "localhost"]).comment("changed").build().unwrap())
        .send()
        .await;
    assert!(again.is_err() || again.as_ref().unwrap().distribution().unwrap().id() == id);
    let reused = edge
        .create_distribution()
        .distribution_config(config("e2e-1", &[]).comment("something else").build().unwrap())
        .send()
        .await;
    assert_eq!(code(reused), "DistributionAlreadyExists");

    // More distributions, then pages of one.
    for n in 0..3 {
        edge.create_distribution()
            .distribution_config(config(&format!("page-{n}"), &[]).build().unwrap())
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = direct.list_distributions().max_items(1).set_marker(marker.clone()).send().await.unwrap();
        let list = page.distribution_list().unwrap();
        assert_eq!(list.max_items(), 1);
        seen.extend(list.items().iter().map(|summary| summary.id().to_owned()));
        if !list.is_truncated() {
            break;
        }
        marker = list.next_marker().map(str::to_owned);
    }
    assert_eq!(seen.len(), 4);
    assert!(seen.contains(&id));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "listed in id order, each once");

    // Deleting needs it disabled first, as CloudFront insists.
    assert_eq!(code(edge.delete_distribution().id(&id).if_match(&second_etag).send().await), "DistributionNotDisabled");
    let disabled = DistributionConfig::builder()
        .set_caller_reference(Some(stored.caller_reference().to_owned()))
        .set_aliases(stored.aliases().cloned())
        .set_origins(stored.origins().cloned())
        .set_default_cache_behavior(stored.default_cache_behavior().cloned())
        .comment("changed")
        .enabled(false)
        .build()
        .unwrap();
    let off =
        edge.update_distribution().id(&id).if_match(&second_etag).distribution_config(disabled).send().await.unwrap();
    deployed(&edge, &id).await;
    assert_eq!(code(edge.delete_distribution().id(&id).send().await), "InvalidIfMatchVersion");
    edge.delete_distribution().id(&id).if_match(off.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(code(edge.get_distribution().id(&id).send().await), "NoSuchDistribution");
    assert_eq!(code(edge.get_distribution_config().id(&id).send().await), "NoSuchDistribution");

    // Its CNAMEs are free again.
    edge.create_distribution()
        .distribution_config(config("e2e-3", &["www.e2e.example"]).build().unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_configs_are_refused_with_cloudfronts_errors() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let client = cloudfront_client(&nubo.edge_url());
    let create = |config: DistributionConfig| client.create_distribution().distribution_config(config).send();

    let inconsistent = config("bad-1", &[]).aliases(Aliases::builder().quantity(2).items("a.example").build().unwrap());
    assert_eq!(code(create(inconsistent.build().unwrap()).await), "InconsistentQuantities");
    let unknown_origin =
        config("bad-2", &[]).default_cache_behavior(behavior("nowhere", CACHING_OPTIMIZED).build().unwrap());
    assert_eq!(code(create(unknown_origin.build().unwrap()).await), "NoSuchOrigin");
    let unknown_policy =
        config("bad-3", &[]).default_cache_behavior(behavior("web", "no-such-policy").build().unwrap());
    assert_eq!(code(create(unknown_policy.build().unwrap()).await), "NoSuchCachePolicy");
    let too_many: Vec<String> = (0..101).map(|n| format!("host{n}.e2e.example")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_eq!(code(create(config("bad-4", &too_many).build().unwrap()).await), "TooManyDistributionCNAMEs");
    let bad_spa = CustomErrorResponses::builder()
        .quantity(1)
        .items(
            CustomErrorResponse::builder()
                .error_code(404)
                .response_page_path("index.html")
                .response_code("200")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(
        code(create(config("bad-5", &[]).custom_error_responses(bad_spa).build().unwrap()).await),
        "InvalidRelativePath"
    );

    // CloudFront Functions and Lambda@Edge are refused, saying why.
    let function = FunctionAssociations::builder()
        .quantity(1)
        .items(
            FunctionAssociation::builder()
                .function_arn("arn:aws:cloudfront::000000000000:function/rewrite")
                .event_type(EventType::ViewerRequest)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let with_function = config("bad-6", &[])
        .default_cache_behavior(behavior("web", CACHING_OPTIMIZED).function_associations(function).build().unwrap());
    let refused = create(with_function.build().unwrap()).await;
    let refused_message = message(&refused);
    assert_eq!(code(refused), "InvalidFunctionAssociation");
    assert!(refused_message.contains("CloudFront Functions") && refused_message.contains("nubo"), "{refused_message}");
    let lambda = LambdaFunctionAssociations::builder()
        .quantity(1)
        .items(
            LambdaFunctionAssociation::builder()
                .lambda_function_arn("arn:aws:lambda:us-east-1:000000000000:function:edge:1")
                .event_type(EventType::OriginRequest)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let with_lambda = config("bad-7", &[]).default_cache_behavior(
        behavior("web", CACHING_OPTIMIZED).lambda_function_associations(lambda).build().unwrap(),
    );
    let refused = create(with_lambda.build().unwrap()).await;
    let refused_message = message(&refused);
    assert_eq!(code(refused), "InvalidLambdaFunctionAssociation");
    assert!(refused_message.contains("Lambda@Edge") && refused_message.contains("nubo"), "{refused_message}");

    // Nothing was made of any of them.
    let listed = client.list_distributions().send().await.unwrap();
    assert_eq!(listed.distribution_list().unwrap().quantity(), 0);
}

#[tokio::test]
// The SDK marks ForwardedValues and the TTLs deprecated; templates still
// write them, which is what this drives.
#[allow(deprecated)]
async fn legacy_forwarded_values_and_tags() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let client = cloudfront_client(&nubo.edge_url());
    // The shape SAM and older templates write: ForwardedValues and TTLs,
    // no cache policy.
    let forwarded = ForwardedValues::builder()
        .query_string(true)
        .cookies(CookiePreference::builder().forward(ItemSelection::None).build().unwrap())
        .build()
        .unwrap();
    let legacy = DefaultCacheBehavior::builder()
        .target_origin_id("site")
        .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
        .forwarded_values(forwarded)
        .min_ttl(0)
        .default_ttl(60)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(3)
                .items(Method::Get)
                .items(Method::Head)
                .items(Method::Options)
                .cached_methods(
                    CachedMethods::builder().quantity(2).items(Method::Get).items(Method::Head).build().unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let s3 = Origin::builder()
        .id("site")
        .domain_name("my-site.s3.amazonaws.com")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference("legacy-1")
        .origins(Origins::builder().quantity(1).items(s3).build().unwrap())
        .default_cache_behavior(legacy)
        .default_root_object("index.html")
        .comment("")
        .enabled(true)
        .build()
        .unwrap();
    let tags = Tags::builder()
        .items(Tag::builder().key("team").value("web").build().unwrap())
        .items(Tag::builder().key("stage").value("test").build().unwrap())
        .build();
    let created = client
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            DistributionConfigWithTags::builder().distribution_config(config).tags(tags).build(),
        )
        .send()
        .await
        .unwrap();
    let distribution = created.distribution().unwrap();
    let behavior = distribution.distribution_config().unwrap().default_cache_behavior().unwrap();
    assert_eq!((behavior.min_ttl(), behavior.default_ttl(), behavior.max_ttl()), (Some(0), Some(60), Some(31_536_000)));
    assert!(behavior.forwarded_values().unwrap().query_string());
    let arn = distribution.arn().to_owned();

    let listed = client.list_tags_for_resource().resource(&arn).send().await.unwrap();
    let mut keys: Vec<&str> = listed.tags().unwrap().items().iter().map(|tag| tag.key()).collect();
    keys.sort();
    assert_eq!(keys, ["stage", "team"]);
    client
        .tag_resource()
        .resource(&arn)
        .tags(Tags::builder().items(Tag::builder().key("team").value("platform").build().unwrap()).build())
        .send()
        .await
        .unwrap();
    client.untag_resource().resource(&arn).tag_keys(TagKeys::builder().items("stage").build()).send().await.unwrap();
    let listed = client.list_tags_for_resource().resource(&arn).send().await.unwrap();
    let tags: Vec<(&str, Option<&str>)> =
        listed.tags().unwrap().items().iter().map(|tag| (tag.key(), tag.value())).collect();
    assert_eq!(tags, [("team", Some("platform"))]);
    let nobody = "arn:aws:cloudfront::000000000000:distribution/E0000000000000";
    assert_eq!(code(client.list_tags_for_resource().resource(nobody).send().await), "NoSuchResource");
    let bad_tag = Tags::builder().items(Tag::builder().key("a#b").build().unwrap()).build();
    assert_eq!(code(client.tag_resource().resource(&arn).tags(bad_tag).send().await), "InvalidTagging");
}

#[tokio::test]
async fn policies_managed_and_custom() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let client = cloudfront_client(&nubo.edge_url());

    // The managed policies are there by their AWS ids, and cannot change.
    let managed = client.list_cache_policies().r#type(CachePolicyType::Managed).send().await.unwrap();
    let managed = managed.cache_policy_list().unwrap();
    let names: Vec<(&str, &str)> = managed
        .items()
        .iter()
        .map(|summary| {
            let policy = summary.cache_policy().unwrap();
            (policy.id(), policy.cache_policy_config().unwrap().name())
        })
        .collect();
    assert!(names.contains(&(CACHING_OPTIMIZED, "Managed-CachingOptimized")), "{names:?}");
    assert!(names.contains(&(CACHING_DISABLED, "Managed-CachingDisabled")), "{names:?}");
    assert!(names.iter().any(|(id, _)| *id == "83da9c7e-98b4-4e11-a168-04f0df8e2c65"));
    assert!(names.iter().any(|(id, _)| *id == "4cc15a8a-d715-48a4-82b8-cc0b614638fe"));
    let optimized = client.get_cache_policy().id(CACHING_OPTIMIZED).send().await.unwrap();
    let optimized_config = optimized.cache_policy().unwrap().cache_policy_config().unwrap().clone();
    assert_eq!(optimized_config.default_ttl(), Some(86_400));
    let etag = optimized.e_tag().unwrap().to_owned();
    let update =
        client.update_cache_policy().id(CACHING_OPTIMIZED).if_match(&etag).cache_policy_config(optimized_config);
    assert_eq!(code(update.send().await), "IllegalUpdate");
    assert_eq!(code(client.delete_cache_policy().id(CACHING_OPTIMIZED).if_match(&etag).send().await), "IllegalDelete");
    let forwarding = client.list_origin_request_policies().send().await.unwrap();
    let forwarding = forwarding.origin_request_policy_list().unwrap();
    assert!(forwarding.items().iter().any(|summary| summary.origin_request_policy().unwrap().id() == ALL_VIEWER));
    let headers = client.list_response_headers_policies().send().await.unwrap();
    assert!(headers.response_headers_policy_list().unwrap().quantity() >= 4);

    // A custom cache policy keyed on one query string.
    let key = |names: &[&str]| {
        ParametersInCacheKeyAndForwardedToOrigin::builder()
            .enable_accept_encoding_gzip(true)
            .enable_accept_encoding_brotli(true)
            .headers_config(
                CachePolicyHeadersConfig::builder().header_behavior(CachePolicyHeaderBehavior::None).build().unwrap(),
            )
            .cookies_config(
                CachePolicyCookiesConfig::builder().cookie_behavior(CachePolicyCookieBehavior::None).build().unwrap(),
            )
            .query_strings_config(
                CachePolicyQueryStringsConfig::builder()
                    .query_string_behavior(CachePolicyQueryStringBehavior::Whitelist)
                    .query_strings({
                        let mut list = QueryStringNames::builder().quantity(names.len() as i32);
                        for name in names {
                            list = list.items(*name);
                        }
                        list.build().unwrap()
                    })
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let policy = |name: &str, names: &[&str]| {
        CachePolicyConfig::builder()
            .name(name)
            .comment("by version")
            .min_ttl(0)
            .default_ttl(60)
            .max_ttl(3600)
            .parameters_in_cache_key_and_forwarded_to_origin(key(names))
            .build()
            .unwrap()
    };
    let created = client.create_cache_policy().cache_policy_config(policy("by-version", &["v"])).send().await.unwrap();
    let policy_id = created.cache_policy().unwrap().id().to_owned();
    assert!(created.location().unwrap().ends_with(&policy_id));
    let duplicate = client.create_cache_policy().cache_policy_config(policy("by-version", &["w"])).send().await;
    assert_eq!(code(duplicate), "CachePolicyAlreadyExists");
    let custom = client.list_cache_policies().r#type(CachePolicyType::Custom).send().await.unwrap();
    assert_eq!(custom.cache_policy_list().unwrap().quantity(), 1);
    let updated = client
        .update_cache_policy()
        .id(&policy_id)
        .if_match(created.e_tag().unwrap())
        .cache_policy_config(policy("by-version", &["v", "lang"]))
        .send()
        .await
        .unwrap();
    let stored = client.get_cache_policy_config().id(&policy_id).send().await.unwrap();
    let stored_names = stored
        .cache_policy_config()
        .unwrap()
        .parameters_in_cache_key_and_forwarded_to_origin()
        .unwrap()
        .query_strings_config()
        .unwrap()
        .query_strings()
        .unwrap()
        .items()
        .to_vec();
    assert_eq!(stored_names, ["v", "lang"]);
    assert_eq!(stored.e_tag(), updated.e_tag());

    // A custom origin request policy.
    let forward = OriginRequestPolicyConfig::builder()
        .name("viewer-headers")
        .headers_config(
            OriginRequestPolicyHeadersConfig::builder()
                .header_behavior(OriginRequestPolicyHeaderBehavior::AllViewer)
                .build()
                .unwrap(),
        )
        .cookies_config(
            OriginRequestPolicyCookiesConfig::builder()
                .cookie_behavior(OriginRequestPolicyCookieBehavior::All)
                .build()
                .unwrap(),
        )
        .query_strings_config(
            OriginRequestPolicyQueryStringsConfig::builder()
                .query_string_behavior(OriginRequestPolicyQueryStringBehavior::All)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let forward = client.create_origin_request_policy().origin_request_policy_config(forward).send().await.unwrap();
    let forward_id = forward.origin_request_policy().unwrap().id().to_owned();

    // A distribution on both; neither can go while it is used.
    let with_policies = DistributionConfig::builder()
        .caller_reference("policies-1")
        .origins(Origins::builder().quantity(1).items(origin("web", "origin.example")).build().unwrap())
        .default_cache_behavior(behavior("web", &policy_id).origin_request_policy_id(&forward_id).build().unwrap())
        .comment("")
        .enabled(false)
        .build()
        .unwrap();
    let distribution = client.create_distribution().distribution_config(with_policies).send().await.unwrap();
    let in_use = client.delete_cache_policy().id(&policy_id).if_match(updated.e_tag().unwrap()).send().await;
    assert_eq!(code(in_use), "CachePolicyInUse");
    let in_use = client.delete_origin_request_policy().id(&forward_id).if_match(forward.e_tag().unwrap()).send().await;
    assert_eq!(code(in_use), "OriginRequestPolicyInUse");
    let distribution_id = distribution.distribution().unwrap().id();
    client.delete_distribution().id(distribution_id).if_match(distribution.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(code(client.delete_cache_policy().id(&policy_id).send().await), "InvalidIfMatchVersion");
    client.delete_cache_policy().id(&policy_id).if_match(updated.e_tag().unwrap()).send().await.unwrap();
    client.delete_origin_request_policy().id(&forward_id).if_match(forward.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(code(client.get_cache_policy().id(&policy_id).send().await), "NoSuchCachePolicy");
    // Its name is free again.
    client.create_cache_policy().cache_policy_config(policy("by-version", &["v"])).send().await.unwrap();
}

#[tokio::test]
async fn public_keys_key_groups_and_origin_access_controls() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let client = cloudfront_client(&nubo.http_url(ServiceName::Cdn));
    let pem = public_key_pem();

    let key_config = |reference: &str, encoded: &str| {
        PublicKeyConfig::builder().caller_reference(reference).name("signer").encoded_key(encoded).build().unwrap()
    };
    let refused = client.create_public_key().public_key_config(key_config("k-0", "not a key")).send().await;
    assert_eq!(code(refused), "InvalidArgument");
    let key = client.create_public_key().public_key_config(key_config("k-1", &pem)).send().await.unwrap();
    let key_id = key.public_key().unwrap().id().to_owned();
    assert!(key_id.starts_with('K') && key_id.len() == 14, "{key_id}");
    let listed = client.list_public_keys().send().await.unwrap();
    let listed = listed.public_key_list().unwrap();
    assert_eq!(listed.quantity(), 1);
    assert_eq!(listed.items()[0].encoded_key().trim(), pem.trim());

    let group_config = |keys: &[&str]| {
        let mut config = KeyGroupConfig::builder().name("signers");
        for key in keys {
            config = config.items(*key);
        }
        config.build().unwrap()
    };
    assert_eq!(
        code(client.create_key_group().key_group_config(group_config(&["K000000000000"])).send().await),
        "NoSuchPublicKey"
    );
    let group = client.create_key_group().key_group_config(group_config(&[&key_id])).send().await.unwrap();
    let group_id = group.key_group().unwrap().id().to_owned();
    let got = client.get_key_group().id(&group_id).send().await.unwrap();
    assert_eq!(got.key_group().unwrap().key_group_config().unwrap().items(), [key_id.as_str()]);
    assert_eq!(client.list_key_groups().send().await.unwrap().key_group_list().unwrap().quantity(), 1);

    let control = OriginAccessControlConfig::builder()
        .name("bucket-access")
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .unwrap();
    let control = client.create_origin_access_control().origin_access_control_config(control).send().await.unwrap();
    let control_id = control.origin_access_control().unwrap().id().to_owned();
    let controls = client.list_origin_access_controls().send().await.unwrap();
    assert_eq!(controls.origin_access_control_list().unwrap().quantity(), 1);

    // A private bucket behind the access control, signed URLs required.
    let bucket = Origin::builder()
        .id("bucket")
        .domain_name("private.s3.us-east-1.amazonaws.com")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(&control_id)
        .build()
        .unwrap();
    let trusted = TrustedKeyGroups::builder().enabled(true).quantity(1).items(&group_id).build().unwrap();
    let config = DistributionConfig::builder()
        .caller_reference("signed-1")
        .origins(Origins::builder().quantity(1).items(bucket).build().unwrap())
        .default_cache_behavior(behavior("bucket", CACHING_OPTIMIZED).trusted_key_groups(trusted).build().unwrap())
        .comment("")
        .enabled(false)
        .build()
        .unwrap();
    let distribution = client.create_distribution().distribution_config(config).send().await.unwrap();
    let active = distribution.distribution().unwrap().active_trusted_key_groups().unwrap();
    assert!(active.enabled());
    assert_eq!(active.items()[0].key_group_id(), Some(group_id.as_str()));
    assert_eq!(active.items()[0].key_pair_ids().unwrap().items(), [key_id.as_str()]);

    // Nothing in use goes.
    let delete_key = client.delete_public_key().id(&key_id).if_match(key.e_tag().unwrap()).send().await;
    assert_eq!(code(delete_key), "PublicKeyInUse");
    let delete_group = client.delete_key_group().id(&group_id).if_match(group.e_tag().unwrap()).send().await;
    assert_eq!(code(delete_group), "ResourceInUse");
    let delete_control =
        client.delete_origin_access_control().id(&control_id).if_match(control.e_tag().unwrap()).send().await;
    assert_eq!(code(delete_control), "OriginAccessControlInUse");

    let id = distribution.distribution().unwrap().id();
    client.delete_distribution().id(id).if_match(distribution.e_tag().unwrap()).send().await.unwrap();
    client.delete_origin_access_control().id(&control_id).if_match(control.e_tag().unwrap()).send().await.unwrap();
    client.delete_key_group().id(&group_id).if_match(group.e_tag().unwrap()).send().await.unwrap();
    client.delete_public_key().id(&key_id).if_match(key.e_tag().unwrap()).send().await.unwrap();
    assert_eq!(code(client.get_public_key().id(&key_id).send().await), "NoSuchPublicKey");
    assert_eq!(code(client.get_key_group().id(&group_id).send().await), "NoSuchResource");
}

#[tokio::test]
async fn invalidations_complete_and_repeat_by_caller_reference() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let client = cloudfront_client(&nubo.edge_url());
    let created =
        client.create_distribution().distribution_config(config("inv-1", &[]).build().unwrap()).send().await.unwrap();
    let id = created.distribution().unwrap().id().to_owned();

    let batch = |reference: &str, paths: &[&str]| {
        let mut list = Paths::builder().quantity(paths.len() as i32);
        for path in paths {
            list = list.items(*path);
        }
        InvalidationBatch::builder().paths(list.build().unwrap()).caller_reference(reference).build().unwrap()
    };
    let invalidation = client
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(batch("deploy-1", &["/*", "/index.html"]))
        .send()
        .await
        .unwrap();
    let invalidation_id = invalidation.invalidation().unwrap().id().to_owned();
    assert_eq!(invalidation.invalidation().unwrap().status(), "InProgress");
    assert!(invalidation.location().unwrap().ends_with(&format!("/distribution/{id}/invalidation/{invalidation_id}")));
    let started = Instant::now();
    client
        .wait_until_invalidation_completed()
        .distribution_id(&id)
        .id(&invalidation_id)
        .wait(Duration::from_secs(30))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the waiter took {:?}", started.elapsed());
    let got = client.get_invalidation().distribution_id(&id).id(&invalidation_id).send().await.unwrap();
    let got = got.invalidation().unwrap();
    assert_eq!(got.status(), "Completed");
    assert_eq!(got.invalidation_batch().unwrap().paths().unwrap().items(), ["/*", "/index.html"]);

    let repeated = client
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(batch("deploy-1", &["/*", "/index.html"]))
        .send()
        .await
        .unwrap();
    assert_eq!(repeated.invalidation().unwrap().id(), invalidation_id, "a retried batch is the same batch");
    let reused = client
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(batch("deploy-1", &["/other"]))
        .send()
        .await;
    assert_eq!(code(reused), "InvalidationBatchAlreadyExists");
    let bad = client
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(batch("deploy-2", &["/images/*.jpg"]))
        .send()
        .await;
    assert_eq!(code(bad), "InvalidArgument");
    let bad = client
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(batch("deploy-3", &["index.html"]))
        .send()
        .await;
    assert_eq!(code(bad), "InvalidArgument");
    let nowhere = client
        .create_invalidation()
        .distribution_id("E0000000000000")
        .invalidation_batch(batch("deploy-4", &["/*"]))
        .send()
        .await;
    assert_eq!(code(nowhere), "NoSuchDistribution");
    assert_eq!(
        code(client.get_invalidation().distribution_id(&id).id("I0000000000000").send().await),
        "NoSuchInvalidation"
    );

    client
        .create_invalidation()
        .distribution_id(&id)
        .invalidation_batch(batch("deploy-5", &["/app.js"]))
        .send()
        .await
        .unwrap();
    let listed = client.list_invalidations().distribution_id(&id).max_items(1).send().await.unwrap();
    let listed = listed.invalidation_list().unwrap();
    assert!(listed.is_truncated());
    assert_eq!(listed.quantity(), 1);
    let rest =
        client.list_invalidations().distribution_id(&id).marker(listed.next_marker().unwrap()).send().await.unwrap();
    assert_eq!(rest.invalidation_list().unwrap().quantity(), 1);
    let all: Vec<String> = listed
        .items()
        .iter()
        .chain(rest.invalidation_list().unwrap().items())
        .map(|summary| summary.id().to_owned())
        .collect();
    assert!(all.contains(&invalidation_id));
}

#[tokio::test]
async fn only_cloudfront_signed_calls_reach_the_api() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let http = reqwest::Client::new();
    // An unsigned request under the API's path is a viewer's: no
    // distribution serves this host.
    // Until the edge has loaded the distributions it answers viewers 503;
    // wait that out (bounded) before asking what a viewer gets.
    let url = format!("{}/2020-05-31/distribution", nubo.http_url(ServiceName::Cdn));
    let deadline = Instant::now() + Duration::from_secs(30);
    let viewer = loop {
        let viewer = http.get(&url).send().await.unwrap();
        if viewer.status() != 503 || Instant::now() > deadline {
            break viewer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(viewer.status(), 403);
    assert_eq!(viewer.headers()["x-cache"], "Error from cloudfront");
    assert!(viewer.text().await.unwrap().contains("The request could not be satisfied"));
    // A CloudFront-signed one with a bad signature is the API's, refused
    // in CloudFront's error shape.
    let forged = http
        .get(format!("{}/2020-05-31/distribution", nubo.http_url(ServiceName::Cdn)))
        .header("x-amz-date", chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/{}/us-east-1/cloudfront/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
                chrono::Utc::now().format("%Y%m%d"),
                "0".repeat(64)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let body = forged.text().await.unwrap();
    assert!(body.contains("<ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">"), "{body}");
    assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"), "{body}");
}

#[tokio::test]
async fn boto3_and_the_cli_drive_the_same_api() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let boto = std::process::Command::new("python3")
        .arg(fixture("cdn/boto3_distributions.py"))
        .arg(nubo.http_url(ServiceName::Cdn))
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let answer: Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(answer["created_status"], "InProgress");
    assert_eq!(answer["deployed_status"], "Deployed");
    assert_eq!(answer["updated_comment"], "from boto3, updated");
    assert_eq!(answer["stale_etag"], "PreconditionFailed");
    assert_eq!(answer["not_disabled"], "DistributionNotDisabled");
    assert_eq!(answer["invalidation_status"], "Completed");
    assert_eq!(answer["function"], "InvalidFunctionAssociation");
    assert_eq!(answer["managed_ids"].as_array().unwrap().iter().filter(|id| *id == CACHING_OPTIMIZED).count(), 1);
    assert_eq!(answer["deleted"], "NoSuchDistribution");
    assert_eq!(answer["paged"].as_u64(), Some(3));

    // The CLI through the edge, as AWS_ENDPOINT_URL users have it. Its
    // `--origin-domain-name` form writes the legacy ForwardedValues shape.
    let cli = |args: &[&str]| -> Value {
        let output = nubo_e2e::aws_cli(state.path(), Some(&nubo.edge_url())).args(args).output().unwrap();
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    };
    let created = cli(&[
        "cloudfront",
        "create-distribution",
        "--origin-domain-name",
        "cli-site.s3.amazonaws.com",
        "--default-root-object",
        "index.html",
    ]);
    let id = created["Distribution"]["Id"].as_str().unwrap().to_owned();
    assert_eq!(created["Distribution"]["DistributionConfig"]["DefaultRootObject"], "index.html");
    cli(&["cloudfront", "wait", "distribution-deployed", "--id", &id]);
    let invalidation =
        cli(&["cloudfront", "create-invalidation", "--distribution-id", &id, "--paths", "/*", "/index.html"]);
    let invalidation_id = invalidation["Invalidation"]["Id"].as_str().unwrap().to_owned();
    cli(&["cloudfront", "wait", "invalidation-completed", "--distribution-id", &id, "--id", &invalidation_id]);
    // The CLI's own update: read the config, change one member, write it
    // back with the ETag it read.
    cli(&["cloudfront", "update-distribution", "--id", &id, "--default-root-object", "home.html"]);
    let config = cli(&["cloudfront", "get-distribution-config", "--id", &id]);
    assert_eq!(config["DistributionConfig"]["DefaultRootObject"], "home.html");
    let listed = cli(&["cloudfront", "list-distributions"]);
    let ids: Vec<&str> =
        listed["DistributionList"]["Items"].as_array().unwrap().iter().filter_map(|item| item["Id"].as_str()).collect();
    assert!(ids.contains(&id.as_str()), "{ids:?}");
    let policies = cli(&["cloudfront", "list-cache-policies", "--type", "managed"]);
    assert!(policies["CachePolicyList"]["Items"].as_array().unwrap().len() >= 4);
}

/// Two cdn replicas over one data service, each its own `nubo serve`
/// process as compose runs them: a change is `Deployed` (an invalidation
/// `Completed`) only once both have applied it, whichever took it.
#[tokio::test(flavor = "multi_thread")]
async fn changes_are_deployed_once_every_replica_has_applied_them() {
    const KEY: &str = "AKIDCDNREPLICAS";
    const SECRET: &str = "cdn-replica-secret";
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::write(dir.path().join("cluster-token"), "cluster-token-0123456789").unwrap();
    let common = |name: &str| -> Vec<(String, String)> {
        vec![
            ("NUBO_BIND_HOST".into(), "127.0.0.1".into()),
            ("NUBO_STATE_DIR".into(), dir.path().join(name).to_str().unwrap().into()),
            ("NUBO_CREDENTIALS__ACCESS_KEY_ID".into(), KEY.into()),
            ("NUBO_CREDENTIALS__SECRET_ACCESS_KEY_FILE".into(), secret.to_str().unwrap().into()),
            ("NUBO_CLUSTER__TOKEN_FILE".into(), dir.path().join("cluster-token").to_str().unwrap().into()),
        ]
    };
    let data_ports = Ports::free(ServiceName::Data);
    let mut data_env = common("data");
    data_env.extend(data_ports.env(ServiceName::Data));
    data_env.push(("NUBO_DATA__ENGINE".into(), "embedded".into()));
    let mut data = Process::spawn(&["serve", "--services", "data"], &data_env, dir.path().join("data.log"));
    try_wait_healthy(&mut data, &format!("http://127.0.0.1:{}", data_ports.http)).await.expect("data starts");
    let mut replicas = Vec::new();
    for name in ["cdn-a", "cdn-b"] {
        let ports = Ports::free(ServiceName::Cdn);
        let mut env = common(name);
        env.extend(ports.env(ServiceName::Cdn));
        env.push(("NUBO_LINKS__DATA".into(), format!("http://127.0.0.1:{}", data_ports.grpc)));
        let mut process = Process::spawn(&["serve", "--services", "cdn"], &env, dir.path().join(format!("{name}.log")));
        let url = format!("http://127.0.0.1:{}", ports.http);
        try_wait_healthy(&mut process, &url).await.expect("the cdn starts");
        replicas.push((process, nubo_e2e::cloudfront_client_with(&url, nubo_e2e::credentials(KEY, SECRET))));
    }
    let (a, b) = (replicas[0].1.clone(), replicas[1].1.clone());

    let created =
        a.create_distribution().distribution_config(config("replicas-1", &[]).build().unwrap()).send().await.unwrap();
    let id = created.distribution().unwrap().id().to_owned();
    assert_eq!(created.distribution().unwrap().status(), "InProgress");
    let started = Instant::now();
    assert_eq!(b.get_distribution().id(&id).send().await.unwrap().distribution().unwrap().status(), "Deployed");
    assert!(started.elapsed() < Duration::from_secs(2), "deployed to both after {:?}", started.elapsed());

    // The second replica stops (SIGSTOP: its heartbeat stays fresh), so
    // what the first takes is not everywhere.
    let frozen = nix::unistd::Pid::from_raw(i32::try_from(replicas[1].0.id()).unwrap());
    nix::sys::signal::kill(frozen, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let paths = Paths::builder().quantity(1).items("/*").build().unwrap();
    let batch = InvalidationBatch::builder().paths(paths).caller_reference("replicas-inv").build().unwrap();
    let invalidation = a.create_invalidation().distribution_id(&id).invalidation_batch(batch).send().await.unwrap();
    let invalidation_id = invalidation.invalidation().unwrap().id().to_owned();
    let pending = a.get_invalidation().distribution_id(&id).id(&invalidation_id).send().await;
    let listed = a.list_distributions().send().await;
    nix::sys::signal::kill(frozen, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert_eq!(pending.unwrap().invalidation().unwrap().status(), "InProgress");
    assert_eq!(
        listed.unwrap().distribution_list().unwrap().items()[0].status(),
        "Deployed",
        "the distribution had reached both"
    );
    let completed = a.get_invalidation().distribution_id(&id).id(&invalidation_id).send().await.unwrap();
    assert_eq!(completed.invalidation().unwrap().status(), "Completed");

    // A replica that stops says so: nothing waits for it.
    let status = replicas[1].0.stop();
    assert!(status.success(), "{status}");
    let current = a.get_distribution_config().id(&id).send().await.unwrap();
    let mut changed = current.distribution_config().unwrap().clone();
    changed.comment = "after b left".into();
    let updated = a
        .update_distribution()
        .id(&id)
        .if_match(current.e_tag().unwrap())
        .distribution_config(changed)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.distribution().unwrap().status(), "InProgress");
    let started = Instant::now();
    assert_eq!(a.get_distribution().id(&id).send().await.unwrap().distribution().unwrap().status(), "Deployed");
    assert!(started.elapsed() < Duration::from_secs(2), "deployed after {:?}", started.elapsed());
    drop(replicas);
    data.stop();
}
