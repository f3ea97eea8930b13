//! Opaque values handed to clients and taken back by any replica: the
//! `Session` of a challenge, SRP's `SECRET_BLOCK`, the hosted UI's state.
//! Sealed with AES-256-GCM under a key derived from the cluster credential,
//! so they need no store, cannot be read (SRP's secret `b` is inside) and
//! cannot be changed. Each carries its purpose, so one kind is never
//! accepted as another, and its expiry.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest as _, Sha256};

#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
    /// For [`Sealer::fingerprint`]: a second key, so no value sealed here
    /// and no fingerprint share one.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    purpose: String,
    expires: i64,
    value: T,
}

impl Sealer {
    pub fn new(cluster_secret: &str) -> Self {
        let digest =
            Sha256::new_with_prefix(b"nubo auth sealing key\0").chain_update(cluster_secret.as_bytes()).finalize();
        // A 32-byte key always makes an AES-256 key.
        let key = UnboundKey::new(&AES_256_GCM, &digest).map(LessSafeKey::new).expect("AES-256 takes a 32-byte key");
        let mac_key =
            Sha256::new_with_prefix(b"nubo auth fingerprint key\0").chain_update(cluster_secret.as_bytes()).finalize();
        Self { key: std::sync::Arc::new(key), mac_key: mac_key.into() }
    }

    /// HMAC-SHA256 of `data` for `purpose` under a key of the cluster's:
    /// the same on every replica, unguessable without the credential. For
    /// codes kept as hashes (a six-digit code's plain SHA-256 is reversed
    /// by trying a million) and for the stable stand-ins SRP shows for
    /// users that do not exist.
    pub fn fingerprint(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<Sha256>>::new_from_slice(&self.mac_key).expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// `value` sealed for `purpose`, good for `seconds`.
    pub fn seal<T: Serialize>(&self, purpose: &str, seconds: i64, value: &T) -> String {
        let envelope =
            Envelope { purpose: purpose.to_owned(), expires: chrono::Utc::now().timestamp() + seconds, value };
        let mut bytes = serde_json::to_vec(&envelope).unwrap_or_default();
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        if self
            .key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(purpose), &mut bytes)
            .is_err()
        {
            return String::new();
        }
        let mut sealed = nonce.to_vec();
        sealed.extend(bytes);
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The value sealed for `purpose`, if `sealed` is one and not expired.
    pub fn open<T: DeserializeOwned>(&self, purpose: &str, sealed: &str) -> Option<T> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.trim_end_matches('=')).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let opened = self.key.open_in_place(nonce, Aad::from(purpose), &mut sealed).ok()?;
        let envelope: Envelope<T> = serde_json::from_slice(opened).ok()?;
        (envelope.purpose == purpose && envelope.expires >= chrono::Utc::now().timestamp()).then_some(envelope.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_purpose_and_key() {
        let sealer = Sealer::new("cluster-secret");
        let sealed = sealer.seal("session", 60, &"alice");
        assert_eq!(sealer.open::<String>("session", &sealed).as_deref(), Some("alice"));
        assert_eq!(sealer.open::<String>("state", &sealed), None);
        assert_eq!(Sealer::new("another").open::<String>("session", &sealed), None);
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(sealer.open::<String>("session", &String::from_utf8(tampered).unwrap_or_default()), None);
        assert_eq!(sealer.open::<String>("session", "garbage"), None);
        let expired = sealer.seal("session", -1, &"alice");
        assert_eq!(sealer.open::<String>("session", &expired), None);
    }
}
