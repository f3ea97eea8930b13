//! The auth benchmark: password sign-ins a second (bounded by argon2id's
//! cost, measured here on its own as the bound), SRP sign-ins a second, and
//! ID-token verifications a second on one core, against `nubo up`; with
//! moto_server's Cognito (PyPI, from the suite's venv) side by side for the
//! password sign-in, when its Cognito extras are installed. Every figure
//! is closed-loop from `--clients` concurrent SDK clients over `--seconds`,
//! plus the latency of one sign-in at one client.
//!
//! `make bench-auth` builds nubo and this in release mode and runs it.
//! Environment: `NUBO_BIN`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use aws_sdk_cognitoidentityprovider::{
    Client,
    types::{AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType},
};
use base64::Engine as _;
use nubo_auth::srp;
use nubo_e2e::{Nubo, cognito_client};
use nubo_host::ServiceName;

const PASSWORD: &str = "Bench-Password-1";

fn argument(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn setup(cognito: &Client) -> (String, String) {
    let pool = cognito.create_user_pool().pool_name("bench").send().await.unwrap().user_pool.unwrap().id.unwrap();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("bench")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    cognito
        .admin_create_user()
        .user_pool_id(&pool)
        .username("bench")
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("bench")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    (pool, client)
}

async fn password_sign_in(cognito: &Client, client: &str) -> String {
    let output = cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "bench")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    output.authentication_result().unwrap().id_token().unwrap().to_owned()
}

async fn srp_sign_in(cognito: &Client, pool: &str, client: &str) -> String {
    let srp_client = srp::client::Client::new();
    let started = cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "bench")
        .auth_parameters("SRP_A", srp_client.srp_a())
        .send()
        .await
        .unwrap();
    let parameters = started.challenge_parameters().unwrap();
    let user_id = &parameters["USER_ID_FOR_SRP"];
    let pool_name = srp::pool_name(pool);
    let key = srp_client.session_key(pool_name, user_id, PASSWORD, &parameters["SALT"], &parameters["SRP_B"]).unwrap();
    let block = base64::engine::general_purpose::STANDARD.decode(&parameters["SECRET_BLOCK"]).unwrap();
    let timestamp = srp::timestamp(chrono::Utc::now());
    let signature = srp::client::signature(&key, pool_name, user_id, &block, &timestamp);
    let done = cognito
        .respond_to_auth_challenge()
        .client_id(client)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .challenge_responses("USERNAME", user_id)
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &parameters["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", signature)
        .challenge_responses("TIMESTAMP", timestamp)
        .send()
        .await
        .unwrap();
    done.authentication_result().unwrap().id_token().unwrap().to_owned()
}

/// Operations a second from `clients` concurrent loops of `operation`.
async fn closed_loop<F, Fut>(clients: u64, seconds: u64, operation: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let operation = Arc::new(operation);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (operation, done) = (operation.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    operation().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// p50 and p99 of `count` sequential runs of `operation`, in milliseconds.
async fn latency<F, Fut>(count: usize, operation: F) -> (f64, f64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        operation().await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[count / 2], times[(count * 99 / 100).min(count - 1)])
}

/// One argon2id verification at nubo's default cost, on this core.
fn argon2_verify_seconds() -> f64 {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};
    let cost = nubo_auth::passwords::HashCost::default();
    let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).unwrap();
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = argon2::password_hash::SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let hash = argon2.hash_password(PASSWORD.as_bytes(), &salt).unwrap().to_string();
    let parsed = argon2::PasswordHash::new(&hash).unwrap();
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        argon2.verify_password(PASSWORD.as_bytes(), &parsed).unwrap();
    }
    started.elapsed().as_secs_f64() / f64::from(rounds)
}

/// ID-token verifications a second on one thread, as a relying party (or
/// the gateway's JWT authorizer) does them: RS256 against the JWKS key.
async fn verifications_per_second(token: &str, issuer: &str) -> f64 {
    let jwks: jsonwebtoken::jwk::JwkSet =
        reqwest::get(format!("{issuer}/.well-known/jwks.json")).await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).unwrap();
        count += 1;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// moto_server's Cognito on a free port, if the venv has its extras.
