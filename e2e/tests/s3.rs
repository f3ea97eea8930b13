//! The S3 API through `aws-sdk-s3` at its default settings (CRC checksums
//! in `aws-chunked` bodies with trailers), through plain HTTP clients for
//! presigned URLs and virtual-host addressing, and through boto3, against
//! `nubo up`.

use std::{collections::BTreeSet, time::Duration};

use aws_sdk_s3::{
    Client,
    error::ProvideErrorMetadata,
    primitives::ByteStream,
    types::{
        BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, Delete,
        MetadataDirective, ObjectAttributes, ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
    },
};
use futures::StreamExt as _;
use md5::{Digest as _, Md5};
use nubo_e2e::{Nubo, Signing, fixture, path_with_python_tools, s3_client, sign_request};
use nubo_host::ServiceName;
use serde_json::Value;

/// The error code and HTTP status of a failed SDK call.
fn failure<E: ProvideErrorMetadata>(
    result: Result<impl std::fmt::Debug, aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> (String, u16) {
    let error = result.expect_err("the call should fail");
    let status = error.raw_response().map(|response| response.status().as_u16()).unwrap_or(0);
    (error.code().unwrap_or_default().to_owned(), status)
}

async fn body_of(output: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    output.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn start() -> (tempfile::TempDir, Nubo, Client, String) {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let endpoint = nubo.http_url(ServiceName::Storage);
    let client = s3_client(&endpoint);
    (state, nubo, client, endpoint)
}

#[tokio::test]
async fn objects_round_trip_with_default_checksums_ranges_and_conditions() {
    let (_state, _nubo, s3, _) = start().await;
    s3.create_bucket().bucket("photos").send().await.unwrap();
    s3.head_bucket().bucket("photos").send().await.unwrap();

    let put = s3
        .put_object()
        .bucket("photos")
        .key("2024/a b+c.txt")
        .body(ByteStream::from_static(b"hello, world"))
        .content_type("text/plain")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"a.txt\"")
        .metadata("Colour", "blue")
        .storage_class(aws_sdk_s3::types::StorageClass::StandardIa)
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", hex(&Md5::digest(b"hello, world"))));
    // The SDK sent a CRC32 by default; S3 keeps and returns it.
    assert!(put.checksum_crc32().is_some(), "{put:?}");

    let got = s3
        .get_object()
        .bucket("photos")
        .key("2024/a b+c.txt")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(got.content_disposition(), Some("attachment; filename=\"a.txt\""));
    assert_eq!(got.metadata().unwrap().get("colour").map(String::as_str), Some("blue"));
    assert_eq!(got.storage_class().map(|class| class.as_str()), Some("STANDARD_IA"));
    assert_eq!(got.checksum_crc32(), put.checksum_crc32());
    assert_eq!(body_of(got).await, b"hello, world");

    // Ranges: a-b, open-ended, suffix, and one no byte satisfies.
    for (range, expected) in [("bytes=0-4", &b"hello"[..]), ("bytes=7-", b"world"), ("bytes=-5", b"world")] {
        let got = s3.get_object().bucket("photos").key("2024/a b+c.txt").range(range).send().await.unwrap();
        assert!(got.content_range().unwrap().starts_with("bytes "), "{range}");
        assert_eq!(body_of(got).await, expected, "{range}");
    }
    let (code, status) =
        failure(s3.get_object().bucket("photos").key("2024/a b+c.txt").range("bytes=100-").send().await);
    assert_eq!((code.as_str(), status), ("InvalidRange", 416));

    // Conditional reads and writes.
    let (code, status) =
        failure(s3.get_object().bucket("photos").key("2024/a b+c.txt").if_match("\"nope\"").send().await);
    assert_eq!((code.as_str(), status), ("PreconditionFailed", 412));
    let (_, status) = failure(s3.get_object().bucket("photos").key("2024/a b+c.txt").if_none_match(&etag).send().await);
    assert_eq!(status, 304);
    let (_, status) = failure(
        s3.get_object()
            .bucket("photos")
            .key("2024/a b+c.txt")
            .if_modified_since(aws_sdk_s3::primitives::DateTime::from_secs(i64::from(u32::MAX)))
            .send()
            .await,
    );
    assert_eq!(status, 304);
    let (code, status) = failure(
        s3.put_object()
            .bucket("photos")
            .key("2024/a b+c.txt")
            .if_none_match("*")
            .body(ByteStream::from_static(b"replaced"))
            .send()
            .await,
    );
    assert_eq!((code.as_str(), status), ("PreconditionFailed", 412));
    s3.put_object()
        .bucket("photos")
        .key("fresh")
        .if_none_match("*")
        .body(ByteStream::from_static(b"first"))
        .send()
        .await
        .unwrap();

    // A wrong checksum is refused and nothing is written.
    let (code, _) = failure(
        s3.put_object()
            .bucket("photos")
            .key("corrupt")
            .checksum_crc32("AAAAAA==")
            .body(ByteStream::from_static(b"bytes"))
            .send()
            .await,
    );
    assert_eq!(code, "BadDigest");
    let (code, _) = failure(s3.head_object().bucket("photos").key("corrupt").send().await);
    assert_eq!(code, "NotFound");

    // Every checksum algorithm, verified and returned.
    for algorithm in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("sum/{}", algorithm.as_str());
        s3.put_object()
            .bucket("photos")
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from_static(b"checksummed"))
            .send()
            .await
            .unwrap();
        let head =
            s3.head_object().bucket("photos").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let returned = [
            head.checksum_crc32(),
            head.checksum_crc32_c(),
            head.checksum_crc64_nvme(),
            head.checksum_sha1(),
            head.checksum_sha256(),
        ];
        assert_eq!(returned.iter().flatten().count(), 1, "{key}: {head:?}");
    }

    // Keys are any UTF-8 up to 1,024 bytes, stored as sent.
    for key in ["../../etc/passwd", "a/./b//c", "tab\there", "ünïcødé/🦀", "%2e%2e", "space at end "] {
        s3.put_object().bucket("photos").key(key).body(ByteStream::from_static(b"odd")).send().await.unwrap();
        let got = s3.get_object().bucket("photos").key(key).send().await.unwrap();
        assert_eq!(body_of(got).await, b"odd", "{key:?}");
    }
    let long = "k".repeat(1025);
    let (code, _) =
        failure(s3.put_object().bucket("photos").key(&long).body(ByteStream::from_static(b"x")).send().await);
    assert_eq!(code, "KeyTooLongError");

    // Copy: metadata kept, or replaced; a copy onto itself must change something.
    s3.copy_object().bucket("photos").key("copied").copy_source("photos/2024/a%20b%2Bc.txt").send().await.unwrap();
    let copied = s3.head_object().bucket("photos").key("copied").send().await.unwrap();
    assert_eq!(copied.metadata().unwrap().get("colour").map(String::as_str), Some("blue"));
    assert_eq!(copied.e_tag(), Some(etag.as_str()));
    s3.copy_object()
        .bucket("photos")
        .key("copied")
        .copy_source("photos/copied")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("colour", "red")
        .content_type("text/csv")
        .send()
        .await
        .unwrap();
    let replaced = s3.head_object().bucket("photos").key("copied").send().await.unwrap();
    assert_eq!(replaced.metadata().unwrap().get("colour").map(String::as_str), Some("red"));
    assert_eq!(replaced.content_type(), Some("text/csv"));
    let (code, _) = failure(s3.copy_object().bucket("photos").key("copied").copy_source("photos/copied").send().await);
    assert_eq!(code, "InvalidRequest");
    let (code, _) = failure(
        s3.copy_object()
            .bucket("photos")
            .key("x")
            .copy_source("photos/copied")
            .copy_source_if_match("\"other\"")
            .send()
            .await,
    );
    assert_eq!(code, "PreconditionFailed");

    // Attributes and tags.
    let attributes = s3
        .get_object_attributes()
        .bucket("photos")
        .key("2024/a b+c.txt")
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::StorageClass)
        .send()
        .await
        .unwrap();
    assert_eq!(attributes.object_size(), Some(12));
    assert_eq!(attributes.e_tag(), Some(etag.trim_matches('"')));
    let tagging = Tagging::builder().tag_set(Tag::builder().key("team").value("web").build().unwrap()).build().unwrap();
    s3.put_object_tagging().bucket("photos").key("copied").tagging(tagging).send().await.unwrap();
    let tags = s3.get_object_tagging().bucket("photos").key("copied").send().await.unwrap();
    assert_eq!(tags.tag_set()[0].key(), "team");

    // DeleteObjects, with the CRC the SDK sends in place of Content-MD5.
    let delete = Delete::builder()
        .objects(ObjectIdentifier::builder().key("copied").build().unwrap())
        .objects(ObjectIdentifier::builder().key("fresh").build().unwrap())
        .objects(ObjectIdentifier::builder().key("never-there").build().unwrap())
        .build()
        .unwrap();
    let deleted = s3.delete_objects().bucket("photos").delete(delete).send().await.unwrap();
    assert_eq!(deleted.deleted().len(), 3, "{deleted:?}");
    let (code, _) = failure(s3.get_object().bucket("photos").key("copied").send().await);
    assert_eq!(code, "NoSuchKey");

    // Buckets: not empty, then empty and gone.
    let (code, status) = failure(s3.delete_bucket().bucket("photos").send().await);
    assert_eq!((code.as_str(), status), ("BucketNotEmpty", 409));
    let (code, _) = failure(s3.get_object().bucket("nothing-here").key("k").send().await);
    assert_eq!(code, "NoSuchBucket");
    let (code, _) = failure(s3.create_bucket().bucket("Bad_Name").send().await);
    assert_eq!(code, "InvalidBucketName");
    s3.create_bucket().bucket("empty-one").send().await.unwrap();
    s3.delete_bucket().bucket("empty-one").send().await.unwrap();
    let (_, status) = failure(s3.head_bucket().bucket("empty-one").send().await);
    assert_eq!(status, 404);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test]
