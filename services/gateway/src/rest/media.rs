//! `binaryMediaTypes`: the media types a REST API treats as binary. A
//! request body whose `Content-Type` is one of them reaches a Lambda proxy
//! integration base64-encoded, any other as text; a function's base64 body
//! is decoded only when the request's `Accept` (its first type) is one of
//! them, as API Gateway decides, never by guessing from the content.

/// Whether `media_type` (parameters ignored) is among `binary`, which may
/// hold wildcards (`image/*`, `*/*`).
pub fn is_binary(binary: &[String], media_type: Option<&str>) -> bool {
    let Some(media_type) = media_type else { return false };
    let essence = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence.as_str(), ""));
    binary.iter().any(|listed| {
        let listed = listed.trim().to_ascii_lowercase();
        let (listed_kind, listed_subtype) = listed.split_once('/').unwrap_or((listed.as_str(), ""));
        (listed_kind == "*" || listed_kind == kind) && (listed_subtype == "*" || listed_subtype == subtype)
    })
}

/// The first media type an `Accept` header lists.
pub fn first_accepted(accept: Option<&str>) -> Option<&str> {
    accept.and_then(|accept| accept.split(',').next()).map(str::trim).filter(|first| !first.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_types_and_wildcards_are_binary() {
        let types = vec!["image/png".to_string(), "application/*".to_string()];
        assert!(is_binary(&types, Some("image/png")));
        assert!(is_binary(&types, Some("IMAGE/PNG; q=1")));
        assert!(is_binary(&types, Some("application/octet-stream")));
        assert!(!is_binary(&types, Some("image/jpeg")));
        assert!(!is_binary(&types, None));
        assert!(is_binary(&["*/*".to_string()], Some("text/plain")));
        assert!(!is_binary(&[], Some("application/octet-stream")));
    }

    #[test]
    fn the_first_accepted_type_counts() {
        assert_eq!(first_accepted(Some("image/png, */*;q=0.8")), Some("image/png"));
        assert_eq!(first_accepted(Some("")), None);
        assert_eq!(first_accepted(None), None);
    }
}
