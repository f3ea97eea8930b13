//! placeholder for compile checks; replaced by the real module
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verifier {
    pub salt: String,
    pub verifier: String,
}
impl Verifier {
    pub fn new(_pool_name: &str, _user_id: &str, _password: &str) -> Self {
        Self { salt: String::new(), verifier: String::new() }
    }
}
pub struct Challenge {
    pub secret_b: Vec<u8>,
    pub srp_b: String,
}
#[derive(Debug, PartialEq, Eq)]
pub enum SrpError {
    InvalidA,
}
pub fn challenge(_verifier: &Verifier) -> Result<Challenge, SrpError> {
    Err(SrpError::InvalidA)
}
#[allow(clippy::too_many_arguments)]
pub fn password_claim_matches(
    _pool_name: &str,
    _user_id: &str,
    _verifier: &Verifier,
    _secret_b: &[u8],
    _srp_a: &str,
    _secret_block: &[u8],
    _timestamp: &str,
    _signature_base64: &str,
) -> Result<bool, SrpError> {
    Ok(false)
}
pub fn parse_timestamp(_value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    None
}
pub fn pool_name(user_pool_id: &str) -> &str {
    user_pool_id.split_once('_').map_or(user_pool_id, |(_, name)| name)
}
