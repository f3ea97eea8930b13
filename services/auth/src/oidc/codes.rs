//! Authorization codes (RFC 6749 §4.1) and their PKCE proof (RFC 7636).
//!
//! A code is 32 random bytes handed to the client; data keeps only its
//! SHA-256 (`auth.codes.v1`), with what it was issued for: the client, the
//! redirect URI, the PKCE challenge, the scopes and nonce, the user and
//! when they signed in. Codes live five minutes, as Cognito's do.
//! Redemption checks everything first, then claims the record by a
//! compare-and-set delete: of two concurrent redemptions of one code, one
//! deletes the version both read and the other finds it gone, so a code
//! is spent exactly once, on any replica.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{Cognito, error::Result, model::now};

pub const CODES: &str = "auth.codes.v1";
/// Cognito's authorization codes are good for five minutes.
const CODE_SECONDS: f64 = 300.0;

/// What a code was issued for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub pool_id: String,
    pub client_id: String,
    pub username: String,
    pub sub: String,
    pub redirect_uri: String,
    /// The S256 `code_challenge`, when the request carried one.
    pub challenge: Option<String>,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub issued: f64,
    pub expires: f64,
}

/// Why a code was not redeemed; each is RFC 6749's `invalid_grant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unredeemable {
    Unknown,
    Expired,
    OtherClient,
    OtherRedirect,
    VerifierMissing,
    VerifierUnexpected,
    VerifierMismatch,
    AlreadyUsed,
}

impl Unredeemable {
    pub fn description(&self) -> &'static str {
        match self {
            Self::Unknown => "the authorization code is not valid",
            Self::Expired => "the authorization code has expired",
            Self::OtherClient => "the authorization code was issued to another client",
            Self::OtherRedirect => "redirect_uri is not the one the authorization code was issued for",
            Self::VerifierMissing => {
                "the authorization code was issued with a code_challenge: code_verifier is required"
            }
            Self::VerifierUnexpected => "the authorization code was issued without a code_challenge",
            Self::VerifierMismatch => "code_verifier does not match the code_challenge",
            Self::AlreadyUsed => "the authorization code has already been used",
        }
    }
}

