//! The auth sign-in benchmark: USER_SRP_AUTH sign-ins against `nubo up`,
//! one client, sequential (closed loop), each an InitiateAuth and a
//! RespondToAuthChallenge (PASSWORD_VERIFIER) over plain HTTP with
//! reqwest, the client's half of SRP-6a done by `nubo_auth::srp::client`,
//! the same arithmetic Cognito's SDKs do.
//!
//! Reports sign-ins per second, the latency of the request pair (p50, p90,
//! p99, max), and how much of it is the client's own SRP arithmetic (its
//! two 3072-bit exponentiations), so the server's share shows.
//!
//! `make bench-auth` builds nubo in release mode and runs this against it.
//! Arguments: `--seconds N` (default 5). Environment: `NUBO_BIN`.

use std::time::{Duration, Instant};

use nubo_auth::srp;
use nubo_e2e::{Nubo, ServiceName, cognito_client};
use serde_json::{Value, json};

const PASSWORD: &str = "Correct-Horse-9";
const USERNAME: &str = "bench";

/// One public Cognito call, unsigned, as a browser app makes it.
async fn call(http: &reqwest::Client, endpoint: &str, action: &str, body: &Value) -> Value {
    let response = http
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{action}"))
        .body(body.to_string())
        .send()
        .await
        .expect("the auth service answers");
    let status = response.status();
    let answer: Value = response.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{action}: {status} {answer}");
    answer
}

/// One SRP sign-in; returns the time spent in the client's arithmetic.
async fn sign_in(http: &reqwest::Client, endpoint: &str, pool_id: &str, client_id: &str) -> Duration {
    let started = Instant::now();
    let client = srp::client::Client::new();
    let srp_a = client.srp_a();
    let mut arithmetic = started.elapsed();
    let challenge = call(
        http,
        endpoint,
        "InitiateAuth",
        &json!({ "AuthFlow": "USER_SRP_AUTH", "ClientId": client_id, "AuthParameters": { "USERNAME": USERNAME, "SRP_A": srp_a } }),
    )
    .await;
    let parameters = &challenge["ChallengeParameters"];
    let text = |name: &str| parameters[name].as_str().unwrap_or_else(|| panic!("no {name} in {challenge}")).to_owned();
    let (user_id, salt, srp_b, block) = (text("USER_ID_FOR_SRP"), text("SALT"), text("SRP_B"), text("SECRET_BLOCK"));
    let computing = Instant::now();
    let pool_name = srp::pool_name(pool_id);
    let key = client.session_key(pool_name, &user_id, PASSWORD, &salt, &srp_b).expect("a session key");
    let timestamp = srp::timestamp(chrono::Utc::now());
    use base64::Engine as _;
    let block_bytes = base64::engine::general_purpose::STANDARD.decode(&block).expect("a base64 SECRET_BLOCK");
    let signature = srp::client::signature(&key, pool_name, &user_id, &block_bytes, &timestamp);
    arithmetic += computing.elapsed();
    let answer = call(
        http,
        endpoint,
        "RespondToAuthChallenge",
        &json!({
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": client_id,
            "ChallengeResponses": {
                "USERNAME": user_id,
                "PASSWORD_CLAIM_SECRET_BLOCK": block,
                "PASSWORD_CLAIM_SIGNATURE": signature,
                "TIMESTAMP": timestamp,
            },
        }),
    )
    .await;
    assert!(answer["AuthenticationResult"]["IdToken"].is_string(), "no tokens: {answer}");
    arithmetic
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let mut seconds = 5u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()).expect("--seconds N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let endpoint = nubo.http_url(ServiceName::Auth);
    let cognito = cognito_client(&endpoint);
    let pool = cognito.create_user_pool().pool_name("bench").send().await.unwrap();
    let pool_id = pool.user_pool().unwrap().id().unwrap().to_owned();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("bench")
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_owned();
    cognito.admin_create_user().user_pool_id(&pool_id).username(USERNAME).send().await.unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool_id)
        .username(USERNAME)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();

    let http = reqwest::Client::new();
    for _ in 0..20 {
        sign_in(&http, &endpoint, &pool_id, &client_id).await;
    }
    let mut pairs = Vec::new();
    let mut arithmetic = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let pair = Instant::now();
        arithmetic += sign_in(&http, &endpoint, &pool_id, &client_id).await;
        pairs.push(pair.elapsed());
    }
    let elapsed = started.elapsed();
    let count = pairs.len();
    pairs.sort();
    let client_share = arithmetic / count as u32;
    let binary = nubo_e2e::nubo_binary();
    println!("USER_SRP_AUTH sign-ins, one client, sequential, {seconds} s, nubo {}", binary.display());
    println!(
        "  sign-ins/s            {:.1} ({count} in {:.2} s)",
        count as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  InitiateAuth + RespondToAuthChallenge  p50 {}  p90 {}  p99 {}  max {}",
        ms(percentile(&pairs, 0.5)),
        ms(percentile(&pairs, 0.9)),
        ms(percentile(&pairs, 0.99)),
        ms(pairs[count - 1])
    );
    println!(
        "  of which the client's SRP arithmetic  mean {}; the rest (server, HTTP, loopback) p50 {}",
        ms(client_share),
        ms(percentile(&pairs, 0.5).saturating_sub(client_share))
    );
}
