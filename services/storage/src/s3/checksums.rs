//! The integrity checks of an upload: `Content-MD5`, one `x-amz-checksum-*`
//! header or trailer (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), and the
//! checksum S3 keeps for every object (CRC64NVME when the client sent
//! none). A trailer's value was already matched by `sigv4`'s decoder as
//! the body streamed; a header's is matched here, once the bytes are in.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use nubo_host::{front::AwsError, sigv4::ChecksumAlgorithm};

use super::{Call, errors};
use crate::{blobs::Written, catalog::StoredChecksum};

/// What a request asks to be checked, and which checksum to keep.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The algorithm of the object's kept checksum.
    pub algorithm: ChecksumAlgorithm,
    /// A value the client sent in a header, to match.
    pub value: Option<String>,
    /// The MD5 of `Content-MD5`, base64.
    pub content_md5: Option<String>,
}

impl Expected {
    /// The algorithms a blob write must compute.
    pub fn algorithms(&self) -> Vec<ChecksumAlgorithm> {
        vec![self.algorithm]
    }

    /// Matches the written bytes against what the client sent and returns
    /// the checksum to keep.
    pub fn verify(&self, written: &Written) -> Result<StoredChecksum, AwsError> {
        if let Some(md5) = &self.content_md5 {
            let computed = hex::decode(&written.md5_hex).map(|raw| STANDARD.encode(raw)).unwrap_or_default();
            if *md5 != computed {
                return Err(errors::bad_digest("MD5"));
            }
        }
        let computed = written
            .checksums
            .iter()
            .find(|(algorithm, _)| *algorithm == self.algorithm)
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        if let Some(value) = &self.value
            && *value != computed
        {
            return Err(errors::bad_digest(self.algorithm.name()));
        }
        Ok(StoredChecksum { algorithm: self.algorithm.name().to_owned(), value: computed, kind: "FULL_OBJECT".into() })
    }
}

pub fn algorithm_named(name: &str) -> Option<ChecksumAlgorithm> {
    ChecksumAlgorithm::ALL.into_iter().find(|algorithm| algorithm.name().eq_ignore_ascii_case(name))
}

