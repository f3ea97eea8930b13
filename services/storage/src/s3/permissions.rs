//! Bucket policies, canned ACLs and Block Public Access: the settings
//! [`super::access`] evaluates. A bucket made today has ACLs disabled
//! (`BucketOwnerEnforced`) and every public access switch on, as in S3;
//! a public website needs the block lifted and a policy put, in that order.

use actix_web::HttpResponse;
use serde::Deserialize;

use super::{
    Call, S3,
    access::{CANNED_ACLS, Policy, PublicAccessBlock, is_public_acl},
    buckets::{canonical_id, update, xml_response},
    errors::{self, S3Result},
    xml::{self, Xml},
};
use crate::catalog::{Bucket, ObjectRecord, objects_of};
use nubo_host::front::AwsError;

pub async fn put_policy(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| AwsError::new(400, "MalformedPolicy", "Policies must be valid JSON"))?;
    let policy = Policy::parse(&text, &bucket.name)?;
    if policy.is_public() && bucket.public_access_block.is_some_and(|block| block.block_public_policy) {
        return Err(AwsError::new(
            403,
            "AccessDenied",
            "User is not authorized to perform: s3:PutBucketPolicy on resource because public policies are blocked by the BlockPublicPolicy block public access setting.",
        )
        .into());
    }
    update(s3, &bucket.name, |stored| stored.policy = Some(text.clone())).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn get_policy(bucket: &Bucket) -> S3Result<HttpResponse> {
    match &bucket.policy {
        Some(policy) => Ok(HttpResponse::Ok().content_type("application/json").body(policy.clone())),
        None => Err(AwsError::new(404, "NoSuchBucketPolicy", "The bucket policy does not exist")
            .with("BucketName", bucket.name.as_str())
            .into()),
    }
}

