//! `kill -9` while uploads run: every object S3 acknowledged is there,
//! whole, after the restart, and no object shows up torn or half-made
//! (single PUTs and multipart uploads alike).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aws_sdk_s3::{
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use md5::{Digest as _, Md5};
use nubo_e2e::{Nubo, s3_client};
use nubo_host::ServiceName;

/// The bytes every key holds: derived from the key, so any object read
/// back can be checked whole without remembering what was sent.
fn content_of(key: &str) -> Vec<u8> {
    let seed = Md5::digest(key.as_bytes());
    let size = 1024 + usize::from(u16::from_be_bytes([seed[0], seed[1]])) * 4;
    key.bytes().cycle().take(size).collect()
}

const PART: usize = 5 * 1024 * 1024;

fn part_of(key: &str, number: u8) -> Vec<u8> {
    vec![number ^ key.len() as u8; PART]
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_objects_survive_kill_9_and_none_is_torn() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up(state.path()).await;
    let url = nubo.http_url(ServiceName::Storage);
    s3_client(&url).create_bucket().bucket("durable").send().await.unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut writers = Vec::new();
    for writer in 0..6 {
        let (s3, written, stopped) = (s3_client(&url), written.clone(), stopped.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                if *stopped.borrow() {
                    break;
                }
                let key = format!("w{writer}/{i}");
                let sent =
                    s3.put_object().bucket("durable").key(&key).body(ByteStream::from(content_of(&key))).send().await;
                match sent {
                    Ok(_) => {
                        acknowledged.push(key);
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    // Multipart uploads alongside: two 5 MiB parts, then completion.
    let completed = Arc::new(AtomicUsize::new(0));
    let multipart = {
        let (s3, stopped, completed) = (s3_client(&url), stopped.clone(), completed.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                if *stopped.borrow() {
                    break;
                }
                let key = format!("mp/{i}");
                let Ok(upload) = s3.create_multipart_upload().bucket("durable").key(&key).send().await else { break };
                let upload_id = upload.upload_id().unwrap_or_default().to_owned();
                let mut parts = Vec::new();
                for number in 1..=2u8 {
                    let Ok(part) = s3
                        .upload_part()
                        .bucket("durable")
                        .key(&key)
                        .upload_id(&upload_id)
                        .part_number(i32::from(number))
                        .body(ByteStream::from(part_of(&key, number)))
                        .send()
                        .await
                    else {
                        return acknowledged;
                    };
                    parts.push(
                        CompletedPart::builder()
                            .part_number(i32::from(number))
                            .e_tag(part.e_tag().unwrap_or_default())
                            .build(),
                    );
                }
                let done = s3
                    .complete_multipart_upload()
                    .bucket("durable")
                    .key(&key)
                    .upload_id(&upload_id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await;
                match done {
                    Ok(_) => {
                        acknowledged.push(key);
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
            acknowledged
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while (written.load(Ordering::Relaxed) < 100 || completed.load(Ordering::Relaxed) < 1) && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let nubo = nubo.crash_and_restart().await;
    stop.send(true).unwrap();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let multipart_acknowledged = multipart.await.unwrap();
    assert!(acknowledged.len() >= 100, "the load was real: {} objects", acknowledged.len());
    assert!(!multipart_acknowledged.is_empty(), "a multipart upload completed before the crash");

    let s3 = s3_client(&nubo.http_url(ServiceName::Storage));
    for key in &acknowledged {
        let object = s3.get_object().bucket("durable").key(key).send().await;
        let object = object.unwrap_or_else(|error| panic!("acknowledged {key} was lost: {error:?}"));
        assert!(object.body.collect().await.unwrap().into_bytes() == content_of(key), "{key} is not what was sent");
    }
    // Whatever is listed is whole: written and acknowledged, or never seen.
    let mut listed = Vec::new();
    let mut pages = s3.list_objects_v2().bucket("durable").into_paginator().send();
    while let Some(page) = pages.next().await {
        listed.extend(page.unwrap().contents().iter().map(|object| object.key().unwrap().to_owned()));
    }
    for key in &listed {
        let body =
            s3.get_object().bucket("durable").key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
        let expected = match key.strip_prefix("mp/") {
            Some(_) => [part_of(key, 1), part_of(key, 2)].concat(),
            None => content_of(key),
        };
        assert!(body == expected, "{key} is torn: {} bytes", body.len());
    }
    for key in &multipart_acknowledged {
        assert!(listed.contains(key), "completed upload {key} was lost");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_no_record_names_are_collected_and_named_ones_kept() {
    let state = tempfile::tempdir().unwrap();
    let nubo = Nubo::up_with(state.path(), &[("NUBO_STORAGE__LIFECYCLE_INTERVAL_SECS", "1")]).await;
    let s3 = s3_client(&nubo.http_url(ServiceName::Storage));
    s3.create_bucket().bucket("kept").send().await.unwrap();
    // Larger than what is kept inline, so it is a blob the collector must keep.
    let live = [b"still here ".as_slice(); 1024].concat();
    s3.put_object().bucket("kept").key("live").body(ByteStream::from(live.clone())).send().await.unwrap();
    let upload = s3.create_multipart_upload().bucket("kept").key("pending").send().await.unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();
    s3.upload_part()
        .bucket("kept")
        .key("pending")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(part_of("pending", 1)))
        .send()
        .await
        .unwrap();
    // What a crash between a blob's write and its record leaves: a blob
    // nothing names. Everything is made to look two hours old, so only
    // being named keeps a blob.
    let blobs = state.path().join("storage/blobs/kept");
    std::fs::write(blobs.join("0123456789abcdef0123456789abcdef"), b"orphan").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let file = std::fs::File::options().write(true).open(entry.unwrap().path()).unwrap();
        file.set_modified(two_hours_ago).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while blobs.join("0123456789abcdef0123456789abcdef").exists() {
        assert!(Instant::now() < deadline, "the unnamed blob was not collected");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = s3.get_object().bucket("kept").key("live").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes()[..] == live[..]);
    let done = s3
        .complete_multipart_upload()
        .bucket("kept")
        .key("pending")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(format!("\"{}\"", hex(&Md5::digest(part_of("pending", 1)))))
                        .build(),
                )
                .build(),
        )
        .send()
        .await;
    assert!(done.is_ok(), "the pending upload's part was kept: {done:?}");
    let pending = s3.get_object().bucket("kept").key("pending").send().await.unwrap();
    assert_eq!(pending.body.collect().await.unwrap().into_bytes().len(), PART);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
