//! Passwords: the pool's policy, argon2id hashes for the password flows,
//! and the SRP verifier beside each hash (see ARCHITECTURE.md for what a
//! leaked verifier gives away).

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version};
use serde::{Deserialize, Serialize};

use crate::{
    error::{CognitoError, Result},
    model::{Password, PasswordPolicy, now},
    srp,
};

/// argon2id's cost, from `[auth.argon2]`. The defaults are OWASP's
/// second recommendation (19 MiB, two passes, one lane): about 25 ms a
/// hash on one core of a current server, which bounds password sign-ins
/// at roughly 40 a second per core, by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

/// The characters Cognito counts as symbols.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// Checks `password` against the pool's policy, with Cognito's messages.
pub fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<()> {
    let refuse =
        |why: &str| Err(CognitoError::invalid_password(format!("Password did not conform with policy: {why}")));
    if password.chars().count() < policy.minimum_length as usize {
        return refuse("Password not long enough");
    }
    if password.chars().count() > 256 {
        return refuse("Password is too long");
    }
    if password.starts_with(' ') || password.ends_with(' ') {
        return Err(CognitoError::invalid_parameter(
            "1 validation error detected: Value at 'password' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\\S]+.*[\\S]+$",
        ));
    }
    if policy.require_uppercase && !password.chars().any(|c| c.is_uppercase()) {
        return refuse("Password must have uppercase characters");
    }
    if policy.require_lowercase && !password.chars().any(|c| c.is_lowercase()) {
        return refuse("Password must have lowercase characters");
    }
    if policy.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
        return refuse("Password must have numeric characters");
    }
    if policy.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
        return refuse("Password must have symbol characters");
    }
    Ok(())
}

/// Hashes and verifies on the blocking pool: a hash is tens of
/// milliseconds of one core, which must not stall the async workers. At
/// most two per core run at once (each holds 19 MiB); a request that waits
/// longer than [`QUEUE_WAIT`] for its turn is answered
/// `TooManyRequestsException`, so a flood of sign-ins is refused rather
/// than queued without bound. SRP's arithmetic takes the same turns.
#[derive(Debug, Clone)]
pub struct Hasher {
    cost: HashCost,
    turns: std::sync::Arc<tokio::sync::Semaphore>,
}

/// How long a hash may wait for a free core before it is refused.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Hasher {
    pub fn new(cost: HashCost) -> Result<Self> {
        Self::argon2(cost).map_err(CognitoError::internal)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self { cost, turns: std::sync::Arc::new(tokio::sync::Semaphore::new(cores * 2)) })
    }

    /// Runs CPU-bound `work` (a hash, SRP's modular arithmetic) on the
    /// blocking pool once a turn is free.
    pub async fn cpu<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let turn = tokio::time::timeout(QUEUE_WAIT, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| CognitoError::too_many_requests("Too many requests; try again."))?
            .map_err(|_| CognitoError::internal("the hasher is closed"))?;
        let done = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(turn);
            result
        })
        .await;
        done.map_err(|error| CognitoError::internal(format!("a CPU task failed: {error}")))
    }

    fn argon2(cost: HashCost) -> std::result::Result<Argon2<'static>, String> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|error| format!("bad argon2 cost: {error}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// The record of a new password for `user_id` of pool `pool_id`.
    pub async fn password(&self, pool_id: &str, user_id: &str, password: &str, temporary: bool) -> Result<Password> {
        let (cost, pool, user, password) = (self.cost, pool_id.to_owned(), user_id.to_owned(), password.to_owned());
        self.cpu(move || {
            let salt = argon2::password_hash::SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            let hash = Self::argon2(cost)
                .map_err(CognitoError::internal)?
                .hash_password(password.as_bytes(), &salt)
                .map_err(|error| CognitoError::internal(format!("cannot hash a password: {error}")))?
                .to_string();
            let srp = srp::Verifier::new(srp::pool_name(&pool), &user, &password);
            Ok(Password { hash, srp, temporary, set: now() })
        })
        .await?
    }

    /// Whether `password` is the one `stored` was made from. With no stored
    /// password a hash of the same cost is still computed, so a missing user
    /// answers no faster than a wrong password.
    pub async fn matches(&self, stored: Option<&Password>, password: &str) -> Result<bool> {
        let (cost, hash, password) = (self.cost, stored.map(|stored| stored.hash.clone()), password.to_owned());
        self.cpu(move || {
            let Ok(argon2) = Self::argon2(cost) else { return false };
            match hash.as_deref().map(PasswordHash::new) {
                Some(Ok(parsed)) => argon2.verify_password(password.as_bytes(), &parsed).is_ok(),
                Some(Err(_)) => false,
                None => {
                    let salt =
                        argon2::password_hash::SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
                    let _ = argon2.hash_password(password.as_bytes(), &salt);
                    false
                }
            }
        })
        .await
    }
}

/// A temporary password AdminCreateUser makes when none is given: it meets
/// any policy Cognito allows (every class, 12 characters or the minimum).
pub fn temporary_password(policy: &PasswordPolicy) -> String {
    use rand::seq::{IndexedRandom as _, SliceRandom as _};
    let mut rng = rand::rng();
    let classes: [&[u8]; 4] =
        [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"23456789", b"^$*.!@#%&_=+-"];
    let length = (policy.minimum_length as usize).max(12);
    let mut password: Vec<u8> = classes.iter().filter_map(|class| class.choose(&mut rng).copied()).collect();
    let all: Vec<u8> = classes.concat();
    while password.len() < length {
        password.extend(all.choose(&mut rng));
    }
    password.shuffle(&mut rng);
    String::from_utf8(password).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_messages_are_cognitos() {
        let policy = PasswordPolicy::default();
        let message = |password: &str| check_policy(&policy, password).err().map(|error| error.message);
        assert_eq!(
            message("Sh0rt!").as_deref(),
            Some("Password did not conform with policy: Password not long enough")
        );
        assert_eq!(
            message("lowercase1!").as_deref(),
            Some("Password did not conform with policy: Password must have uppercase characters")
        );
        assert_eq!(
            message("UPPERCASE1!").as_deref(),
            Some("Password did not conform with policy: Password must have lowercase characters")
        );
        assert_eq!(
            message("NoNumbers!").as_deref(),
            Some("Password did not conform with policy: Password must have numeric characters")
        );
        assert_eq!(
            message("NoSymbols1").as_deref(),
            Some("Password did not conform with policy: Password must have symbol characters")
        );
        assert_eq!(message("Go0d-Password"), None);
        assert_eq!(message("Spaces are symbols 1A"), None);
    }

    #[test]
    fn temporary_passwords_meet_the_strictest_policy() {
        let policy = PasswordPolicy { minimum_length: 20, ..PasswordPolicy::default() };
        for _ in 0..100 {
            let password = temporary_password(&policy);
            assert_eq!(password.len(), 20);
            check_policy(&policy, &password).expect("a temporary password meets the policy");
        }
    }

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let hasher = Hasher::new(HashCost { memory_kib: 1024, iterations: 1, parallelism: 1 }).expect("cost");
        let stored = hasher.password("us-east-1_abc", "alice", "Correct-Horse-1", false).await.expect("hash");
        assert!(stored.hash.starts_with("$argon2id$"));
        assert!(hasher.matches(Some(&stored), "Correct-Horse-1").await.expect("a turn"));
        assert!(!hasher.matches(Some(&stored), "Correct-Horse-2").await.expect("a turn"));
        assert!(!hasher.matches(None, "Correct-Horse-1").await.expect("a turn"));
    }
}
