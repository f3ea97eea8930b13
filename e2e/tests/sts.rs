//! STS on the edge, driven as tools drive it: `aws-sdk-sts`, the AWS CLI
//! (`aws sts get-caller-identity`) and boto3. Each principal — the root key,
//! a configured `[[credentials.users]]` entry, an assumed role — is named as
//! AWS names it, and temporary credentials work on every other service.

use aws_sdk_sts::error::ProvideErrorMetadata as _;
use nubo_e2e::{Nubo, ServiceName, credentials, dynamodb_client_with, fixture, path_with_python_tools, sts_client};
use serde_json::Value;

const USERS: &str = r#"[{ name = "alice", access_key_id = "AKIDALICE", secret_access_key = "alice-secret" }]"#;
const ROLE: &str = "arn:aws:iam::000000000000:role/deployer";

fn session(issued: &aws_sdk_sts::types::Credentials) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        issued.access_key_id(),
        issued.secret_access_key(),
        Some(issued.session_token().to_owned()),
        None,
        "sts",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sts_names_the_caller_and_its_sessions_work_on_every_service() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(&state.path().join("state"), &[("NUBO_CREDENTIALS__USERS", USERS)]).await;
    let edge = nubo.edge_url();

    let root = sts_client(&edge, credentials("test", "test")).get_caller_identity().send().await.unwrap();
    assert_eq!(root.arn(), Some("arn:aws:iam::000000000000:root"));
    assert_eq!(root.account(), Some("000000000000"));

    let alice = sts_client(&edge, credentials("AKIDALICE", "alice-secret"));
    let me = alice.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::000000000000:user/alice"));
    assert!(me.user_id().unwrap().starts_with("AIDA"), "{me:?}");

    let assumed = alice.assume_role().role_arn(ROLE).role_session_name("ci").send().await.unwrap();
    assert_eq!(assumed.assumed_role_user().unwrap().arn(), "arn:aws:sts::000000000000:assumed-role/deployer/ci");
    let role = session(assumed.credentials().unwrap());
    let as_role = sts_client(&edge, role.clone()).get_caller_identity().send().await.unwrap();
    assert_eq!(as_role.arn(), Some("arn:aws:sts::000000000000:assumed-role/deployer/ci"));
    // The session is accepted by another service, on its own port.
    dynamodb_client_with(&nubo.http_url(ServiceName::Data), role.clone()).list_tables().send().await.unwrap();

    // A session token only verifies with the key it was issued with.
    let other = alice.get_session_token().send().await.unwrap();
    let other = other.credentials().unwrap();
    let forged = aws_credential_types::Credentials::new(
        role.access_key_id(),
        role.secret_access_key(),
        Some(other.session_token().to_owned()),
        None,
        "forged",
    );
    let refused =
        dynamodb_client_with(&nubo.http_url(ServiceName::Data), forged).list_tables().send().await.unwrap_err();
    assert_eq!(refused.code(), Some("UnrecognizedClientException"), "{refused:?}");
    // A session cannot make sessions of its own with GetSessionToken.
    let nested = sts_client(&edge, role).get_session_token().send().await.unwrap_err();
    assert_eq!(nested.code(), Some("AccessDenied"));
    // Bad input gets STS's error, not a panic.
    let bad = alice.assume_role().role_arn("not-an-arn").role_session_name("ci").send().await.unwrap_err();
    assert_eq!(bad.code(), Some("ValidationError"));

    // The AWS CLI, configured as the README configures it.
    let cli = std::process::Command::new("aws")
        .args(["sts", "get-caller-identity", "--output", "json"])
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .env("AWS_ACCESS_KEY_ID", "AKIDALICE")
        .env("AWS_SECRET_ACCESS_KEY", "alice-secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &edge)
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let identity: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(identity["Arn"], "arn:aws:iam::000000000000:user/alice");

    // boto3: the same calls from a second SDK.
    let boto = std::process::Command::new("python3")
        .arg(fixture("sts/boto3_sessions.py"))
        .args([edge.as_str(), "AKIDALICE", "alice-secret"])
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let answer: Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(answer["me"], "arn:aws:iam::000000000000:user/alice");
    assert_eq!(answer["assumed"], "arn:aws:sts::000000000000:assumed-role/deployer/boto");
    assert_eq!(answer["tables"], Value::Array(Vec::new()));
}
