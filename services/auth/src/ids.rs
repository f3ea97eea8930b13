//! Identifiers in Cognito's forms.

use rand::Rng as _;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random(alphabet: &[u8], length: usize) -> String {
    let mut rng = rand::rng();
    (0..length).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// `us-east-1_AbCdEf123`: the region, an underscore, nine characters.
pub fn pool_id(region: &str) -> String {
    format!("{region}_{}", random(ALPHANUMERIC, 9))
}

/// Cognito's pattern for pool ids, `[\w-]+_[0-9a-zA-Z]+`.
pub fn is_pool_id(value: &str) -> bool {
    let Some((region, suffix)) = value.split_once('_') else { return false };
    !region.is_empty()
        && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !suffix.is_empty()
        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
        && value.len() <= 55
}

/// 26 lower-case letters and digits.
pub fn client_id() -> String {
    random(LOWER_ALPHANUMERIC, 26)
}

/// 51 lower-case letters and digits, as Cognito's client secrets are.
pub fn client_secret() -> String {
    random(LOWER_ALPHANUMERIC, 51)
}

/// A one-time code of `digits` digits.
pub fn code(digits: usize) -> String {
    random(b"0123456789", digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_cognitos_forms() {
        let id = pool_id("us-east-1");
        assert!(is_pool_id(&id), "{id}");
        assert_eq!(id.len(), "us-east-1_".len() + 9);
        assert!(!is_pool_id("no-underscore"));
        assert!(!is_pool_id("us-east-1_bad/char"));
        assert_eq!(client_id().len(), 26);
        assert!(client_secret().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
}