pub async fn delete_policy(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    update(s3, &bucket.name, |stored| stored.policy = None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn policy_status(bucket: &Bucket) -> S3Result<HttpResponse> {
    let Some(policy) = &bucket.policy else {
        return Err(AwsError::new(404, "NoSuchBucketPolicy", "The bucket policy does not exist").into());
    };
    let public = Policy::parse(policy, &bucket.name).is_ok_and(|policy| policy.is_public());
    let mut xml = Xml::document("PolicyStatus");
    xml.element("IsPublic", if public { "true" } else { "false" });
    Ok(xml_response(xml))
}

/// The canned ACL a request sets, checked against the bucket's ownership
/// setting and its public access block.
pub fn requested_acl(call: &Call<'_>, bucket: &Bucket) -> S3Result<Option<String>> {
    let Some(acl) = call.header("x-amz-acl") else { return Ok(None) };
    check_acl(acl, bucket)?;
    Ok(Some(acl.to_owned()))
}

pub fn check_acl(acl: &str, bucket: &Bucket) -> S3Result<()> {
    if !CANNED_ACLS.contains(&acl) {
        return Err(errors::invalid_argument("Invalid canned ACL", "x-amz-acl", acl).into());
    }
    let enforced = bucket.ownership.as_deref().unwrap_or("BucketOwnerEnforced") == "BucketOwnerEnforced";
    if enforced && !matches!(acl, "private" | "bucket-owner-full-control") {
        return Err(AwsError::new(400, "AccessControlListNotSupported", "The bucket does not allow ACLs").into());
    }
    if is_public_acl(acl) && bucket.public_access_block.is_some_and(|block| block.block_public_acls) {
        return Err(errors::access_denied().into());
    }
    Ok(())
}

/// An `AccessControlPolicy` body, read for the one thing nubo keeps of
/// it: whether it grants everyone (or every signed caller) READ or WRITE.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessControlPolicy {
    access_control_list: Option<AccessControlList>,
}

#[derive(Debug, Deserialize)]
struct AccessControlList {
    #[serde(rename = "Grant", default)]
    grants: Vec<Grant>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Grant {
    grantee: Grantee,
    permission: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Grantee {
    #[serde(rename = "URI")]
    uri: Option<String>,
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// The canned ACL a grants document amounts to.
fn canned_of(body: &[u8]) -> S3Result<String> {
    let policy: AccessControlPolicy = xml::parse(body)?;
    let grants = policy.access_control_list.map(|list| list.grants).unwrap_or_default();
    let has = |uri: &str, permission: &str| {
        grants.iter().any(|grant| grant.grantee.uri.as_deref() == Some(uri) && grant.permission == permission)
    };
    Ok(if has(ALL_USERS, "WRITE") {
        "public-read-write"
    } else if has(ALL_USERS, "READ") {
        "public-read"
    } else if has(AUTHENTICATED_USERS, "READ") {
        "authenticated-read"
    } else {
        "private"
    }
    .into())
}

async fn acl_of_request(call: &mut Call<'_>, bucket: &Bucket) -> S3Result<String> {
    match requested_acl(call, bucket)? {
        Some(acl) => Ok(acl),
        None => {
            let body = call.body().await?;
            let acl = canned_of(&body)?;
            check_acl(&acl, bucket)?;
            Ok(acl)
        }
    }
}

pub async fn put_bucket_acl(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let acl = acl_of_request(call, bucket).await?;
    update(s3, &bucket.name, |stored| stored.acl = acl.clone()).await?;
    Ok(HttpResponse::Ok().finish())
}

fn acl_document(owner: &str, acl: &str) -> Xml {
    let id = canonical_id(owner);
    let mut xml = Xml::document("AccessControlPolicy");
    xml.open("Owner").element("ID", &id).element("DisplayName", "owner").close();
    xml.open("AccessControlList");
    xml.open("Grant");
    xml.raw("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">");
    xml.element("ID", &id).element("DisplayName", "owner");
    xml.raw("</Grantee>");
    xml.element("Permission", "FULL_CONTROL").close();
    let group_grants: &[(&str, &str)] = match acl {
        "public-read" => &[(ALL_USERS, "READ")],
        "public-read-write" => &[(ALL_USERS, "READ"), (ALL_USERS, "WRITE")],
        "authenticated-read" => &[(AUTHENTICATED_USERS, "READ")],
        _ => &[],
    };
    for (uri, permission) in group_grants {
        xml.open("Grant");
        xml.raw("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">");
        xml.element("URI", uri);
        xml.raw("</Grantee>");
        xml.element("Permission", permission).close();
    }
    xml.close();
    xml
}

pub fn get_bucket_acl(bucket: &Bucket) -> S3Result<HttpResponse> {
    Ok(xml_response(acl_document(&bucket.owner, &bucket.acl)))
}

pub async fn put_object_acl(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let acl = acl_of_request(call, bucket).await?;
    let key = call.key().to_owned();
    let namespace = objects_of(&bucket.name);
    let version_id = call.query.get("versionId").map(str::to_owned);
    for _ in 0..16 {
        let Some(mut stored) = s3.catalog.get::<ObjectRecord>(&namespace, &key).await? else {
            return Err(errors::no_such_key(&key).into());
        };
        let version = match &version_id {
            Some(id) => stored.value.versions.iter_mut().find(|version| &version.version_id == id),
            None => stored.value.versions.first_mut().filter(|version| !version.delete_marker),
        };
        let Some(version) = version else { return Err(errors::no_such_key(&key).into()) };
        version.acl = Some(acl.clone());
        if s3.catalog.put(&namespace, &key, &stored.value, stored.version).await? {
            return Ok(HttpResponse::Ok().finish());
        }
    }
    Err(errors::conflict().into())
}

pub async fn get_object_acl(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let key = call.key().to_owned();
    let stored = s3.catalog.get::<ObjectRecord>(&objects_of(&bucket.name), &key).await?;
    let record = stored.map(|stored| stored.value).unwrap_or_default();
    let version = match call.query.get("versionId") {
        Some(id) => record.version(id),
        None => record.current(),
    }
    .ok_or_else(|| errors::no_such_key(&key))?;
    Ok(xml_response(acl_document(&bucket.owner, version.acl.as_deref().unwrap_or("private"))))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublicAccessBlockConfiguration {
    block_public_acls: Option<bool>,
    ignore_public_acls: Option<bool>,
    block_public_policy: Option<bool>,
    restrict_public_buckets: Option<bool>,
}

pub async fn put_public_access_block(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let configuration: PublicAccessBlockConfiguration = xml::parse(&body)?;
    let block = PublicAccessBlock {
        block_public_acls: configuration.block_public_acls.unwrap_or(false),
        ignore_public_acls: configuration.ignore_public_acls.unwrap_or(false),
        block_public_policy: configuration.block_public_policy.unwrap_or(false),
        restrict_public_buckets: configuration.restrict_public_buckets.unwrap_or(false),
    };
    update(s3, &bucket.name, |stored| stored.public_access_block = Some(block)).await?;
    Ok(HttpResponse::Ok().finish())
}

pub fn get_public_access_block(bucket: &Bucket) -> S3Result<HttpResponse> {
    let Some(block) = bucket.public_access_block else {
        return Err(AwsError::new(
            404,
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        )
        .with("BucketName", bucket.name.as_str())
        .into());
    };
    let flag = |value: bool| if value { "true" } else { "false" };
    let mut xml = Xml::document("PublicAccessBlockConfiguration");
    xml.element("BlockPublicAcls", flag(block.block_public_acls))
        .element("IgnorePublicAcls", flag(block.ignore_public_acls))
        .element("BlockPublicPolicy", flag(block.block_public_policy))
        .element("RestrictPublicBuckets", flag(block.restrict_public_buckets));
    Ok(xml_response(xml))
}

pub async fn delete_public_access_block(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    update(s3, &bucket.name, |stored| stored.public_access_block = None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<AccessControlPolicy>(body);
    let _ = xml::parse::<PublicAccessBlockConfiguration>(body);
}