fn key_of(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// RFC 7636 §4.2: S256's challenge is BASE64URL(SHA256(verifier)), 43
/// characters.
pub fn is_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
pub fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6 for S256 (the only method Cognito accepts), compared in
/// constant time.
pub fn verifier_matches(challenge: &str, verifier: &str) -> bool {
    if !is_verifier(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    bool::from(subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()))
}

/// The PKCE and binding checks of a redemption, before the code is spent.
pub fn check_redemption(
    grant: &CodeGrant,
    client_id: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    at: f64,
) -> std::result::Result<(), Unredeemable> {
    if grant.expires < at {
        return Err(Unredeemable::Expired);
    }
    if grant.client_id != client_id {
        return Err(Unredeemable::OtherClient);
    }
    // RFC 6749 §4.1.3: the redirect URI of the authorization request, exactly.
    if redirect_uri != Some(grant.redirect_uri.as_str()) {
        return Err(Unredeemable::OtherRedirect);
    }
    match (&grant.challenge, verifier) {
        (Some(challenge), Some(verifier)) if verifier_matches(challenge, verifier) => Ok(()),
        (Some(_), Some(_)) => Err(Unredeemable::VerifierMismatch),
        (Some(_), None) => Err(Unredeemable::VerifierMissing),
        // A verifier for a code issued without a challenge is a downgrade
        // (RFC 9700 §2.1.1): refused.
        (None, Some(_)) => Err(Unredeemable::VerifierUnexpected),
        (None, None) => Ok(()),
    }
}

impl Cognito {
    /// A new code for `grant` (whose `issued` and `expires` are set here).
    pub(crate) async fn issue_code(&self, mut grant: CodeGrant) -> Result<String> {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        let code = URL_SAFE_NO_PAD.encode(secret);
        grant.issued = now();
        grant.expires = grant.issued + CODE_SECONDS;
        self.store.put(CODES, &key_of(&code), &grant).await?;
        Ok(code)
    }

    /// Spends a code for `client_id`: the grant it was issued for, once.
    pub(crate) async fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<std::result::Result<CodeGrant, Unredeemable>> {
        if code.len() > 128 {
            return Ok(Err(Unredeemable::Unknown));
        }
        let key = key_of(code);
        let Some(stored) = self.store.get::<CodeGrant>(CODES, &key).await? else {
            return Ok(Err(Unredeemable::Unknown));
        };
        if let Err(refused) = check_redemption(&stored.value, client_id, redirect_uri, verifier, now()) {
            if refused == Unredeemable::Expired {
                self.store.delete_if(CODES, &key, stored.version).await?;
            }
            return Ok(Err(refused));
        }
        if !self.store.delete_if(CODES, &key, stored.version).await? {
            return Ok(Err(Unredeemable::AlreadyUsed));
        }
        Ok(Ok(stored.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn grant() -> CodeGrant {
        CodeGrant {
            pool_id: "us-east-1_pool".into(),
            client_id: "client".into(),
            username: "alice".into(),
            sub: "sub".into(),
            redirect_uri: "http://localhost/callback".into(),
            challenge: Some(CHALLENGE.into()),
            scopes: vec!["openid".into()],
            nonce: None,
            auth_time: 0,
            issued: 100.0,
            expires: 400.0,
        }
    }

    #[test]
    fn s256_matches_the_rfc_example() {
        assert!(is_challenge(CHALLENGE));
        assert!(is_verifier(VERIFIER));
        assert!(verifier_matches(CHALLENGE, VERIFIER));
        assert!(!verifier_matches(CHALLENGE, &VERIFIER.replace('d', "e")));
        // `plain` would compare the verifier itself: never accepted.
        assert!(!verifier_matches(VERIFIER, VERIFIER));
        assert!(!verifier_matches(CHALLENGE, "short"));
        assert!(!verifier_matches(CHALLENGE, &"a".repeat(129)));
        assert!(!is_challenge("too-short"));
        assert!(!is_challenge(&format!("{}=", &CHALLENGE[..42])));
        assert!(!is_verifier(&format!("{}!", &VERIFIER[..43])));
    }

    #[test]
    fn a_redemption_must_match_what_the_code_was_issued_for() {
        let grant = grant();
        let redirect = Some("http://localhost/callback");
        assert_eq!(check_redemption(&grant, "client", redirect, Some(VERIFIER), 200.0), Ok(()));
        assert_eq!(check_redemption(&grant, "client", redirect, Some(VERIFIER), 401.0), Err(Unredeemable::Expired));
        assert_eq!(check_redemption(&grant, "other", redirect, Some(VERIFIER), 200.0), Err(Unredeemable::OtherClient));
        for wrong in [None, Some("http://localhost/callback/"), Some("http://LOCALHOST/callback")] {
            assert_eq!(
                check_redemption(&grant, "client", wrong, Some(VERIFIER), 200.0),
                Err(Unredeemable::OtherRedirect)
            );
        }
        assert_eq!(check_redemption(&grant, "client", redirect, None, 200.0), Err(Unredeemable::VerifierMissing));
        let wrong = "x".repeat(43);
        assert_eq!(
            check_redemption(&grant, "client", redirect, Some(&wrong), 200.0),
            Err(Unredeemable::VerifierMismatch)
        );
        let plain = CodeGrant { challenge: None, ..grant };
        assert_eq!(check_redemption(&plain, "client", redirect, None, 200.0), Ok(()));
        assert_eq!(
            check_redemption(&plain, "client", redirect, Some(VERIFIER), 200.0),
            Err(Unredeemable::VerifierUnexpected)
        );
    }
}