async fn listings_page_with_common_prefixes_counted_once() {
    let (_state, _nubo, s3, _) = start().await;
    s3.create_bucket().bucket("tree").send().await.unwrap();
    let mut keys = Vec::new();
    for dir in ["a", "b", "c"] {
        for file in 0..4 {
            keys.push(format!("{dir}/{file}.txt"));
        }
    }
    keys.extend(["top1".to_owned(), "top2".to_owned(), "a+plus/x".to_owned()]);
    for key in &keys {
        s3.put_object().bucket("tree").key(key).body(ByteStream::from_static(b"x")).send().await.unwrap();
    }

    // V2 with a delimiter, two entries a page: every prefix and top-level
    // key exactly once.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("tree")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        let entries = page.contents().len() + page.common_prefixes().len();
        assert!(entries <= 2, "{page:?}");
        assert_eq!(page.key_count(), Some(entries as i32));
        seen.extend(page.common_prefixes().iter().map(|prefix| prefix.prefix().unwrap().to_owned()));
        seen.extend(page.contents().iter().map(|object| object.key().unwrap().to_owned()));
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["a+plus/", "a/", "b/", "c/", "top1", "top2"]);

    // Every key through the paginator, under a prefix.
    let mut listed = Vec::new();
    let mut pages = s3.list_objects_v2().bucket("tree").prefix("b/").max_keys(3).into_paginator().send();
    while let Some(page) = pages.next().await {
        listed.extend(page.unwrap().contents().iter().map(|object| object.key().unwrap().to_owned()));
    }
    assert_eq!(listed, ["b/0.txt", "b/1.txt", "b/2.txt", "b/3.txt"]);

    // V1 with markers, and start-after on V2.
    let first = s3.list_objects().bucket("tree").delimiter("/").max_keys(1).send().await.unwrap();
    assert_eq!(first.is_truncated(), Some(true));
    let marker = first.next_marker().unwrap().to_owned();
    let second = s3.list_objects().bucket("tree").delimiter("/").marker(&marker).max_keys(1).send().await.unwrap();
    assert_ne!(second.common_prefixes().first().and_then(|prefix| prefix.prefix()), Some(marker.as_str()));
    let after = s3.list_objects_v2().bucket("tree").start_after("c/3.txt").send().await.unwrap();
    let after: Vec<_> = after.contents().iter().map(|object| object.key().unwrap()).collect();
    assert_eq!(after, ["top1", "top2"]);
}

