//! `nubo logs <function> [-f]`: prints a function's log (its group
//! `/aws/lambda/<function>`) through the CloudWatch Logs API nubo serves,
//! signed with the AWS credentials of the environment as any AWS client
//! signs, and with `-f` keeps printing new lines as they arrive.

use std::{collections::HashSet, time::Duration};

use anyhow::{Context as _, bail};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use serde_json::{Value, json};

/// Where and as whom to ask.
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Target {
    /// From the standard AWS variables, with nubo up's defaults.
    pub fn from_environment() -> Self {
        let var = |names: &[&str], default: &str| {
            names
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            endpoint: var(&["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL"], "http://127.0.0.1:4566"),
            region: var(&["AWS_REGION", "AWS_DEFAULT_REGION"], "us-east-1"),
            access_key_id: var(&["AWS_ACCESS_KEY_ID"], nubo_host::sigv4::DEV_ACCESS_KEY_ID),
            secret_access_key: var(&["AWS_SECRET_ACCESS_KEY"], nubo_host::sigv4::DEV_SECRET_ACCESS_KEY),
        }
    }
}

async fn call(client: &reqwest::Client, target: &Target, action: &str, body: &Value) -> anyhow::Result<Value> {
    let body = body.to_string();
    let url = format!("{}/", target.endpoint.trim_end_matches('/'));
    let amz_target = format!("Logs_20140328.{action}");
    let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", amz_target.as_str())];
    let credentials =
        aws_credential_types::Credentials::new(&target.access_key_id, &target.secret_access_key, None, None, "nubo");
    let identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&target.region)
        .name("logs")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new("POST", &url, headers.iter().copied(), SignableBody::Bytes(body.as_bytes()))?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let (signed, _) = instructions.into_parts();
    let mut request = client.post(&url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    for header in signed {
        request = request.header(header.name(), header.value());
    }
    let response = request.send().await.with_context(|| format!("cannot reach {}", target.endpoint))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = answer.get("message").or_else(|| answer.get("Message")).and_then(Value::as_str).unwrap_or("");
        bail!("{} ({status}): {message}", answer.get("__type").and_then(Value::as_str).unwrap_or("error"));
    }
    Ok(answer)
}

/// Prints the log of `function` from `since_ms` on; with `follow`, keeps
/// asking for newer lines every second.
pub async fn print(target: Target, function: &str, since_ms: i64, follow: bool) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let group = format!("/aws/lambda/{function}");
    let mut start = since_ms;
    // Lines at the newest timestamp already printed: the next query starts
    // at that timestamp again, so they would come twice.
    let mut printed_at_start: HashSet<(String, String)> = HashSet::new();
    loop {
        let mut token: Option<String> = None;
        let mut newest = start;
        let mut at_newest: HashSet<(String, String)> = HashSet::new();
        loop {
            let mut body = json!({ "logGroupName": group, "startTime": start, "interleaved": true });
            if let Some(token) = &token {
                body["nextToken"] = token.clone().into();
            }
            let answer = call(&client, &target, "FilterLogEvents", &body).await?;
            for event in answer["events"].as_array().into_iter().flatten() {
                let timestamp = event["timestamp"].as_i64().unwrap_or(0);
                let message = event["message"].as_str().unwrap_or("").to_owned();
                let stream = event["logStreamName"].as_str().unwrap_or("").to_owned();
                let key = (stream.clone(), message.clone());
                if timestamp == start && printed_at_start.contains(&key) {
                    continue;
                }
                let at = chrono::DateTime::from_timestamp_millis(timestamp).unwrap_or_default();
                println!("{} {stream} {message}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
                if timestamp > newest {
                    newest = timestamp;
                    at_newest.clear();
                }
                if timestamp == newest {
                    at_newest.insert(key);
                }
            }
            token = answer["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        if newest > start {
            start = newest;
            printed_at_start = at_newest;
        } else {
            printed_at_start.extend(at_newest);
        }
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `10m`, `2h`, `30s` or `1d` before now, in milliseconds since the epoch.
pub fn since(text: &str) -> anyhow::Result<i64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let number: i64 = number.parse().with_context(|| format!("--since {text}: a number and a unit (s, m, h, d)"))?;
    let seconds = match unit {
        "s" => number,
        "m" | "" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        other => bail!("--since {text}: unknown unit {other} (s, m, h, d)"),
    };
    Ok(chrono::Utc::now().timestamp_millis() - seconds * 1000)
}
