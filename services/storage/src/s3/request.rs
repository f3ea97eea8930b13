//! From an HTTP request to one typed S3 operation: which bucket and key it
//! addresses (path-style, or virtual-host-style under `s3.localhost` and
//! `localhost`), and which action its method, subresources and headers
//! name. Parsed once; the families only ever see an [`Operation`].

use nubo_host::sigv4::percent_decode_bytes;

/// The host suffixes under which a bucket is named by the host.
const VIRTUAL_HOST_SUFFIXES: [&str; 2] = [".s3.localhost", ".localhost"];

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    /// The key, decoded from the path, exactly as stored (any UTF-8).
    pub key: Option<String>,
}

/// The bucket of a virtual-host-style `Host` (`photos.s3.localhost:9000`).
pub fn host_bucket(host: &str) -> Option<&str> {
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    VIRTUAL_HOST_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|bucket| !bucket.is_empty() && *bucket != "s3" && !bucket.ends_with(".s3-website"))
}

/// Why a path cannot name an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The decoded key is not UTF-8.
    NotUtf8,
}

/// The bucket and key of a request, from its `Host` and raw path.
pub fn target(host: Option<&str>, raw_path: &str) -> Result<Target, TargetError> {
    let decoded = |raw: &str| String::from_utf8(percent_decode_bytes(raw.as_bytes())).map_err(|_| TargetError::NotUtf8);
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if let Some(bucket) = host.and_then(host_bucket) {
        let key = (!path.is_empty()).then(|| decoded(path)).transpose()?;
        return Ok(Target { bucket: Some(bucket.to_owned()), key });
    }
    if path.is_empty() {
        return Ok(Target { bucket: None, key: None });
    }
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, (!key.is_empty()).then_some(key)),
        None => (path, None),
    };
    Ok(Target { bucket: Some(decoded(bucket)?), key: key.map(decoded).transpose()? })
}

/// The query of a request, decoded, in order.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Self {
        let decode =
            |raw: &str| String::from_utf8_lossy(&percent_decode_bytes(raw.replace('+', " ").as_bytes())).into_owned();
        let pairs = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect();
        Self { pairs }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(key, _)| key == name)
    }
}