#[tokio::test]
async fn versioned_overwrites_and_delete_markers() {
    let (_state, _nubo, s3, _) = start().await;
    s3.create_bucket().bucket("history").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("history")
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .unwrap();
    let status = s3.get_bucket_versioning().bucket("history").send().await.unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));
    let v1 = s3.put_object().bucket("history").key("doc").body(ByteStream::from_static(b"one")).send().await.unwrap();
    let v2 = s3.put_object().bucket("history").key("doc").body(ByteStream::from_static(b"two")).send().await.unwrap();
    let (v1, v2) = (v1.version_id().unwrap().to_owned(), v2.version_id().unwrap().to_owned());
    assert_ne!(v1, v2);
    let old = s3.get_object().bucket("history").key("doc").version_id(&v1).send().await.unwrap();
    assert_eq!(body_of(old).await, b"one");
    let deleted = s3.delete_object().bucket("history").key("doc").send().await.unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    let (code, _) = failure(s3.get_object().bucket("history").key("doc").send().await);
    assert_eq!(code, "NoSuchKey");
    let versions = s3.list_object_versions().bucket("history").send().await.unwrap();
    assert_eq!(versions.versions().len(), 2, "{versions:?}");
    assert_eq!(versions.delete_markers().len(), 1);
    assert_eq!(versions.delete_markers()[0].is_latest(), Some(true));
    // Removing the marker brings the newest version back.
    let marker = versions.delete_markers()[0].version_id().unwrap().to_owned();
    s3.delete_object().bucket("history").key("doc").version_id(&marker).send().await.unwrap();
    let current = s3.get_object().bucket("history").key("doc").send().await.unwrap();
    assert_eq!(current.version_id(), Some(v2.as_str()));
    assert_eq!(body_of(current).await, b"two");
    // Paged version listings resume inside a key.
    let page = s3.list_object_versions().bucket("history").max_keys(1).send().await.unwrap();
    assert_eq!(page.is_truncated(), Some(true));
    let rest = s3
        .list_object_versions()
        .bucket("history")
        .key_marker(page.next_key_marker().unwrap())
        .version_id_marker(page.next_version_id_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.versions().len(), 1);
    assert_eq!(rest.versions()[0].version_id(), Some(v1.as_str()));
}