/// The checks a request's headers ask for. `default` is kept when the
/// client names no algorithm (CRC64NVME for objects, as S3 does now).
pub fn expected(call: &Call<'_>, default: ChecksumAlgorithm) -> Result<Expected, AwsError> {
    let mut headers = ChecksumAlgorithm::ALL
        .into_iter()
        .filter_map(|algorithm| call.header(algorithm.header_name()).map(|value| (algorithm, value.trim().to_owned())));
    let from_header = headers.next();
    if headers.next().is_some() {
        return Err(errors::invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    let from_trailer = call.header("x-amz-trailer").and_then(ChecksumAlgorithm::from_header_name);
    let named = call
        .header("x-amz-sdk-checksum-algorithm")
        .or_else(|| call.header("x-amz-checksum-algorithm"))
        .map(|name| {
            algorithm_named(name).ok_or_else(|| {
                errors::invalid_request(
                    "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
                )
            })
        })
        .transpose()?;
    let content_md5 = call.header("content-md5").map(|value| value.trim().to_owned());
    if let Some(md5) = &content_md5
        && STANDARD.decode(md5).map(|raw| raw.len()) != Ok(16)
    {
        return Err(AwsError::new(400, "InvalidDigest", "The Content-MD5 you specified was invalid."));
    }
    let (algorithm, value) = match (from_header, from_trailer) {
        (Some((algorithm, value)), None) => (algorithm, Some(value)),
        (None, Some(algorithm)) => (algorithm, None),
        (None, None) => (named.unwrap_or(default), None),
        (Some(_), Some(_)) => {
            return Err(errors::invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
    };
    if let Some(named) = named
        && named != algorithm
    {
        return Err(errors::invalid_request(format!(
            "Value for x-amz-sdk-checksum-algorithm header is invalid: {} was named, {} was sent",
            named.name(),
            algorithm.name()
        )));
    }
    if let Some(value) = &value
        && !well_formed(algorithm, value)
    {
        return Err(errors::invalid_request(format!(
            "Value for x-amz-checksum-{} header is invalid.",
            algorithm.name().to_ascii_lowercase()
        )));
    }
    Ok(Expected { algorithm, value, content_md5 })
}

/// The digest length of each algorithm, in bytes.
pub fn digest_len(algorithm: ChecksumAlgorithm) -> usize {
    match algorithm {
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
        ChecksumAlgorithm::Crc64Nvme => 8,
        ChecksumAlgorithm::Sha1 => 20,
        ChecksumAlgorithm::Sha256 => 32,
    }
}

fn well_formed(algorithm: ChecksumAlgorithm, value: &str) -> bool {
    STANDARD.decode(value).is_ok_and(|raw| raw.len() == digest_len(algorithm))
}

/// The checksum of a whole multipart object from its parts' checksums (in
/// order, base64, with their sizes): a CRC combined as if computed over
/// all the bytes (`FULL_OBJECT`), or the checksum of the concatenated part
/// digests with `-{parts}` (`COMPOSITE`).
pub fn combine(algorithm: ChecksumAlgorithm, full_object: bool, parts: &[(String, u64)]) -> Option<StoredChecksum> {
    let raw: Option<Vec<Vec<u8>>> = parts.iter().map(|(value, _)| STANDARD.decode(value).ok()).collect();
    let raw = raw?;
    if full_object {
        let crc = match algorithm {
            ChecksumAlgorithm::Crc32 => crc_fast::CrcAlgorithm::Crc32IsoHdlc,
            ChecksumAlgorithm::Crc32c => crc_fast::CrcAlgorithm::Crc32Iscsi,
            ChecksumAlgorithm::Crc64Nvme => crc_fast::CrcAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => return None,
        };
        let mut combined: Option<u64> = None;
        for (digest, (_, size)) in raw.iter().zip(parts) {
            let value = digest.iter().fold(0u64, |value, byte| (value << 8) | u64::from(*byte));
            combined = Some(match combined {
                None => value,
                Some(so_far) => crc_fast::checksum_combine(crc, so_far, value, *size),
            });
        }
        let value = combined.unwrap_or(0);
        let bytes = value.to_be_bytes();
        let encoded = STANDARD.encode(&bytes[8 - digest_len(algorithm)..]);
        return Some(StoredChecksum { algorithm: algorithm.name().into(), value: encoded, kind: "FULL_OBJECT".into() });
    }
    let mut outer = nubo_host::sigv4::Checksum::new(algorithm);
    for digest in &raw {
        outer.update(digest);
    }
    Some(StoredChecksum {
        algorithm: algorithm.name().into(),
        value: format!("{}-{}", outer.finish(), parts.len()),
        kind: "COMPOSITE".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_host::sigv4::Checksum;

    fn of(algorithm: ChecksumAlgorithm, bytes: &[u8]) -> String {
        let mut checksum = Checksum::new(algorithm);
        checksum.update(bytes);
        checksum.finish()
    }

    #[test]
    fn full_object_crcs_combine_to_the_crc_of_all_the_bytes() {
        for algorithm in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
            let parts = [of(algorithm, b"hello "), of(algorithm, b"big "), of(algorithm, b"world")];
            let sized = [(parts[0].clone(), 6), (parts[1].clone(), 4), (parts[2].clone(), 5)];
            let combined = combine(algorithm, true, &sized).unwrap();
            assert_eq!(combined.value, of(algorithm, b"hello big world"), "{}", algorithm.name());
        }
        assert!(combine(ChecksumAlgorithm::Sha256, true, &[]).is_none());
    }

    #[test]
    fn composite_checksums_hash_the_part_digests() {
        let parts = [of(ChecksumAlgorithm::Sha256, b"a"), of(ChecksumAlgorithm::Sha256, b"b")];
        let mut concatenated = STANDARD.decode(&parts[0]).unwrap();
        concatenated.extend(STANDARD.decode(&parts[1]).unwrap());
        let combined =
            combine(ChecksumAlgorithm::Sha256, false, &[(parts[0].clone(), 1), (parts[1].clone(), 1)]).unwrap();
        assert_eq!(combined.value, format!("{}-2", of(ChecksumAlgorithm::Sha256, &concatenated)));
        assert_eq!(combined.kind, "COMPOSITE");
    }
}
