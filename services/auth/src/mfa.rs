//! TOTP (RFC 6238) for `SOFTWARE_TOKEN_MFA`: SHA-1, six digits, 30-second
//! steps, one step of skew either way, as authenticator apps and Cognito
//! use; each step is accepted once.

use totp_rs::{Algorithm, Secret, TOTP};

/// A fresh secret as AssociateSoftwareToken hands it out: base32 of 20
/// random bytes (160 bits, RFC 4226's recommended length).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::fill(&mut bytes);
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(encoded) => encoded,
        Secret::Raw(_) => String::new(),
    }
}

fn totp(secret: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().ok()?;
    Some(TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes))
}

/// The time step `code` is valid for at `now` (seconds since the epoch),
/// if it is valid and newer than `last_step`.
pub fn accepted_step(secret: &str, code: &str, now: u64, last_step: u64) -> Option<u64> {
    let totp = totp(secret)?;
    let code = code.trim();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let current = now / 30;
    [current.saturating_sub(1), current, current + 1].into_iter().find(|step| {
        *step > last_step
            && bool::from(subtle::ConstantTimeEq::ct_eq(totp.generate(step * 30).as_bytes(), code.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vector_and_replay() {
        // RFC 6238 appendix B: the SHA-1 key "12345678901234567890" gives
        // 94287082 at 59 s; its last six digits are the six-digit code.
        let secret = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(encoded) => encoded,
            Secret::Raw(_) => unreachable!(),
        };
        assert_eq!(accepted_step(&secret, "287082", 59, 0), Some(1));
        assert_eq!(accepted_step(&secret, "287082", 59, 1), None, "a step is used once");
        assert_eq!(accepted_step(&secret, "287083", 59, 0), None);
        assert_eq!(accepted_step(&secret, "28708", 59, 0), None);
        assert_eq!(new_secret().len(), 32);
    }
}
