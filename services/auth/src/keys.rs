//! Each pool's token signing keys: RSA-2048 pairs made with aws-lc-rs,
//! kept in data, rotated on a schedule. A retired key stays in the JWKS
//! until every token it signed has expired (ID and access tokens live at
//! most a day), so a token signed before a rotation still verifies after it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_lc_rs::{
    encoding::AsDer as _,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

use crate::{
    error::{CognitoError, Result},
    store::{KEYS, Store},
};

/// The longest an ID or access token lives (Cognito's limit), plus the
/// clock skew verifiers allow: how long a retired key stays published.
const RETIRED_KEY_SECONDS: i64 = 24 * 3600 + 300;
/// How long a replica uses the key ring it read before reading it again;
/// an unknown `kid` reads it at once.
const RING_TTL: Duration = Duration::from_secs(5);
/// The most keys a ring publishes: with a rotation much shorter than a
/// token's life, the oldest retired keys leave first (and their tokens
/// stop verifying).
const MAX_KEYS: usize = 20;
/// How soon an unknown `kid` may read a ring again.
const REREAD_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub created: i64,
    /// PKCS#8 DER, base64.
    pub private_key: String,
    /// The public modulus and exponent, base64url, as the JWKS has them.
    pub n: String,
    pub e: String,
    /// When it stopped signing; `None` for the active key.
    pub retired: Option<i64>,
}

/// A pool's keys, the active one first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRing {
    pub keys: Vec<StoredKey>,
}

/// A ring parsed for use.
pub struct Ring {
    pub active_kid: String,
    pub signing: EncodingKey,
    /// Every published key by `kid`.
    pub verifying: HashMap<String, DecodingKey>,
    pub jwks: serde_json::Value,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("active_kid", &self.active_kid).finish_non_exhaustive()
    }
}

pub(crate) fn generate(now: i64) -> Result<StoredKey> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| CognitoError::internal("cannot make a signing key"))?;
    let der = pair.as_der().map_err(|_| CognitoError::internal("cannot encode a signing key"))?;
    let public = pair.public_key();
    let mut kid_bytes = [0u8; 32];
    rand::fill(&mut kid_bytes);
    Ok(StoredKey {
        kid: STANDARD.encode(kid_bytes),
        created: now,
        private_key: STANDARD.encode(der.as_ref()),
        n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        retired: None,
    })
}

pub(crate) fn parse(stored: &StoredRing) -> Result<Ring> {
    let active = stored.keys.first().ok_or_else(|| CognitoError::internal("a key ring is empty"))?;
    let der =
        STANDARD.decode(&active.private_key).map_err(|_| CognitoError::internal("a signing key is unreadable"))?;
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    let body = STANDARD.encode(der);
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    let signing = EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|error| CognitoError::internal(format!("a signing key is unreadable: {error}")))?;
    let mut verifying = HashMap::new();
    let mut published = Vec::new();
    for key in &stored.keys {
        let decoding = DecodingKey::from_rsa_components(&key.n, &key.e)
            .map_err(|error| CognitoError::internal(format!("a public key is unreadable: {error}")))?;
        verifying.insert(key.kid.clone(), decoding);
        published.push(serde_json::json!({
            "alg": "RS256", "e": key.e, "kid": key.kid, "kty": "RSA", "n": key.n, "use": "sig",
        }));
    }
    Ok(Ring { active_kid: active.kid.clone(), signing, verifying, jwks: serde_json::json!({ "keys": published }) })
}

/// A ring and when it was read.
type CachedRing = (Instant, Arc<Ring>);

/// The key rings of every pool this replica serves, read through a short cache.
#[derive(Debug, Clone)]
pub struct Keys {
    store: Store,
    rotation_seconds: i64,
    cache: Arc<Mutex<HashMap<String, CachedRing>>>,
}

impl Keys {
    pub fn new(store: Store, rotation: Duration) -> Self {
        let rotation_seconds = i64::try_from(rotation.as_secs()).unwrap_or(i64::MAX).max(1);
        Self { store, rotation_seconds, cache: Arc::default() }
    }

