//! Layers through `aws-sdk-lambda`: publish, list, get and delete layer
//! versions, and a function whose handler imports a module from its layers,
//! merged under `/opt` in order.

use aws_sdk_lambda::{
    Client,
    error::ProvideErrorMetadata,
    primitives::Blob,
    types::{FunctionCode, LayerVersionContentInput, Runtime},
};
use nubo_e2e::{Nubo, ROLE, ServiceName, lambda_client, package_of};
use serde_json::Value;

async fn publish(lambda: &Client, name: &str, files: &[(&str, &str)]) -> String {
    let published = lambda
        .publish_layer_version()
        .layer_name(name)
        .description("shared code")
        .compatible_runtimes(Runtime::Python312)
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(package_of(files))).build())
        .send()
        .await
        .unwrap_or_else(|error| panic!("PublishLayerVersion {name}: {error:?}"));
    published.layer_version_arn().unwrap().to_owned()
}

const HANDLER: &str = "import greeting, os\ndef handler(event, context):\n    return {'greeting': greeting.text(), 'helper': open('/opt/bin/helper').read() if os.path.exists('/opt/bin/helper') else None}\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_imports_from_its_layers_in_order() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(&state.path().join("state")).await;
    let lambda = lambda_client(&nubo.http_url(ServiceName::Functions));

    let base = publish(
        &lambda,
        "shared",
        &[("python/greeting.py", "def text():\n    return 'from layer one'\n"), ("bin/helper", "one")],
    )
    .await;
    assert!(base.ends_with(":layer:shared:1"), "{base}");
    // A second version of the same layer, and another layer that
    // replaces the module: the later layer wins.
    let second = publish(&lambda, "shared", &[("python/greeting.py", "def text():\n    return 'v2'\n")]).await;
    assert!(second.ends_with(":layer:shared:2"));
    let patch =
        publish(&lambda, "patch", &[("python/greeting.py", "def text():\n    return 'from the patch layer'\n")]).await;

    let created = lambda
        .create_function()
        .function_name("layered")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("app.handler")
        .layers(&base)
        .layers(&patch)
        .code(FunctionCode::builder().zip_file(Blob::new(package_of(&[("app.py", HANDLER)]))).build())
        .send()
        .await
        .unwrap();
    let layers: Vec<&str> = created.layers().iter().filter_map(|layer| layer.arn()).collect();
    assert_eq!(layers, [base.as_str(), patch.as_str()]);
    let output = lambda.invoke().function_name("layered").send().await.unwrap();
    assert_eq!(output.function_error(), None, "{:?}", output.payload());
    let answer: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    assert_eq!(answer["greeting"], "from the patch layer");
    assert_eq!(answer["helper"], "one", "files of earlier layers stay");

    // Reordered, the first layer's module wins.
    lambda.update_function_configuration().function_name("layered").layers(&patch).layers(&base).send().await.unwrap();
    let output = lambda.invoke().function_name("layered").send().await.unwrap();
    let answer: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    assert_eq!(answer["greeting"], "from layer one");

    let versions = lambda.list_layer_versions().layer_name("shared").send().await.unwrap();
    let numbers: Vec<i64> = versions.layer_versions().iter().map(|version| version.version()).collect();
    assert_eq!(numbers, [2, 1], "newest first");
    let layers = lambda.list_layers().send().await.unwrap();
    assert_eq!(layers.layers().len(), 2);
    let got = lambda.get_layer_version().layer_name("shared").version_number(1).send().await.unwrap();
    assert_eq!(got.description(), Some("shared code"));
    assert!(got.content().unwrap().code_size() > 0);

    let six: Vec<String> = (0..6).map(|_| base.clone()).collect();
    let too_many =
        lambda.update_function_configuration().function_name("layered").set_layers(Some(six)).send().await.unwrap_err();
    assert_eq!(too_many.code(), Some("InvalidParameterValueException"), "{too_many:?}");
    let missing = lambda
        .update_function_configuration()
        .function_name("layered")
        .layers(base.replace(":1", ":9"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"), "{missing:?}");

    // A deleted layer version is gone for new functions; this one keeps it.
    lambda.delete_layer_version().layer_name("shared").version_number(1).send().await.unwrap();
    let gone = lambda.get_layer_version().layer_name("shared").version_number(1).send().await.unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
    let output = lambda.invoke().function_name("layered").send().await.unwrap();
    assert_eq!(output.function_error(), None);
}
