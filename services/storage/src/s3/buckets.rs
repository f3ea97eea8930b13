//! Buckets: create, head, delete, list, location, tagging, ownership
//! controls, versioning. A bucket is one record; its settings change by
//! compare-and-set so two writers never lose each other's change.

use actix_web::HttpResponse;
use serde::Deserialize;

use super::{
    Call, S3,
    errors::{self, S3Result},
    xml::{self, Xml},
};
use crate::catalog::{BUCKETS, Bucket, Versioning, objects_of, uploads_of};

/// The canonical user id S3 reports for an owner: 64 hex characters,
/// stable for the owner.
pub fn canonical_id(owner: &str) -> String {
    nubo_host::sigv4::sha256_hex(format!("nubo-owner:{owner}").as_bytes())
}

/// S3's bucket naming rules (general purpose buckets).
fn check_name(name: &str) -> Result<(), nubo_host::front::AwsError> {
    let valid = crate::objects::valid_bucket(name)
        && !name.contains(".-")
        && !name.contains("-.")
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
        && name.parse::<std::net::Ipv4Addr>().is_err();
    if valid {
        Ok(())
    } else {
        Err(nubo_host::front::AwsError::new(400, "InvalidBucketName", "The specified bucket is not valid.")
            .with("BucketName", name))
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CreateBucketConfiguration {
    location_constraint: Option<String>,
}

pub async fn create(s3: &S3, call: &mut Call<'_>) -> S3Result<HttpResponse> {
    let name = call.bucket_name().to_owned();
    check_name(&name)?;
    let body = call.body().await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let configuration: CreateBucketConfiguration = xml::parse(&body)?;
        let constraint = configuration.location_constraint.unwrap_or_default();
        // us-east-1 is named by no constraint at all; naming it is invalid.
        if s3.region == "us-east-1" && constraint == "us-east-1" {
            return Err(nubo_host::front::AwsError::new(
                400,
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
            )
            .with("LocationConstraint", constraint)
            .into());
        }
        let matches = if s3.region == "us-east-1" { constraint.is_empty() } else { constraint == s3.region };
        if !matches {
            return Err(nubo_host::front::AwsError::new(
                400,
                "IllegalLocationConstraintException",
                format!(
                    "The {} location constraint is incompatible for the region specific endpoint this request was sent to.",
                    if constraint.is_empty() { "unspecified" } else { &constraint }
                ),
            )
            .into());
        }
    }
    let principal = call.signed_principal()?.clone();
    let ownership = call.header("x-amz-object-ownership").map(str::to_owned);
    if let Some(value) = &ownership {
        check_ownership(value)?;
    }
    let ownership = ownership.unwrap_or_else(|| "BucketOwnerEnforced".into());
    let acl = call.header("x-amz-acl").unwrap_or("private").to_owned();
    if !super::access::CANNED_ACLS.contains(&acl.as_str()) {
        return Err(errors::invalid_argument("Invalid canned ACL", "x-amz-acl", &acl).into());
    }
    if ownership == "BucketOwnerEnforced" && !matches!(acl.as_str(), "private" | "bucket-owner-full-control") {
        return Err(nubo_host::front::AwsError::new(
            400,
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        )
        .into());
    }
    let owner = crate::catalog::owner_of(&principal);
    let bucket = Bucket {
        name: name.clone(),
        owner: owner.clone(),
        region: s3.region.clone(),
        created_unix_ms: chrono::Utc::now().timestamp_millis(),
        versioning: Versioning::Unversioned,
        tags: Vec::new(),
        ownership: Some(ownership),
        owner_account: Some(principal.account_id.clone()),
        acl,
        policy: None,
        // Every switch on, as S3 makes a bucket now.
        public_access_block: Some(super::access::PublicAccessBlock::ALL),
        cors: None,
        website: None,
        lifecycle: None,
        notifications: None,
    };
    if !s3.catalog.put(BUCKETS, &name, &bucket, 0).await? {
        let existing = s3.catalog.get::<Bucket>(BUCKETS, &name).await?;
        match existing {
            // us-east-1 answers a re-create by the owner with 200, for
            // legacy compatibility; every other region refuses it.
            Some(existing) if existing.value.owner == owner && s3.region == "us-east-1" => {}
            Some(existing) if existing.value.owner == owner => {
                return Err(nubo_host::front::AwsError::new(
                    409,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
                .with("BucketName", name)
                .into());
            }
            _ => {
                return Err(nubo_host::front::AwsError::new(
                    409,
                    "BucketAlreadyExists",
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                )
                .with("BucketName", name)
                .into());
            }
        }
    }
    Ok(HttpResponse::Ok().insert_header(("Location", format!("/{name}"))).finish())
}

pub fn head(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    Ok(HttpResponse::Ok()
        .insert_header(("x-amz-bucket-region", bucket.region.as_str()))
        .insert_header(("x-amz-access-point-alias", "false"))
        .insert_header(("x-amz-bucket-location-type", "AvailabilityZone"))
        .insert_header(("x-amz-bucket-location-name", s3.region.as_str()))
        .finish())
}

pub async fn delete(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    let (objects, _) = s3.catalog.list::<serde_json::Value>(&objects_of(&bucket.name), "", "", 1).await?;
    if !objects.is_empty() {
        return Err(nubo_host::front::AwsError::new(
            409,
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty",
        )
        .with("BucketName", bucket.name.as_str())
        .into());
    }
    // Uploads never completed go with the bucket; their parts are
    // collected with them.
    let (uploads, _) = s3.catalog.list::<crate::catalog::Upload>(&uploads_of(&bucket.name), "", "", 1000).await?;
    for (_, upload) in uploads {
        super::multipart::discard(s3, &upload.value, Some(upload.version)).await?;
    }
    s3.catalog.delete(BUCKETS, &bucket.name, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list(s3: &S3, call: &mut Call<'_>) -> S3Result<HttpResponse> {
    let principal = call.signed_principal()?.clone();
    let owner = crate::catalog::owner_of(&principal);
    let prefix = call.query.get("prefix").unwrap_or_default().to_owned();
    let max = match call.query.get("max-buckets") {
        Some(text) => match text.parse::<usize>() {
            Ok(max) if (1..=10_000).contains(&max) => max,
            _ => {
                return Err(errors::invalid_argument(
                    "Argument max-buckets must be an integer between 1 and 10000.",
                    "max-buckets",
                    text,
                )
                .into());
            }
        },
        None => 10_000,
    };
    let start_after = call.query.get("continuation-token").unwrap_or_default().to_owned();
    let mut cursor = start_after;
    let mut page = Vec::new();
    let mut truncated = false;
    'pages: loop {
        let (records, more) = s3.catalog.list::<Bucket>(BUCKETS, &prefix, &cursor, 1000).await?;
        for (name, bucket) in records {
            cursor = name;
            if bucket.value.owner != owner {
                continue;
            }
            if page.len() == max {
                truncated = true;
                break 'pages;
            }
            page.push(bucket.value);
        }
        if !more {
            break;
        }
    }
    let mut xml = Xml::document("ListAllMyBucketsResult");
    xml.open("Buckets");
    for bucket in &page {
        xml.open("Bucket")
            .element("Name", &bucket.name)
            .element("CreationDate", &xml::timestamp(bucket.created_unix_ms))
            .element("BucketRegion", &bucket.region)
            .close();
    }
    xml.close();
    xml.open("Owner").element("DisplayName", &principal.name).element("ID", &canonical_id(&owner)).close();
    if truncated && let Some(last) = page.last() {
        xml.element("ContinuationToken", &last.name);
    }
    if !prefix.is_empty() {
        xml.element("Prefix", &prefix);
    }
    Ok(xml_response(xml))
}

pub fn xml_response(xml: Xml) -> HttpResponse {
    HttpResponse::Ok().content_type("application/xml").body(xml.finish())
}

pub fn location(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    let _ = s3;
    // The root element's text is the region, empty for us-east-1.
    let region = if bucket.region == "us-east-1" { "" } else { bucket.region.as_str() };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
        xml::NAMESPACE,
        quick_xml::escape::escape(region)
    );
    Ok(HttpResponse::Ok().content_type("application/xml").body(body))
}

/// A `<Tagging><TagSet><Tag>` document, for buckets and objects.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tagging {
    pub tag_set: TagSet,
}

#[derive(Debug, Deserialize)]
pub struct TagSet {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Validates a tag set as S3 does; `limit` is 50 for buckets, 10 for objects.
pub fn parse_tags(body: &[u8], limit: usize) -> S3Result<Vec<(String, String)>> {
    let tagging: Tagging = xml::parse(body)?;
    let tags: Vec<(String, String)> = tagging.tag_set.tags.into_iter().map(|tag| (tag.key, tag.value)).collect();
    check_tags(&tags, limit)?;
    Ok(tags)
}

pub fn check_tags(tags: &[(String, String)], limit: usize) -> S3Result<()> {
    if tags.len() > limit {
        return Err(nubo_host::front::AwsError::new(
            400,
            "BadRequest",
            format!("Object tags cannot be greater than {limit}"),
        )
        .into());
    }
    for (index, (key, value)) in tags.iter().enumerate() {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(nubo_host::front::AwsError::new(400, "InvalidTag", "The TagKey you have provided is invalid")
                .with("TagKey", key.as_str())
                .into());
        }
        if tags[..index].iter().any(|(other, _)| other == key) {
            return Err(nubo_host::front::AwsError::new(
                400,
                "InvalidTag",
                "Cannot provide multiple Tags with the same key",
            )
            .with("TagKey", key.as_str())
            .into());
        }
    }
    Ok(())
}

pub fn tagging_document(tags: &[(String, String)]) -> Xml {
    let mut xml = Xml::document("Tagging");
    xml.open("TagSet");
    for (key, value) in tags {
        xml.open("Tag").element("Key", key).element("Value", value).close();
    }
    xml.close();
    xml
}

/// Rewrites a bucket's record through `change`, retrying on a concurrent write.
pub async fn update(s3: &S3, name: &str, change: impl Fn(&mut Bucket)) -> S3Result<()> {
    for _ in 0..16 {
        let Some(mut stored) = s3.catalog.get::<Bucket>(BUCKETS, name).await? else {
            return Err(errors::no_such_bucket(name).into());
        };
        change(&mut stored.value);
        if s3.catalog.put(BUCKETS, name, &stored.value, stored.version).await? {
            return Ok(());
        }
    }
    Err(errors::conflict().into())
}

pub async fn put_tagging(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let tags = parse_tags(&body, 50)?;
    update(s3, &bucket.name, |stored| stored.tags = tags.clone()).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn get_tagging(bucket: &Bucket) -> S3Result<HttpResponse> {
    if bucket.tags.is_empty() {
        return Err(nubo_host::front::AwsError::new(404, "NoSuchTagSet", "The TagSet does not exist")
            .with("BucketName", bucket.name.as_str())
            .into());
    }
    Ok(xml_response(tagging_document(&bucket.tags)))
}

pub async fn delete_tagging(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    update(s3, &bucket.name, |stored| stored.tags.clear()).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn check_ownership(value: &str) -> S3Result<()> {
    match value {
        "BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter" => Ok(()),
        other => {
            Err(errors::invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", other)
                .into())
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipControls {
    #[serde(rename = "Rule", default)]
    rules: Vec<OwnershipRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipRule {
    object_ownership: String,
}

pub async fn put_ownership(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let controls: OwnershipControls = xml::parse(&body)?;
    let [rule] = controls.rules.as_slice() else { return Err(xml::malformed().into()) };
    check_ownership(&rule.object_ownership)?;
    let ownership = rule.object_ownership.clone();
    update(s3, &bucket.name, |stored| stored.ownership = Some(ownership.clone())).await?;
    Ok(HttpResponse::Ok().finish())
}

pub fn get_ownership(bucket: &Bucket) -> S3Result<HttpResponse> {
    let Some(ownership) = &bucket.ownership else {
        return Err(nubo_host::front::AwsError::new(
            404,
            "OwnershipControlsNotFoundError",
            "The bucket ownership controls were not found",
        )
        .with("BucketName", bucket.name.as_str())
        .into());
    };
    let mut xml = Xml::document("OwnershipControls");
    xml.open("Rule").element("ObjectOwnership", ownership).close();
    Ok(xml_response(xml))
}

pub async fn delete_ownership(s3: &S3, bucket: &Bucket) -> S3Result<HttpResponse> {
    update(s3, &bucket.name, |stored| stored.ownership = None).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersioningConfiguration {
    status: Option<String>,
    #[serde(rename = "MfaDelete")]
    mfa_delete: Option<String>,
}

pub async fn put_versioning(s3: &S3, call: &mut Call<'_>, bucket: &Bucket) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let configuration: VersioningConfiguration = xml::parse(&body)?;
    if configuration.mfa_delete.as_deref() == Some("Enabled") {
        return Err(errors::not_implemented("MfaDelete").into());
    }
    let status = match configuration.status.as_deref() {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        // An empty configuration changes nothing, as in S3.
        None => return Ok(HttpResponse::Ok().finish()),
        Some(_) => return Err(xml::malformed().into()),
    };
    update(s3, &bucket.name, |stored| stored.versioning = status).await?;
    Ok(HttpResponse::Ok().finish())
}

pub fn get_versioning(bucket: &Bucket) -> S3Result<HttpResponse> {
    let mut xml = Xml::document("VersioningConfiguration");
    match bucket.versioning {
        Versioning::Unversioned => {}
        Versioning::Enabled => {
            xml.element("Status", "Enabled");
        }
        Versioning::Suspended => {
            xml.element("Status", "Suspended");
        }
    }
    Ok(xml_response(xml))
}

/// Every bucket encrypts with SSE-S3 (AES256), as S3's have since 2023;
/// nubo has no KMS, so that is the only rule it keeps.
pub fn get_encryption() -> S3Result<HttpResponse> {
    let mut xml = Xml::document("ServerSideEncryptionConfiguration");
    xml.open("Rule")
        .open("ApplyServerSideEncryptionByDefault")
        .element("SSEAlgorithm", "AES256")
        .close()
        .element("BucketKeyEnabled", "false")
        .close();
    Ok(xml_response(xml))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptionConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<EncryptionRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptionRule {
    apply_server_side_encryption_by_default: Option<EncryptionDefault>,
}

#[derive(Debug, Deserialize)]
struct EncryptionDefault {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
}

/// Accepts SSE-S3, the one encryption nubo applies; a KMS rule is refused.
pub async fn put_encryption(call: &mut Call<'_>) -> S3Result<HttpResponse> {
    let body = call.body().await?;
    let configuration: EncryptionConfiguration = xml::parse(&body)?;
    for rule in &configuration.rules {
        match rule.apply_server_side_encryption_by_default.as_ref().map(|default| default.algorithm.as_str()) {
            None | Some("AES256") => {}
            Some(other) => return Err(errors::not_implemented(&format!("SSEAlgorithm {other}")).into()),
        }
    }
    Ok(HttpResponse::Ok().finish())
}

/// This family's XML bodies, parsed from untrusted bytes (fuzzing).
pub(super) fn parse_untrusted(body: &[u8]) {
    let _ = xml::parse::<CreateBucketConfiguration>(body);
    let _ = xml::parse::<Tagging>(body);
    let _ = xml::parse::<VersioningConfiguration>(body);
    let _ = xml::parse::<OwnershipControls>(body);
    let _ = xml::parse::<EncryptionConfiguration>(body);
}