fn start_moto() -> Option<(std::process::Child, String)> {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/venv/bin");
    let importable = std::process::Command::new(bin.join("python"))
        .args(["-c", "import moto.cognitoidp.models"])
        .status()
        .is_ok_and(|status| status.success());
    if !importable {
        println!("moto: its Cognito extras are not installed (`make deps` installs `moto[cognitoidp]`)");
        return None;
    }
    let port = nubo_e2e::free_port();
    let child = std::process::Command::new(bin.join("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    Some((child, format!("http://127.0.0.1:{port}")))
}

#[tokio::main]
async fn main() {
    let seconds = argument("--seconds", 10);
    let clients = argument("--clients", 4);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let dir = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&dir.path().join("state")).await;
    let cognito = cognito_client(&nubo.http_url(ServiceName::Auth));
    let (pool, client) = setup(&cognito).await;
    let issuer = format!("http://localhost:{}/{pool}", nubo.ports[&ServiceName::Auth].http);

    let hash = argon2_verify_seconds();
    println!(
        "argon2id verify at the default cost (19 MiB, 2 passes, 1 lane): {:.1} ms, so at most {:.0} password sign-ins/s per core ({cores} cores)",
        hash * 1000.0,
        1.0 / hash
    );

    let (p50, p99) = latency(50, || async {
        password_sign_in(&cognito, &client).await;
    })
    .await;
    let rate = {
        let (cognito, client) = (cognito.clone(), client.clone());
        closed_loop(clients, seconds, move || {
            let (cognito, client) = (cognito.clone(), client.clone());
            async move {
                password_sign_in(&cognito, &client).await;
            }
        })
        .await
    };
    println!(
        "nubo USER_PASSWORD_AUTH: {rate:.0} sign-ins/s with {clients} clients ({:.0}% of the argon2 bound on {cores} cores); one client p50 {p50:.1} ms, p99 {p99:.1} ms",
        100.0 * rate * hash / cores as f64
    );

    let (srp_p50, srp_p99) = latency(50, || async {
        srp_sign_in(&cognito, &pool, &client).await;
    })
    .await;
    let srp_rate = {
        let (cognito, pool, client) = (cognito.clone(), pool.clone(), client.clone());
        closed_loop(clients, seconds, move || {
            let (cognito, pool, client) = (cognito.clone(), pool.clone(), client.clone());
            async move {
                srp_sign_in(&cognito, &pool, &client).await;
            }
        })
        .await
    };
    println!(
        "nubo USER_SRP_AUTH (InitiateAuth + RespondToAuthChallenge, the client's SRP math in this process): {srp_rate:.0} sign-ins/s with {clients} clients; one client p50 {srp_p50:.1} ms, p99 {srp_p99:.1} ms"
    );

    let token = password_sign_in(&cognito, &client).await;
    let verifications = verifications_per_second(&token, &issuer).await;
    println!("ID-token verifications (RS256, jsonwebtoken over aws-lc-rs): {verifications:.0}/s on one core");

    if let Some((mut moto, endpoint)) = start_moto() {
        let moto_client = cognito_client(&endpoint);
        let mut ready = false;
        for _ in 0..100 {
            if moto_client.list_user_pools().max_results(1).send().await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if ready {
            let (_, moto_pool_client) = setup(&moto_client).await;
            let moto_rate = {
                let (cognito, client) = (moto_client.clone(), moto_pool_client.clone());
                closed_loop(clients, seconds, move || {
                    let (cognito, client) = (cognito.clone(), client.clone());
                    async move {
                        password_sign_in(&cognito, &client).await;
                    }
                })
                .await
            };
            println!(
                "moto_server USER_PASSWORD_AUTH (no password hashing): {moto_rate:.0} sign-ins/s; nubo ÷ moto = {:.2}×",
                rate / moto_rate
            );
        }
        let _ = moto.kill();
        let _ = moto.wait();
    }
}
