//! Event notifications to functions: the configuration
//! (Put/GetBucketNotificationConfiguration, Lambda targets with prefix and
//! suffix filters) and the events themselves, in S3's record shape (keys
//! URL-encoded as S3 sends them), handed to the functions service as
//! asynchronous invocations: once it has acknowledged one, its queue owns
//! the delivery and the retries.

use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Call, S3,
    access::glob,
    buckets::{canonical_id, update, xml_response},
    errors::{self, S3Result},
    xml::{self, Xml},
};
use crate::catalog::{Bucket, Version};
use nubo_proto::functions::{InvocationType, InvokeRequest};

/// The event types S3 sends that nubo raises.
const EVENTS: [&str; 11] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub function_arn: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NotificationConfiguration {
    #[serde(rename = "CloudFunctionConfiguration", default)]
    functions: Vec<FunctionXml>,
    #[serde(rename = "QueueConfiguration", default)]
    queues: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "TopicConfiguration", default)]
    topics: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "EventBridgeConfiguration")]
    event_bridge: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FunctionXml {
    id: Option<String>,
    cloud_function: String,
    #[serde(rename = "Event", default)]
    events: Vec<String>,
    filter: Option<FilterXml>,
}

#[derive(Debug, Deserialize)]
struct FilterXml {
    #[serde(rename = "S3Key")]
    key: Option<KeyFilterXml>,
}

#[derive(Debug, Deserialize)]
struct KeyFilterXml {
    #[serde(rename = "FilterRule", default)]
    rules: Vec<FilterRuleXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterRuleXml {
    name: String,
    value: String,
}

fn unvalidated(what: &str) -> nubo_host::front::AwsError {
    errors::invalid_argument("Unable to validate the following destination configurations", what, "")
}

pub async fn put(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let configuration: NotificationConfiguration = xml::parse(&body)?;
    // nubo has no SQS, SNS or EventBridge for S3 to deliver to.
    if !configuration.queues.is_empty() {
        return Err(unvalidated("QueueConfiguration").into());
    }
    if !configuration.topics.is_empty() {
        return Err(unvalidated("TopicConfiguration").into());
    }
    if configuration.event_bridge.is_some() {
        return Err(unvalidated("EventBridgeConfiguration").into());
    }
    let mut targets = Vec::new();
    for function in configuration.functions {
        if function.events.is_empty() {
            return Err(xml::malformed().into());
        }
        if let Some(event) = function.events.iter().find(|event| !EVENTS.contains(&event.as_str())) {
            return Err(errors::invalid_argument("The event is not supported for notifications", "Event", event).into());
        }
        let (mut prefix, mut suffix) = (None, None);
        for rule in function.filter.and_then(|filter| filter.key).map(|key| key.rules).unwrap_or_default() {
            match rule.name.to_ascii_lowercase().as_str() {
                "prefix" if prefix.is_none() => prefix = Some(rule.value),
                "suffix" if suffix.is_none() => suffix = Some(rule.value),
                _ => {
                    return Err(errors::invalid_argument(
                        "FilterRule name must be either prefix or suffix",
                        "FilterRule",
                        &rule.name,
                    )
                    .into());
                }
            }
        }
        targets.push(Target {
            id: function.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            function_arn: function.cloud_function,
            events: function.events,
            prefix,
            suffix,
        });
    }
    let targets = (!targets.is_empty()).then_some(targets);
    update(s3, &bucket.name, |stored| stored.notifications = targets.clone()).await?;
    Ok(HttpResponse::Ok().finish())
}

pub fn get(bucket: &Bucket) -> S3Result<HttpResponse> {
    let mut xml = Xml::document("NotificationConfiguration");
    for target in bucket.notifications.iter().flatten() {
        xml.open("CloudFunctionConfiguration").element("Id", &target.id).element("CloudFunction", &target.function_arn);
        for event in &target.events {
            xml.element("Event", event);
        }
        if target.prefix.is_some() || target.suffix.is_some() {
            xml.open("Filter").open("S3Key");
            for (name, value) in [("prefix", &target.prefix), ("suffix", &target.suffix)] {
                if let Some(value) = value {
                    xml.open("FilterRule").element("Name", name).element("Value", value).close();
                }
            }
            xml.close().close();
        }
        xml.close();
    }
    Ok(xml_response(xml))
}

/// A key as S3 writes it into an event: URL-encoded, spaces as `+`.
pub fn event_key(key: &str) -> String {
    nubo_host::sigv4::uri_encode(key, false).replace("%20", "+")
}

/// What happened to an object, for its notification.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// `ObjectCreated:Put`, `ObjectRemoved:DeleteMarkerCreated`, ...
    pub name: &'static str,
    pub key: &'a str,
    pub version: Option<&'a Version>,
    pub principal_id: String,
    pub source_ip: String,
}

