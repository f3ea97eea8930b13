//! Derived signing keys, kept per secret, day, region and service. A client
//! signs every request of a day with the same derived key, and deriving it
//! costs four HMACs, more than the rest of a small request's check.

use moka::sync::Cache;

use super::canonical::signing_key;

/// Distinct (secret, day, region, service) keys kept; a day's worth of
/// every key a deployment sees fits, and a flood of scopes only evicts.
const CAPACITY: u64 = 4096;

#[derive(Clone)]
pub struct SigningKeys {
    cache: Cache<String, [u8; 32]>,
}

impl Default for SigningKeys {
    fn default() -> Self {
        Self { cache: Cache::new(CAPACITY) }
    }
}

impl SigningKeys {
    /// The key `signing_key` derives, from the cache when it was derived
    /// before. The scope parts were checked already (the date is eight
    /// digits, region and service a policy's), so joined with NUL, which
    /// none of them can hold, they name one key.
    pub fn get(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let name = [secret, date, region, service].join("\0");
        self.cache.get_with(name, || signing_key(secret, date, region, service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_key_is_the_derived_key_of_its_own_scope() {
        let keys = SigningKeys::default();
        let first = keys.get("secret", "20260101", "us-east-1", "dynamodb");
        assert_eq!(first, signing_key("secret", "20260101", "us-east-1", "dynamodb"));
        assert_eq!(keys.get("secret", "20260101", "us-east-1", "dynamodb"), first);
        for (secret, date, region, service) in [
            ("other", "20260101", "us-east-1", "dynamodb"),
            ("secret", "20260102", "us-east-1", "dynamodb"),
            ("secret", "20260101", "eu-west-1", "dynamodb"),
            ("secret", "20260101", "us-east-1", "s3"),
        ] {
            let key = keys.get(secret, date, region, service);
            assert_eq!(key, signing_key(secret, date, region, service));
            assert_ne!(key, first);
        }
    }
}
