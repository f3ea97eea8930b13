//! The Lambda API beyond one function: published versions, aliases with
//! weighted routing, invocation by qualifier, reserved concurrency,
//! resource policies, tags and the account's settings, through
//! `aws-sdk-lambda`, with the AWS CLI and boto3 on a few of them.

use aws_sdk_lambda::{
    Client,
    config::retry::RetryConfig,
    error::ProvideErrorMetadata,
    primitives::Blob,
    types::{AliasRoutingConfiguration, FunctionCode, Runtime, ThrottleReason},
};
use nubo_e2e::{Nubo, ROLE, ServiceName, lambda_client, package_of, path_with_python_tools};
use serde_json::{Value, json};

fn handler(version: &str) -> String {
    format!(
        "import os, time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return {{'code': '{version}', 'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'], 'arn': context.invoked_function_arn}}\n"
    )
}

async fn create(lambda: &Client, name: &str, code: &str) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .timeout(30)
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", code)]))).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("CreateFunction {name}: {error:?}"));
}

async fn update_code(lambda: &Client, name: &str, code: &str) {
    lambda
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(package_of(&[("app.py", code)])))
        .send()
        .await
        .unwrap();
}

/// Invokes `reference` and returns the answer and the executed version.
async fn invoke(lambda: &Client, reference: &str, payload: Value) -> (Value, String) {
    let output = lambda
        .invoke()
        .function_name(reference)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .unwrap_or_else(|error| panic!("Invoke {reference}: {error:?}"));
    assert_eq!(output.function_error(), None);
    let body: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    (body, output.executed_version().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_and_weighted_aliases_route_invocations() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));
    create(&lambda, "split", &handler("one")).await;

    let first = lambda.publish_version().function_name("split").description("first").send().await.unwrap();
    assert_eq!(first.version(), Some("1"));
    assert!(first.function_arn().unwrap().ends_with(":function:split:1"), "{first:?}");
    assert_eq!(first.description(), Some("first"));
    // Nothing changed: the same version again.
    let again = lambda.publish_version().function_name("split").send().await.unwrap();
    assert_eq!(again.version(), Some("1"));
    let stale = lambda.publish_version().function_name("split").code_sha256("bm90IGl0").send().await.unwrap_err();
    assert_eq!(stale.code(), Some("InvalidParameterValueException"), "{stale:?}");

    update_code(&lambda, "split", &handler("two")).await;
    let second = lambda.publish_version().function_name("split").send().await.unwrap();
    assert_eq!(second.version(), Some("2"));
    update_code(&lambda, "split", &handler("latest")).await;

    let versions = lambda.list_versions_by_function().function_name("split").send().await.unwrap();
    let numbers: Vec<&str> = versions.versions().iter().filter_map(|version| version.version()).collect();
    assert_eq!(numbers, ["$LATEST", "1", "2"]);

    // Each qualifier runs its own code, and says which version it is.
    let (answer, executed) = invoke(&lambda, "split:1", json!({})).await;
    assert_eq!((answer["code"].as_str(), answer["version"].as_str(), executed.as_str()), (Some("one"), Some("1"), "1"));
    assert!(answer["arn"].as_str().unwrap().ends_with(":function:split:1"), "{answer}");
    let (answer, executed) = invoke(&lambda, "split", json!({})).await;
    assert_eq!(
        (answer["code"].as_str(), answer["version"].as_str(), executed.as_str()),
        (Some("latest"), Some("$LATEST"), "$LATEST")
    );
    let configuration = lambda.get_function_configuration().function_name("split").qualifier("2").send().await.unwrap();
    assert_eq!(configuration.version(), Some("2"));
    let missing = lambda.invoke().function_name("split:9").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));

    // An alias sending 30% of invocations to version 2.
    let routing = AliasRoutingConfiguration::builder().additional_version_weights("2", 0.3).build();
    let alias = lambda
        .create_alias()
        .function_name("split")
        .name("live")
        .function_version("1")
        .routing_config(routing)
        .send()
        .await
        .unwrap();
    assert!(alias.alias_arn().unwrap().ends_with(":function:split:live"));
    let duplicate =
        lambda.create_alias().function_name("split").name("live").function_version("1").send().await.unwrap_err();
    assert_eq!(duplicate.code(), Some("ResourceConflictException"));
    let to_latest = lambda
        .create_alias()
        .function_name("split")
        .name("mixed")
        .function_version("$LATEST")
        .routing_config(AliasRoutingConfiguration::builder().additional_version_weights("2", 0.5).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(to_latest.code(), Some("InvalidParameterValueException"), "{to_latest:?}");

    let mut on_two = 0;
    for _ in 0..1000 {
        let (answer, executed) = invoke(&lambda, "split:live", json!({})).await;
        assert_eq!(
            answer["version"].as_str(),
            Some(executed.as_str()),
            "AWS_LAMBDA_FUNCTION_VERSION is the version run"
        );
        assert!(answer["arn"].as_str().unwrap().ends_with(":function:split:live"), "the invoked ARN names the alias");
        match executed.as_str() {
            "2" => on_two += 1,
            "1" => {}
            other => panic!("the alias ran version {other}"),
        }
    }
    assert!((250..=350).contains(&on_two), "version 2 took {on_two} of 1,000 invocations for a weight of 0.3");

    // An alias in use keeps its versions.
    let refused = lambda.delete_function().function_name("split").qualifier("2").send().await.unwrap_err();
    assert_eq!(refused.code(), Some("ResourceConflictException"), "{refused:?}");
    lambda
        .update_alias()
        .function_name("split")
        .name("live")
        .function_version("2")
        .routing_config(AliasRoutingConfiguration::builder().build())
        .send()
        .await
        .unwrap();
    let alias = lambda.get_alias().function_name("split").name("live").send().await.unwrap();
    assert_eq!(alias.function_version(), Some("2"));
    assert!(
        alias
            .routing_config()
            .is_none_or(|routing| routing.additional_version_weights().is_none_or(|weights| weights.is_empty()))
    );
    lambda.delete_function().function_name("split").qualifier("1").send().await.unwrap();
    let (answer, _) = invoke(&lambda, "split:live", json!({})).await;
    assert_eq!(answer["code"], "two");
    let aliases = lambda.list_aliases().function_name("split").send().await.unwrap();
    assert_eq!(aliases.aliases().len(), 1);
    let gone = lambda.get_alias().function_name("split").name("nope").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));

    lambda.delete_function().function_name("split").send().await.unwrap();
    let gone = lambda.invoke().function_name("split:2").send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_concurrency_throttles_one_function_while_others_run() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let base = lambda_client(&nubo.http_url(ServiceName::Functions));
    // Throttling must reach the test, not be retried away by the SDK.
    let lambda = Client::from_conf(base.config().to_builder().retry_config(RetryConfig::disabled()).build());
    create(&lambda, "single", &handler("single")).await;
    create(&lambda, "free", &handler("free")).await;

    let reserved = lambda
        .put_function_concurrency()
        .function_name("single")
        .reserved_concurrent_executions(1)
        .send()
        .await
        .unwrap();
    assert_eq!(reserved.reserved_concurrent_executions(), Some(1));
    let read = lambda.get_function_concurrency().function_name("single").send().await.unwrap();
    assert_eq!(read.reserved_concurrent_executions(), Some(1));
    let too_much = lambda
        .put_function_concurrency()
        .function_name("free")
        .reserved_concurrent_executions(100_000)
        .send()
        .await
        .unwrap_err();
    assert_eq!(too_much.code(), Some("InvalidParameterValueException"), "{too_much:?}");
    let settings = lambda.get_account_settings().send().await.unwrap();
    let limit = settings.account_limit().unwrap();
    assert_eq!(limit.unreserved_concurrent_executions(), Some(limit.concurrent_executions() - 1));
    assert_eq!(settings.account_usage().unwrap().function_count(), 2);

    // Warm it, then hold its one slot with a slow invocation.
    invoke(&lambda, "single", json!({})).await;
    let slow = {
        let lambda = lambda.clone();
        tokio::spawn(async move { invoke(&lambda, "single", json!({ "sleep": 3 })).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let throttled = lambda.invoke().function_name("single").send().await.unwrap_err();
    let service_error = throttled.as_service_error().unwrap_or_else(|| panic!("{throttled:?}"));
    assert!(service_error.is_too_many_requests_exception(), "{throttled:?}");
    let aws_sdk_lambda::operation::invoke::InvokeError::TooManyRequestsException(exception) = service_error else {
        panic!("{throttled:?}")
    };
    assert_eq!(exception.reason(), Some(&ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded));
    // Another function is not held back meanwhile.
    let (answer, _) = invoke(&lambda, "free", json!({})).await;
    assert_eq!(answer["code"], "free");
    assert_eq!(slow.await.unwrap().0["code"], "single");
    invoke(&lambda, "single", json!({})).await;

    lambda.put_function_concurrency().function_name("single").reserved_concurrent_executions(0).send().await.unwrap();
    let stopped = lambda.invoke().function_name("single").send().await.unwrap_err();
    assert_eq!(stopped.code(), Some("TooManyRequestsException"));
    lambda.delete_function_concurrency().function_name("single").send().await.unwrap();
    invoke(&lambda, "single", json!({})).await;
    let read = lambda.get_function_concurrency().function_name("single").send().await.unwrap();
    assert_eq!(read.reserved_concurrent_executions(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_and_tags_as_sam_and_the_cli_write_them() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let endpoint = nubo.http_url(ServiceName::Functions);
    let lambda = lambda_client(&endpoint);
    create(&lambda, "guarded", &handler("guarded")).await;
    let arn = lambda
        .get_function()
        .function_name("guarded")
        .send()
        .await
        .unwrap()
        .configuration()
        .unwrap()
        .function_arn()
        .unwrap()
        .to_owned();

    let added = lambda
        .add_permission()
        .function_name("guarded")
        .statement_id("apigw")
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .source_arn("arn:aws:execute-api:us-east-1:000000000000:abc123/*/*/hello")
        .send()
        .await
        .unwrap();
    let statement: Value = serde_json::from_str(added.statement().unwrap()).unwrap();
    assert_eq!(statement["Principal"], json!({ "Service": "apigateway.amazonaws.com" }));
    assert_eq!(statement["Resource"], arn);
    assert_eq!(
        statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        "arn:aws:execute-api:us-east-1:000000000000:abc123/*/*/hello"
    );
    let duplicate = lambda
        .add_permission()
        .function_name("guarded")
        .statement_id("apigw")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Some("ResourceConflictException"));
    let policy = lambda.get_policy().function_name("guarded").send().await.unwrap();
    let document: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(document["Version"], "2012-10-17");
    assert_eq!(document["Statement"][0]["Sid"], "apigw");

    // The AWS CLI and boto3 read and change the same policy and tags.
    let python = nubo_e2e::python_tools();
    let cli = std::process::Command::new(python.join("aws"))
        .args([
            "lambda",
            "add-permission",
            "--function-name",
            "guarded",
            "--statement-id",
            "account",
            "--action",
            "lambda:GetFunction",
            "--principal",
            "123456789012",
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ])
        .env("PATH", path_with_python_tools())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let printed: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let statement: Value = serde_json::from_str(printed["Statement"].as_str().unwrap()).unwrap();
    assert_eq!(statement["Principal"], json!({ "AWS": "arn:aws:iam::123456789012:root" }));
    let script = format!(
        "import boto3, json\nl = boto3.client('lambda', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\nl.tag_resource(Resource='{arn}', Tags={{'team': 'web', 'stage': 'dev'}})\nl.untag_resource(Resource='{arn}', TagKeys=['stage'])\nl.remove_permission(FunctionName='guarded', StatementId='apigw')\nimport urllib.request, zipfile, io\ngot = l.get_function(FunctionName='guarded')\npackage = urllib.request.urlopen(got['Code']['Location']).read()\nprint(json.dumps({{'tags': l.list_tags(Resource='{arn}')['Tags'], 'policy': json.loads(l.get_policy(FunctionName='guarded')['Policy']), 'package': [len(package), got['Configuration']['CodeSize'], zipfile.ZipFile(io.BytesIO(package)).namelist()]}}))\n"
    );
    let boto = std::process::Command::new(python.join("python")).args(["-c", &script]).output().unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let printed: Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(printed["tags"], json!({ "team": "web" }));
    assert_eq!(printed["policy"]["Statement"].as_array().unwrap().len(), 1);
    assert_eq!(printed["policy"]["Statement"][0]["Sid"], "account");
    // GetFunction's Code.Location, fetched as any HTTP client would.
    assert_eq!(printed["package"][0], printed["package"][1], "{printed}");
    assert!(printed["package"][2].as_array().unwrap().contains(&json!("app.py")), "{printed}");

    let tags = lambda.list_tags().resource(&arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().get("team").map(String::as_str), Some("web"));
    lambda.remove_permission().function_name("guarded").statement_id("account").send().await.unwrap();
    let empty = lambda.get_policy().function_name("guarded").send().await.unwrap_err();
    assert_eq!(empty.code(), Some("ResourceNotFoundException"));
    let missing = lambda.remove_permission().function_name("guarded").statement_id("account").send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
}
