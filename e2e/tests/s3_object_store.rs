//! `object_store`'s own S3 client (`AmazonS3Builder`) against nubo's S3
//! endpoint, and a nubo whose object bytes live in another nubo.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use futures::TryStreamExt as _;
use nubo_e2e::{Nubo, s3_client};
use nubo_host::ServiceName;
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, WriteMultipart, aws::AmazonS3Builder, path::Path,
};

fn store_at(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn object_stores_s3_client_works_against_nubo() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let endpoint = nubo.http_url(ServiceName::Storage);
    s3_client(&endpoint).create_bucket().bucket("lake").send().await.unwrap();
    let store = store_at(&endpoint, "lake");

    store.put(&Path::from("tables/a/part-0.parquet"), b"first".to_vec().into()).await.unwrap();
    store.put(&Path::from("tables/b/part-0.parquet"), b"second".to_vec().into()).await.unwrap();
    let got = store.get(&Path::from("tables/a/part-0.parquet")).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"first");
    let range = store.get_range(&Path::from("tables/b/part-0.parquet"), 1..4).await.unwrap();
    assert_eq!(&range[..], b"eco");
    let head = store.head(&Path::from("tables/a/part-0.parquet")).await.unwrap();
    assert_eq!(head.size, 5);

    // A streamed multipart write of 12 MiB in 5 MiB parts.
    let upload = store.put_multipart(&Path::from("big/blob.bin")).await.unwrap();
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024);
    let data: Vec<u8> = (0..12 * 1024 * 1024).map(|index: usize| (index % 251) as u8).collect();
    writer.write(&data);
    writer.finish().await.unwrap();
    let back = store.get(&Path::from("big/blob.bin")).await.unwrap().bytes().await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back[..] == data[..]);

    let listed: Vec<_> = store.list(Some(&Path::from("tables"))).try_collect().await.unwrap();
    assert_eq!(listed.len(), 2);
    let by_directory = store.list_with_delimiter(Some(&Path::from("tables"))).await.unwrap();
    assert_eq!(by_directory.common_prefixes.len(), 2);

    // Conditional create: the second one is refused.
    let create = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
    store.put_opts(&Path::from("lock"), b"mine".to_vec().into(), create.clone()).await.unwrap();
    let again = store.put_opts(&Path::from("lock"), b"theirs".to_vec().into(), create).await;
    assert!(matches!(again, Err(object_store::Error::AlreadyExists { .. })), "{again:?}");

    store.copy(&Path::from("tables/a/part-0.parquet"), &Path::from("copied")).await.unwrap();
    assert_eq!(&store.get(&Path::from("copied")).await.unwrap().bytes().await.unwrap()[..], b"first");
    store.delete(&Path::from("copied")).await.unwrap();
    assert!(matches!(store.head(&Path::from("copied")).await, Err(object_store::Error::NotFound { .. })));
}

#[tokio::test]
async fn a_nubo_keeps_its_bytes_in_another_nubo() {
    let state = tempfile::tempdir().unwrap();
    let backing = Nubo::up(&state.path().join("backing")).await;
    let backing_endpoint = backing.http_url(ServiceName::Storage);
    let backing_s3 = s3_client(&backing_endpoint);
    backing_s3.create_bucket().bucket("bytes").send().await.unwrap();

    let front = Nubo::up_with(
        &state.path().join("front"),
        &[
            ("NUBO_STORAGE__BACKEND__ENDPOINT", backing_endpoint.as_str()),
            ("NUBO_STORAGE__BACKEND__BUCKET", "bytes"),
            ("NUBO_STORAGE__BACKEND__ACCESS_KEY_ID", "test"),
            ("NUBO_STORAGE__BACKEND__SECRET_ACCESS_KEY", "test"),
        ],
    )
    .await;
    let s3 = s3_client(&front.http_url(ServiceName::Storage));
    s3.create_bucket().bucket("photos").send().await.unwrap();
    let data = vec![7u8; 6 * 1024 * 1024];
    s3.put_object().bucket("photos").key("cat.jpg").body(ByteStream::from(data.clone())).send().await.unwrap();
    let got = s3.get_object().bucket("photos").key("cat.jpg").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().len(), data.len());
    let ranged = s3.get_object().bucket("photos").key("cat.jpg").range("bytes=10-19").send().await.unwrap();
    assert_eq!(ranged.body.collect().await.unwrap().into_bytes().len(), 10);

    // The bytes are in the backing nubo, as blobs of the front's buckets.
    let listed = backing_s3.list_objects_v2().bucket("bytes").prefix("blobs/photos/").send().await.unwrap();
    assert_eq!(listed.contents().len(), 1, "{listed:?}");
    assert_eq!(listed.contents()[0].size(), Some(data.len() as i64));
    // A delete leaves the blob to the collector (a reader may still be
    // streaming it); the object itself is gone at once.
    s3.delete_object().bucket("photos").key("cat.jpg").send().await.unwrap();
    let gone = s3.head_object().bucket("photos").key("cat.jpg").send().await;
    assert_eq!(gone.unwrap_err().raw_response().unwrap().status().as_u16(), 404);
}