#[tokio::test]
async fn multipart_upload_with_parallel_parts_and_the_rules_of_s3() {
    let (_state, _nubo, s3, _) = start().await;
    s3.create_bucket().bucket("big").send().await.unwrap();
    const PART: usize = 32 * 1024 * 1024;
    const PARTS: usize = 8;
    let data: bytes::Bytes =
        (0..PART * PARTS).map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<u8>>().into();

    let upload = s3
        .create_multipart_upload()
        .bucket("big")
        .key("archive.bin")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();
    let sends: Vec<_> = (0..PARTS)
        .map(|index| {
            let (s3, upload_id) = (s3.clone(), upload_id.clone());
            let body = data.slice(index * PART..(index + 1) * PART);
            async move {
                let part = s3
                    .upload_part()
                    .bucket("big")
                    .key("archive.bin")
                    .upload_id(&upload_id)
                    .part_number(index as i32 + 1)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
                CompletedPart::builder()
                    .part_number(index as i32 + 1)
                    .e_tag(part.e_tag().unwrap())
                    .set_checksum_crc32(part.checksum_crc32().map(str::to_owned))
                    .build()
            }
        })
        .collect();
    let mut parts = Vec::new();
    let mut pending = futures::stream::iter(sends).buffered(4);
    while let Some(part) = pending.next().await {
        parts.push(part);
    }
    let listed =
        s3.list_parts().bucket("big").key("archive.bin").upload_id(&upload_id).max_parts(5).send().await.unwrap();
    assert_eq!(listed.parts().len(), 5);
    assert_eq!(listed.is_truncated(), Some(true));
    let uploads = s3.list_multipart_uploads().bucket("big").send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1);

    // Out of order, a wrong ETag, nothing listed: S3's errors, nothing visible.
    let mut reversed = parts.clone();
    reversed.reverse();
    let complete = |parts: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket("big")
            .key("archive.bin")
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
    };
    assert_eq!(failure(complete(reversed).await).0, "InvalidPartOrder");
    let mut wrong = parts.clone();
    wrong[2] = CompletedPart::builder().part_number(3).e_tag("\"00000000000000000000000000000000\"").build();
    assert_eq!(failure(complete(wrong).await).0, "InvalidPart");
    assert_eq!(failure(s3.head_object().bucket("big").key("archive.bin").send().await).1, 404);

    let done = complete(parts.clone()).await.unwrap();
    let mut md5s = Vec::new();
    for index in 0..PARTS {
        md5s.extend_from_slice(&Md5::digest(&data[index * PART..(index + 1) * PART]));
    }
    assert_eq!(done.e_tag(), Some(format!("\"{}-{PARTS}\"", hex(&Md5::digest(&md5s))).as_str()));
    assert!(done.checksum_crc32().is_some_and(|sum| sum.ends_with(&format!("-{PARTS}"))), "{done:?}");

    // A range across a part boundary, one part by number, and the whole.
    let across = s3
        .get_object()
        .bucket("big")
        .key("archive.bin")
        .range(format!("bytes={}-{}", PART - 10, PART + 9))
        .send()
        .await
        .unwrap();
    assert_eq!(body_of(across).await, &data[PART - 10..PART + 10]);
    let third = s3.get_object().bucket("big").key("archive.bin").part_number(3).send().await.unwrap();
    assert_eq!(third.parts_count(), Some(PARTS as i32));
    assert_eq!(body_of(third).await.len(), PART);
    let whole = s3.get_object().bucket("big").key("archive.bin").send().await.unwrap();
    let mut stream = whole.body;
    let mut hasher = Md5::new();
    let mut size = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        size += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(size, data.len());
    assert_eq!(hasher.finalize(), Md5::digest(&data));
    assert!(s3.list_multipart_uploads().bucket("big").send().await.unwrap().uploads().is_empty());

    // An empty last (here only) part is a part like any other.
    let empty = s3.create_multipart_upload().bucket("big").key("empty").send().await.unwrap();
    let empty_id = empty.upload_id().unwrap().to_owned();
    let part = s3
        .upload_part()
        .bucket("big")
        .key("empty")
        .upload_id(&empty_id)
        .part_number(1)
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    assert_eq!(part.e_tag(), Some(format!("\"{}\"", hex(&Md5::digest(b""))).as_str()));
    let completed = s3
        .complete_multipart_upload()
        .bucket("big")
        .key("empty")
        .upload_id(&empty_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(completed.e_tag(), Some(format!("\"{}-1\"", hex(&Md5::digest(Md5::digest(b"")))).as_str()));
    let got = s3.get_object().bucket("big").key("empty").send().await.unwrap();
    assert_eq!(got.content_length(), Some(0));

    // A small part that is not the last is too small; an abort leaves nothing.
    let small = s3.create_multipart_upload().bucket("big").key("small").send().await.unwrap();
    let small_id = small.upload_id().unwrap().to_owned();
    let mut small_parts = Vec::new();
    for number in 1..=2 {
        let part = s3
            .upload_part()
            .bucket("big")
            .key("small")
            .upload_id(&small_id)
            .part_number(number)
            .body(ByteStream::from_static(b"tiny"))
            .send()
            .await
            .unwrap();
        small_parts.push(CompletedPart::builder().part_number(number).e_tag(part.e_tag().unwrap()).build());
    }
    let too_small = s3
        .complete_multipart_upload()
        .bucket("big")
        .key("small")
        .upload_id(&small_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(small_parts)).build())
        .send()
        .await;
    assert_eq!(failure(too_small).0, "EntityTooSmall");
    // UploadPartCopy: a range of the finished object as a part.
    let copied = s3
        .upload_part_copy()
        .bucket("big")
        .key("small")
        .upload_id(&small_id)
        .part_number(3)
        .copy_source("big/archive.bin")
        .copy_source_range("bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(
        copied.copy_part_result().unwrap().e_tag(),
        Some(format!("\"{}\"", hex(&Md5::digest(&data[..100]))).as_str())
    );
    // A copy range past the source's end is refused, not clamped.
    let past_end = s3
        .upload_part_copy()
        .bucket("big")
        .key("small")
        .upload_id(&small_id)
        .part_number(4)
        .copy_source("big/archive.bin")
        .copy_source_range(format!("bytes=0-{}", data.len()))
        .send()
        .await;
    assert_eq!(failure(past_end).0, "InvalidArgument");
    s3.abort_multipart_upload().bucket("big").key("small").upload_id(&small_id).send().await.unwrap();
    let (code, _) = failure(s3.list_parts().bucket("big").key("small").upload_id(&small_id).send().await);
    assert_eq!(code, "NoSuchUpload");
}