    /// The pool's ring, made (or rotated) first if it is due.
    pub async fn ring(&self, pool_id: &str) -> Result<Arc<Ring>> {
        if let Some(ring) = self.cached(pool_id) {
            return Ok(ring);
        }
        self.reload(pool_id).await
    }

    /// A verifying key for `kid`, reading the ring again if it is unknown
    /// here (another replica may have rotated).
    pub async fn verifying_key(&self, pool_id: &str, kid: &str) -> Result<Option<(Arc<Ring>, DecodingKey)>> {
        let ring = self.ring(pool_id).await?;
        if let Some(key) = ring.verifying.get(kid) {
            return Ok(Some((ring.clone(), key.clone())));
        }
        // At most one re-read a second for unknown ids, so tokens with
        // made-up `kid`s cannot turn every request into a data read.
        if self.read_within(pool_id, REREAD_INTERVAL) {
            return Ok(None);
        }
        let ring = self.reload(pool_id).await?;
        Ok(ring.verifying.get(kid).cloned().map(|key| (ring.clone(), key)))
    }

    fn read_within(&self, pool_id: &str, interval: Duration) -> bool {
        let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(pool_id).is_some_and(|(read, _)| read.elapsed() < interval)
    }

    fn cached(&self, pool_id: &str) -> Option<Arc<Ring>> {
        let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(pool_id).filter(|(read, _)| read.elapsed() < RING_TTL).map(|(_, ring)| ring.clone())
    }

    async fn reload(&self, pool_id: &str) -> Result<Arc<Ring>> {
        let now = chrono::Utc::now().timestamp();
        let stored = loop {
            let current = self.store.get::<StoredRing>(KEYS, pool_id).await?;
            let (ring, version) = match current {
                Some(current) => (current.value, current.version),
                None => (StoredRing::default(), 0),
            };
            if !self.due(&ring, now) {
                break ring;
            }
            // RSA key generation takes tens of milliseconds of one core:
            // off the async workers.
            let fresh = tokio::task::spawn_blocking(move || generate(now))
                .await
                .map_err(|error| CognitoError::internal(format!("the key generation task failed: {error}")))??;
            let next = Self::rotated(&ring, now, fresh);
            // Two replicas rotating at once: the first write wins, the
            // other reads it back.
            if self.store.put_if(KEYS, pool_id, &next, version).await? {
                tracing::debug!(pool = pool_id, "the pool has a new signing key");
                break next;
            }
        };
        let ring = Arc::new(parse(&stored)?);
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.insert(pool_id.to_owned(), (Instant::now(), ring.clone()));
        Ok(ring)
    }

    /// Whether a rotation is due: no key yet, or the active one older than
    /// the rotation period.
    fn due(&self, ring: &StoredRing, now: i64) -> bool {
        ring.keys.first().is_none_or(|active| now - active.created >= self.rotation_seconds)
    }

    /// The ring with `fresh` active. Retired keys past their tokens'
    /// lifetime leave, and beyond [`MAX_KEYS`] the oldest.
    fn rotated(ring: &StoredRing, now: i64, fresh: StoredKey) -> StoredRing {
        let mut keys = vec![fresh];
        for mut key in ring.keys.iter().cloned() {
            let retired = *key.retired.get_or_insert(now);
            if now - retired < RETIRED_KEY_SECONDS {
                keys.push(key);
            }
        }
        keys.truncate(MAX_KEYS);
        StoredRing { keys }
    }

    /// Drops the pool's cached ring (the pool was deleted).
    pub fn forget(&self, pool_id: &str) {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(pool_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_what_its_published_half_verifies() {
        let stored = StoredRing { keys: vec![generate(0).expect("key")] };
        let ring = parse(&stored).expect("ring");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(ring.active_kid.clone());
        let token =
            jsonwebtoken::encode(&header, &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}), &ring.signing)
                .expect("signed");
        let key = ring.verifying.get(&ring.active_kid).expect("published");
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&token, key, &validation).expect("verified");
        assert_eq!(claims.claims["sub"], "x");
        assert_eq!(ring.jwks["keys"][0]["kty"], "RSA");
        assert_eq!(ring.jwks["keys"][0]["e"], "AQAB");
    }
}