/// Raises `event` to every target of the bucket that wants it. The
/// invocations are handed to the functions service off the request path.
pub fn emit(s3: &S3, bucket: &Bucket, event: Event<'_>) {
    let Some(targets) = &bucket.notifications else { return };
    let Some(functions) = &s3.functions else { return };
    let wanted = format!("s3:{}", event.name);
    for target in targets {
        let interested = target.events.iter().any(|pattern| glob(pattern, &wanted))
            && target.prefix.as_deref().is_none_or(|prefix| event.key.starts_with(prefix))
            && target.suffix.as_deref().is_none_or(|suffix| event.key.ends_with(suffix));
        if !interested {
            continue;
        }
        let record = record(s3, bucket, target, &event);
        let request = InvokeRequest {
            function: target.function_arn.clone(),
            payload: json!({ "Records": [record] }).to_string().into_bytes(),
            invocation_type: InvocationType::Event.into(),
            ..Default::default()
        };
        let functions = functions.clone();
        let (bucket_name, key, function) = (bucket.name.clone(), event.key.to_owned(), target.function_arn.clone());
        tokio::spawn(async move {
            if let Err(error) = functions.invoke(request).await {
                tracing::warn!(%error, bucket = %bucket_name, key = %key, %function, "an S3 event notification was not delivered");
            }
        });
    }
}

fn record(s3: &S3, bucket: &Bucket, target: &Target, event: &Event<'_>) -> serde_json::Value {
    let now = chrono::Utc::now();
    let mut object = json!({
        "key": event_key(event.key),
        "sequencer": format!("{:016X}", now.timestamp_nanos_opt().unwrap_or_default()),
    });
    if let Some(version) = event.version {
        if !version.delete_marker && event.name.starts_with("ObjectCreated") {
            object["size"] = json!(version.size);
            object["eTag"] = json!(version.etag.trim_matches('"'));
        }
        if version.version_id != "null" {
            object["versionId"] = json!(version.version_id);
        }
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": s3.region,
        "eventTime": now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "eventName": event.name,
        "userIdentity": { "principalId": event.principal_id },
        "requestParameters": { "sourceIPAddress": event.source_ip },
        "responseElements": {
            "x-amz-request-id": nubo_host::front::request_id(),
            "x-amz-id-2": nubo_host::front::request_id(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": target.id,
            "bucket": {
                "name": bucket.name,
                "ownerIdentity": { "principalId": canonical_id(&bucket.owner) },
                "arn": format!("arn:aws:s3:::{}", bucket.name),
            },
            "object": object,
        },
    })
}

/// The principal and source of a call, as an event names them.
pub fn caller(call: &Call<'_>) -> (String, String) {
    let principal = call
        .principal
        .as_ref()
        .map(|principal| format!("AWS:{}", principal.user_id))
        .unwrap_or_else(|| "Anonymous".into());
    let source = call.request.peer_addr().map(|address| address.ip().to_string()).unwrap_or_default();
    (principal, source)
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<NotificationConfiguration>(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_encoded_as_s3_sends_them() {
        assert_eq!(event_key("photos/my cat+dog.jpg"), "photos/my+cat%2Bdog.jpg");
        assert_eq!(event_key("ünï"), "%C3%BCn%C3%AF");
    }
}