#[tokio::test]
async fn presigned_urls_and_virtual_hosts_work_from_plain_http() {
    let (_state, nubo, s3, endpoint) = start().await;
    s3.create_bucket().bucket("shared").send().await.unwrap();
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = s3.put_object().bucket("shared").key("upload.txt").presigned(config.clone()).await.unwrap();
    let http = reqwest::Client::new();
    let answer = http.put(put.uri()).body("from a browser").send().await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let get = s3.get_object().bucket("shared").key("upload.txt").presigned(config).await.unwrap();
    let answer = http.get(get.uri()).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "from a browser");
    // Tampered: the signature no longer matches.
    let answer = http.get(get.uri().replace("upload.txt", "other.txt")).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    assert!(answer.text().await.unwrap().contains("<Code>SignatureDoesNotMatch</Code>"));

    // Virtual-host style, through the storage port and through the edge.
    let port = endpoint.rsplit(':').next().unwrap().to_owned();
    let edge_port = nubo.edge_url().rsplit(':').next().unwrap().trim_end_matches('/').to_owned();
    for (host, port) in
        [("shared.s3.localhost", &port), ("shared.localhost", &port), ("shared.s3.localhost", &edge_port)]
    {
        let client = reqwest::Client::builder()
            .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port.parse().unwrap())))
            .build()
            .unwrap();
        let url = format!("http://{host}:{port}/upload.txt");
        let signed = sign_request(
            "GET",
            &url,
            &[],
            b"",
            &Signing { service: "s3", unsigned_payload: true, ..Signing::default() },
        );
        let mut request = client.get(&url);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 200, "{host}:{port}");
        assert_eq!(answer.text().await.unwrap(), "from a browser");
    }
}