/// Declares [`Operation`] and its names from one list of S3 actions.
macro_rules! operations {
    ($($(#[$doc:meta])* $variant:ident,)*) => {
        /// Every S3 action this front knows, one variant each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Operation {
            $($(#[$doc])* $variant,)*
            /// A subresource or method S3 has that nubo does not serve yet.
            Unsupported(&'static str),
        }

        impl Operation {
            fn static_name(&self) -> &'static str {
                match self {
                    $(Operation::$variant => stringify!($variant),)*
                    Operation::Unsupported(name) => name,
                }
            }
        }
    };
}

operations! {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    PutBucketTagging,
    GetBucketTagging,
    DeleteBucketTagging,
    PutBucketOwnershipControls,
    GetBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    PutBucketVersioning,
    GetBucketVersioning,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    ListMultipartUploads,
    DeleteObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    GetObjectAttributes,
    PutObjectTagging,
    GetObjectTagging,
    DeleteObjectTagging,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    PutBucketPolicy,
    GetBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    PutBucketAcl,
    GetBucketAcl,
    PutObjectAcl,
    GetObjectAcl,
    PutPublicAccessBlock,
    GetPublicAccessBlock,
    DeletePublicAccessBlock,
    PutBucketCors,
    GetBucketCors,
    DeleteBucketCors,
    PutBucketWebsite,
    GetBucketWebsite,
    DeleteBucketWebsite,
    PutBucketLifecycleConfiguration,
    GetBucketLifecycleConfiguration,
    DeleteBucketLifecycle,
    PutBucketNotificationConfiguration,
    GetBucketNotificationConfiguration,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    /// A browser's form upload (`POST /{bucket}` with a signed policy).
    PostObject,
    /// A CORS preflight (`OPTIONS`), answered from the bucket's rules.
    Preflight,
}

impl nubo_host::front::Operation for Operation {
    fn name(&self) -> &'static str {
        self.static_name()
    }
}

impl Operation {
    /// Which action a request is.
    pub fn parse(method: &str, target: &Target, query: &Query, copy_source: bool) -> Operation {
        use Operation::*;
        // Bucket subresources S3 has and nubo does not serve yet.
        // Subresources S3 has that nubo does not serve: refused, never
        // taken for the plain operation (a DELETE of `?metrics` is not a
        // DeleteBucket, a PUT of `?retention` not a PutObject).
        const UNSUPPORTED_BUCKET: [(&str, &str); 11] = [
            ("logging", "BucketLogging"),
            ("replication", "BucketReplication"),
            ("requestPayment", "BucketRequestPayment"),
            ("object-lock", "ObjectLockConfiguration"),
            ("accelerate", "BucketAccelerateConfiguration"),
            ("metrics", "BucketMetricsConfiguration"),
            ("analytics", "BucketAnalyticsConfiguration"),
            ("inventory", "BucketInventoryConfiguration"),
            ("intelligent-tiering", "BucketIntelligentTieringConfiguration"),
            ("metadataTable", "BucketMetadataTableConfiguration"),
            ("session", "CreateSession"),
        ];
        const UNSUPPORTED_OBJECT: [(&str, &str); 6] = [
            ("retention", "ObjectRetention"),
            ("legal-hold", "ObjectLegalHold"),
            ("torrent", "ObjectTorrent"),
            ("restore", "RestoreObject"),
            ("select", "SelectObjectContent"),
            ("renameObject", "RenameObject"),
        ];
        if method == "OPTIONS" && target.bucket.is_some() {
            return Preflight;
        }
        match (&target.bucket, &target.key) {
            (None, _) => match method {
                "GET" => ListBuckets,
                _ => Unsupported("MethodNotAllowed"),
            },
            (Some(_), None) => {
                if let Some((_, name)) = UNSUPPORTED_BUCKET.iter().find(|(resource, _)| query.has(resource)) {
                    return Unsupported(name);
                }
                match method {
                    "GET" if query.has("policyStatus") => GetBucketPolicyStatus,
                    "PUT" if query.has("policy") => PutBucketPolicy,
                    "GET" if query.has("policy") => GetBucketPolicy,
                    "DELETE" if query.has("policy") => DeleteBucketPolicy,
                    "PUT" if query.has("acl") => PutBucketAcl,
                    "GET" if query.has("acl") => GetBucketAcl,
                    "PUT" if query.has("publicAccessBlock") => PutPublicAccessBlock,
                    "GET" if query.has("publicAccessBlock") => GetPublicAccessBlock,
                    "DELETE" if query.has("publicAccessBlock") => DeletePublicAccessBlock,
                    "PUT" if query.has("cors") => PutBucketCors,
                    "GET" if query.has("cors") => GetBucketCors,
                    "DELETE" if query.has("cors") => DeleteBucketCors,
                    "PUT" if query.has("website") => PutBucketWebsite,
                    "GET" if query.has("website") => GetBucketWebsite,
                    "DELETE" if query.has("website") => DeleteBucketWebsite,
                    "PUT" if query.has("lifecycle") => PutBucketLifecycleConfiguration,
                    "GET" if query.has("lifecycle") => GetBucketLifecycleConfiguration,
                    "DELETE" if query.has("lifecycle") => DeleteBucketLifecycle,
                    "PUT" if query.has("notification") => PutBucketNotificationConfiguration,
                    "GET" if query.has("notification") => GetBucketNotificationConfiguration,
                    "GET" if query.has("encryption") => GetBucketEncryption,
                    "PUT" if query.has("encryption") => PutBucketEncryption,
                    "DELETE" if query.has("encryption") => DeleteBucketEncryption,
                    "GET" if query.has("location") => GetBucketLocation,
                    "GET" if query.has("tagging") => GetBucketTagging,
                    "PUT" if query.has("tagging") => PutBucketTagging,
                    "DELETE" if query.has("tagging") => DeleteBucketTagging,
                    "GET" if query.has("ownershipControls") => GetBucketOwnershipControls,
                    "PUT" if query.has("ownershipControls") => PutBucketOwnershipControls,
                    "DELETE" if query.has("ownershipControls") => DeleteBucketOwnershipControls,
                    "GET" if query.has("versioning") => GetBucketVersioning,
                    "PUT" if query.has("versioning") => PutBucketVersioning,
                    "GET" if query.has("versions") => ListObjectVersions,
                    "GET" if query.has("uploads") => ListMultipartUploads,
                    "GET" if query.get("list-type") == Some("2") => ListObjectsV2,
                    "GET" => ListObjects,
                    "PUT" => CreateBucket,
                    "HEAD" => HeadBucket,
                    "DELETE" => DeleteBucket,
                    "POST" if query.has("delete") => DeleteObjects,
                    "POST" => PostObject,
                    _ => Unsupported("MethodNotAllowed"),
                }
            }
            (Some(_), Some(_)) => match method {
                _ if let Some((_, name)) = UNSUPPORTED_OBJECT.iter().find(|(resource, _)| query.has(resource)) => {
                    Unsupported(name)
                }
                "PUT" if query.has("acl") => PutObjectAcl,
                "GET" if query.has("acl") => GetObjectAcl,
                "PUT" if query.has("partNumber") && query.has("uploadId") => {
                    if copy_source {
                        UploadPartCopy
                    } else {
                        UploadPart
                    }
                }
                "PUT" if query.has("tagging") => PutObjectTagging,
                "PUT" if copy_source => CopyObject,
                "PUT" => PutObject,
                "GET" if query.has("uploadId") => ListParts,
                "GET" if query.has("tagging") => GetObjectTagging,
                "GET" if query.has("attributes") => GetObjectAttributes,
                "GET" => GetObject,
                "HEAD" => HeadObject,
                "DELETE" if query.has("uploadId") => AbortMultipartUpload,
                "DELETE" if query.has("tagging") => DeleteObjectTagging,
                "DELETE" => DeleteObject,
                "POST" if query.has("uploads") => CreateMultipartUpload,
                "POST" if query.has("uploadId") => CompleteMultipartUpload,
                "POST" if query.has("restore") => Unsupported("RestoreObject"),
                "POST" if query.has("select") => Unsupported("SelectObjectContent"),
                _ => Unsupported("MethodNotAllowed"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_of(host: &str, path: &str) -> Target {
        target(Some(host), path).unwrap()
    }

    #[test]
    fn path_and_virtual_host_styles_name_the_same_object() {
        let path = target_of("127.0.0.1:9000", "/photos/2024/a%20b.jpg");
        assert_eq!(path, Target { bucket: Some("photos".into()), key: Some("2024/a b.jpg".into()) });
        assert_eq!(target_of("photos.s3.localhost:9000", "/2024/a%20b.jpg"), path);
        assert_eq!(target_of("photos.localhost", "/2024/a%20b.jpg"), path);
        assert_eq!(target_of("s3.localhost:4566", "/photos/2024/a%20b.jpg"), path);
        assert_eq!(target_of("localhost:9000", "/"), Target { bucket: None, key: None });
        assert_eq!(target_of("photos.localhost", "/"), Target { bucket: Some("photos".into()), key: None });
        // Keys keep what a filesystem would read as structure.
        assert_eq!(target_of("h", "/b/../x/./y//z").key.as_deref(), Some("../x/./y//z"));
        assert_eq!(target_of("h", "/b/%2e%2e").key.as_deref(), Some(".."));
        assert_eq!(target(Some("h"), "/b/%ff"), Err(TargetError::NotUtf8));
    }

    #[test]
    fn subresources_pick_the_action() {
        let object = Target { bucket: Some("b".into()), key: Some("k".into()) };
        let bucket = Target { bucket: Some("b".into()), key: None };
        let parse =
            |method, target: &Target, query: &str, copy| Operation::parse(method, target, &Query::parse(query), copy);
        assert_eq!(parse("PUT", &object, "partNumber=1&uploadId=u", false), Operation::UploadPart);
        assert_eq!(parse("PUT", &object, "partNumber=1&uploadId=u", true), Operation::UploadPartCopy);
        assert_eq!(parse("PUT", &object, "", true), Operation::CopyObject);
        assert_eq!(parse("POST", &object, "uploads", false), Operation::CreateMultipartUpload);
        assert_eq!(parse("GET", &bucket, "list-type=2&prefix=a", false), Operation::ListObjectsV2);
        assert_eq!(parse("GET", &bucket, "prefix=a", false), Operation::ListObjects);
        assert_eq!(parse("POST", &bucket, "delete", false), Operation::DeleteObjects);
        assert_eq!(parse("GET", &bucket, "cors", false), Operation::GetBucketCors);
        assert_eq!(parse("GET", &bucket, "logging", false), Operation::Unsupported("BucketLogging"));
        assert_eq!(
            parse("DELETE", &bucket, "metrics&id=x", false),
            Operation::Unsupported("BucketMetricsConfiguration")
        );
        assert_eq!(parse("PUT", &object, "retention", false), Operation::Unsupported("ObjectRetention"));
        assert_eq!(parse("OPTIONS", &object, "", false), Operation::Preflight);
        assert_eq!(Query::parse("prefix=a%2Fb+c&x").get("prefix"), Some("a/b c"));
    }
}