#[tokio::test]
async fn malformed_and_unsigned_requests_get_s3_errors() {
    let (_state, _nubo, s3, endpoint) = start().await;
    s3.create_bucket().bucket("strict").send().await.unwrap();
    let http = reqwest::Client::new();
    // No signature at all: refused.
    let answer = http.get(format!("{endpoint}/strict/x")).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    // A malformed XML body.
    let url = format!("{endpoint}/strict?delete");
    let body = b"<Delete><Object><Key>a</Key></Object";
    let md5 = base64_of(&Md5::digest(body));
    let signed = sign_request(
        "POST",
        &url,
        &[("content-md5", &md5)],
        body,
        &Signing { service: "s3", unsigned_payload: true, ..Signing::default() },
    );
    let mut request = http.post(&url).header("content-md5", &md5).body(&body[..]);
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), 400);
    let text = answer.text().await.unwrap();
    assert!(text.contains("<Code>MalformedXML</Code>"), "{text}");
    assert!(text.contains("<Resource>/strict</Resource>") && text.contains("<RequestId>"), "{text}");
    // A PUT declaring more than 5 GiB is refused before any byte is read.
    let url = format!("{endpoint}/strict/huge");
    let huge = (6u64 << 30).to_string();
    let declared = [("x-amz-decoded-content-length", huge.as_str())];
    let signed = sign_request(
        "PUT",
        &url,
        &declared,
        b"",
        &Signing { service: "s3", unsigned_payload: true, ..Signing::default() },
    );
    let mut request = http.put(&url).header("x-amz-decoded-content-length", &huge).body("x");
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let answer = request.send().await.unwrap();
    let text = answer.text().await.unwrap();
    assert!(text.contains("<Code>EntityTooLarge</Code>"), "{text}");
    assert_eq!(failure(s3.head_object().bucket("strict").key("huge").send().await).1, 404);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn boto3_and_the_cli_drive_the_same_api() {
    let (state, nubo, _s3, endpoint) = start().await;
    let boto = std::process::Command::new("python3")
        .arg(fixture("s3/boto3_objects.py"))
        .arg(&endpoint)
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    let answer: Value = serde_json::from_slice(&boto.stdout).unwrap();
    assert_eq!(answer["body"], "hello from boto3");
    assert_eq!(answer["multipart_etag_parts"], 3);
    assert_eq!(answer["multipart_size"], 12 * 1024 * 1024 + 5);
    assert_eq!(answer["listed"], serde_json::json!(["docs/", "hello.txt", "multi.bin"]));
    assert_eq!(answer["presigned"], "hello from boto3");
    assert_eq!(answer["legacy_presigned"], "hello from boto3", "boto3's default (version 2) presigned URL");
    assert_eq!(answer["legacy_tampered"], 403);
    assert_eq!(answer["missing"], "NoSuchKey");

    // The CLI through the edge: sync a directory up and back down.
    let local = state.path().join("site");
    std::fs::create_dir_all(local.join("css")).unwrap();
    std::fs::write(local.join("index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(local.join("css/site.css"), "h1{}").unwrap();
    let cli = |args: &[&str]| {
        let output = nubo_e2e::aws_cli(state.path(), Some(&nubo.edge_url())).args(args).output().unwrap();
        assert!(output.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    cli(&["s3", "mb", "s3://site"]);
    cli(&["s3", "sync", local.to_str().unwrap(), "s3://site/"]);
    let listing = cli(&["s3", "ls", "s3://site/", "--recursive"]);
    let keys: BTreeSet<&str> = listing.lines().filter_map(|line| line.split_whitespace().last()).collect();
    assert_eq!(keys, BTreeSet::from(["css/site.css", "index.html"]));
    let back = state.path().join("back");
    cli(&["s3", "sync", "s3://site/", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(back.join("css/site.css")).unwrap(), "h1{}");
    cli(&["s3", "rb", "s3://site", "--force"]);
}

#[tokio::test]
async fn https_with_the_certificate_nubo_made() {
    let (state, nubo, _, _) = start().await;
    let (endpoint, certificate) = nubo.s3_https();
    let pem = std::fs::read(&certificate).expect("nubo up wrote its certificate");
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(
            TlsContext::builder().with_trust_store(TrustStore::empty().with_pem_certificate(pem)).build().unwrap(),
        )
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(nubo_e2e::credentials("test", "test"))
        .endpoint_url(&endpoint)
        .force_path_style(true)
        .http_client(http)
        .build();
    let s3 = Client::from_conf(config);
    s3.create_bucket().bucket("secure").send().await.unwrap();
    // Over TLS the SDK sends its body unsigned, with a checksum trailer.
    let put =
        s3.put_object().bucket("secure").key("a").body(ByteStream::from(vec![1u8; 100_000])).send().await.unwrap();
    assert!(put.checksum_crc32().is_some());
    let got = s3.get_object().bucket("secure").key("a").send().await.unwrap();
    assert_eq!(body_of(got).await.len(), 100_000);

    // boto3 and the CLI, trusting the same certificate.
    let boto = std::process::Command::new("python3")
        .args(["-c", "import boto3,sys; s3=boto3.client('s3', endpoint_url=sys.argv[1], verify=sys.argv[2], region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test'); s3.put_object(Bucket='secure', Key='b', Body=b'x'*70000); print(len(s3.get_object(Bucket='secure', Key='b')['Body'].read()))"])
        .args([endpoint.as_str(), certificate.to_str().unwrap()])
        .env_clear()
        .env("PATH", path_with_python_tools())
        .env("HOME", state.path())
        .output()
        .unwrap();
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    assert_eq!(String::from_utf8_lossy(&boto.stdout).trim(), "70000");
    let cli = nubo_e2e::aws_cli(state.path(), None)
        .args(["s3", "ls", "s3://secure/", "--endpoint-url", &endpoint, "--ca-bundle", certificate.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert!(String::from_utf8_lossy(&cli.stdout).contains(" b\n"), "{}", String::from_utf8_lossy(&cli.stdout));
}

/// A body in `aws-chunked` framing, unsigned, ending in a checksum trailer.
fn chunked_with_trailer(body: &[u8], trailer: &str, value: &str) -> Vec<u8> {
    let mut framed = format!("{:x}\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed.extend_from_slice(format!("\r\n0\r\n{trailer}:{value}\r\n\r\n").as_bytes());
    framed
}

#[tokio::test]
async fn a_wrong_trailing_checksum_is_refused_and_nothing_is_written() {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let (_state, _nubo, s3, endpoint) = start().await;
    s3.create_bucket().bucket("trailers").send().await.unwrap();
    let send = |key: &'static str, value: &'static str| {
        let url = format!("{endpoint}/trailers/{key}");
        async move {
            let body = chunked_with_trailer(b"hello, trailer", "x-amz-checksum-crc32", value);
            let headers = [
                ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
                ("x-amz-decoded-content-length", "14"),
                ("content-encoding", "aws-chunked"),
            ];
            let identity = nubo_e2e::credentials("test", "test").into();
            let params = aws_sigv4::sign::v4::SigningParams::builder()
                .identity(&identity)
                .region("us-east-1")
                .name("s3")
                .time(std::time::SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .unwrap()
                .into();
            let signable = SignableRequest::new(
                "PUT",
                &url,
                headers.iter().copied(),
                SignableBody::Precomputed("STREAMING-UNSIGNED-PAYLOAD-TRAILER".into()),
            )
            .unwrap();
            let (instructions, _) = sign(signable, &params).unwrap().into_parts();
            let (signed, _) = instructions.into_parts();
            let mut request = reqwest::Client::new().put(&url).body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            for header in signed {
                request = request.header(header.name(), header.value());
            }
            let answer = request.send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    // The CRC32 of "hello, trailer" is what the trailer must say.
    let mut crc = nubo_host::sigv4::Checksum::new(nubo_host::sigv4::ChecksumAlgorithm::Crc32);
    crc.update(b"hello, trailer");
    let right: &'static str = Box::leak(crc.finish().into_boxed_str());
    let (status, body) = send("right", right).await;
    assert_eq!(status, 200, "{body}");
    let head =
        s3.head_object().bucket("trailers").key("right").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.checksum_crc32(), Some(right), "the trailer's checksum is kept");
    assert_eq!(head.content_encoding(), None, "aws-chunked is the transfer's, not the object's");
    let (status, body) = send("wrong", "AAAAAA==").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>BadDigest</Code>"), "{body}");
    let (code, _) = failure(s3.head_object().bucket("trailers").key("wrong").send().await);
    assert_eq!(code, "NotFound", "nothing was written");
}
