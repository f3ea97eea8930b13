//! Cognito's SRP-6a (USER_SRP_AUTH), the server's side.
//!
//! Cognito's clients (Amplify JS, amazon-cognito-identity-js, pycognito) all
//! run one variant of SRP-6a, and a sign-in works only if the server hashes
//! the very bytes they do:
//! - the group is RFC 3526's 3072-bit MODP prime N with g = 2; H is SHA-256;
//! - an integer is hashed as its "padHex" bytes: big-endian, with a leading
//!   zero byte when the top bit is set (Java's `toByteArray`), so
//!   k = H(N | g), u = H(A | B) and
//!   x = H(salt | H(pool name | user id | ":" | password));
//! - B = k·v + g^b, S = (A·v^u)^b, and the key is 16 bytes of HKDF-SHA256
//!   with S as the input, u as the salt and "Caldera Derived Key" as the info;
//! - the client proves it holds the key with PASSWORD_CLAIM_SIGNATURE, an
//!   HMAC-SHA256 under it of pool name | user id | SECRET_BLOCK | TIMESTAMP.
//!
//! The store keeps only a salt and the verifier v = g^x ([`Verifier`]).

use std::{ops::RangeInclusive, sync::LazyLock};

use base64::{
    Engine as _, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use chrono::{DateTime, Datelike as _, NaiveDate, TimeDelta, Timelike as _, Utc};
use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use num_bigint::BigUint;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// RFC 3526's 3072-bit MODP prime (group 15), the N of every Cognito client.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);
static N: LazyLock<BigUint> =
    LazyLock::new(|| BigUint::parse_bytes(N_HEX.as_bytes(), 16).expect("RFC 3526's prime is hex"));
static G: LazyLock<BigUint> = LazyLock::new(|| BigUint::from(2u32));
/// SRP-6a's multiplier, k = H(N | g).
static K: LazyLock<BigUint> = LazyLock::new(|| hash_int(&[&padded(&N), &padded(&G)]));

/// The HKDF info every client derives the key with.
const KEY_INFO: &[u8] = b"Caldera Derived Key";
/// Bytes of the server's secret b: 256 bits, the group's 128-bit strength.
const SECRET_B_LEN: usize = 32;
/// Bytes of a fresh salt: 128 bits, as the clients draw for device salts.
const SALT_LEN: usize = 16;
/// Longest SRP_A taken, in hex digits: N is 768, so this leaves room for
/// leading zeros and stops huge numbers before any arithmetic.
const MAX_HEX: usize = 1024;
/// How far a client's TIMESTAMP may be from the server's clock.
pub const TIMESTAMP_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// Decodes PASSWORD_CLAIM_SIGNATURE: standard base64, padded or not.
const SIGNATURE_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Why an SRP step could not be computed (as opposed to a wrong password,
/// which is `Ok(false)`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrpError {
    /// SRP_A is not hex, is too long, is 0 mod N (which would let anyone
    /// compute the key without the password), or hashes with B to u = 0.
    #[error("SRP_A is not a valid SRP value")]
    InvalidA,
    /// SRP_B is not hex or is 0 mod N (seen only by the client's half).
    #[error("SRP_B is not a valid SRP value")]
    InvalidB,
    /// PASSWORD_CLAIM_SIGNATURE is not base64.
    #[error("PASSWORD_CLAIM_SIGNATURE is not base64")]
    InvalidSignature,
    /// A stored salt or verifier is not hex: a bug or a foreign writer.
    #[error("the stored SRP verifier does not decode")]
    InvalidVerifier,
    /// The sign-in's secret b is empty: a bug in the session that kept it.
    #[error("the sign-in's SRP secret is empty")]
    InvalidSecret,
}

/// What the store keeps for SRP: never the password.
///
/// Both fields are lowercase hex in padHex form (even length, a leading
/// `00` when the top bit is set). `salt` goes out verbatim as SALT: every
/// client reads that form back as the same integer, including pycognito,
/// which pads the SALT string rather than the number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verifier {
    pub salt: String,
    pub verifier: String,
}

impl Verifier {
    /// A fresh random 16-byte salt and the verifier for this password.
    pub fn new(pool_name: &str, user_id: &str, password: &str) -> Self {
        let salt = BigUint::from_bytes_be(&rand::random::<[u8; SALT_LEN]>());
        Self::with_salt(pool_name, user_id, password, &salt)
    }

    fn with_salt(pool_name: &str, user_id: &str, password: &str, salt: &BigUint) -> Self {
        let x = private_key(pool_name, user_id, password, salt);
        Self { salt: pad_hex(salt), verifier: pad_hex(&G.modpow(&x, &N)) }
    }

    fn value(&self) -> Result<BigUint, SrpError> {
        parse_hex(&self.verifier).ok_or(SrpError::InvalidVerifier)
    }
}

/// The server's half of one sign-in: `secret_b` stays in the session,
/// `srp_b` goes to the client as SRP_B.
#[derive(Clone)]
pub struct Challenge {
    /// The secret b, big-endian.
    pub secret_b: Vec<u8>,
    /// B in plain lowercase hex, as the clients send A.
    pub srp_b: String,
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge").field("secret_b", &"<redacted>").field("srp_b", &self.srp_b).finish()
    }
}

/// A fresh secret b and its B = k·v + g^b for the user with this verifier.
pub fn challenge(verifier: &Verifier) -> Result<Challenge, SrpError> {
    let v = verifier.value()?;
    loop {
        let secret_b = rand::random::<[u8; SECRET_B_LEN]>().to_vec();
        let big_b = server_b(&v, &BigUint::from_bytes_be(&secret_b));
        // Clients refuse B ≡ 0; the odds of drawing it are nil.
        if big_b != BigUint::ZERO {
            return Ok(Challenge { secret_b, srp_b: big_b.to_str_radix(16) });
        }
    }
}

/// Refuses an SRP_A no sign-in could complete with, so InitiateAuth can
/// answer before it makes a challenge.
pub fn check_srp_a(srp_a: &str) -> Result<(), SrpError> {
    parse_a(srp_a).map(drop)
}

/// Checks PASSWORD_CLAIM_SIGNATURE in constant time (subtle).
///
/// `secret_block` is the decoded SECRET_BLOCK the server sent and
/// `timestamp` the TIMESTAMP exactly as the client sent it: the signature
/// covers that string, so its freshness is a separate check
/// ([`timestamp_is_fresh`]). B is recomputed from b and v.
#[expect(clippy::too_many_arguments, reason = "each is one value of the PASSWORD_VERIFIER exchange")]
pub fn password_claim_matches(
    pool_name: &str,
    user_id: &str,
    verifier: &Verifier,
    secret_b: &[u8],
    srp_a: &str,
    secret_block: &[u8],
    timestamp: &str,
    signature_base64: &str,
) -> Result<bool, SrpError> {
    let key = server_key(verifier, secret_b, srp_a)?;
    let claimed = SIGNATURE_BASE64.decode(signature_base64).map_err(|_| SrpError::InvalidSignature)?;
    let expected = claim_signature(&key, pool_name, user_id, secret_block, timestamp);
    Ok(expected[..].ct_eq(&claimed[..]).into())
}

/// The server's key: S = (A·v^u)^b, then HKDF.
fn server_key(verifier: &Verifier, secret_b: &[u8], srp_a: &str) -> Result<[u8; 16], SrpError> {
    let big_a = parse_a(srp_a)?;
    let v = verifier.value()?;
    if secret_b.is_empty() {
        return Err(SrpError::InvalidSecret);
    }
    let b = BigUint::from_bytes_be(secret_b);
    let big_b = server_b(&v, &b);
    // u hashes A as the client sent it, unreduced, as the client does.
    let u = scrambler(&big_a, &big_b).ok_or(SrpError::InvalidA)?;
    let s = ((big_a % &*N) * v.modpow(&u, &N) % &*N).modpow(&b, &N);
    Ok(session_key(&s, &u))
}

/// Cognito's TIMESTAMP form of `now`: "Wed Dec 2 23:05:07 UTC 2026", the
/// day unpadded as every client writes it.
pub fn timestamp(now: DateTime<Utc>) -> String {
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[now.weekday().num_days_from_monday() as usize],
        MONTHS[now.month0() as usize],
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.year()
    )
}

/// Parses a client's TIMESTAMP (either day padding); None if malformed.
///
/// Every client writes the day unpadded; "Dec 02" (strftime's `%d`, as a
/// hand-rolled client might) is taken too, since the signature covers the
/// string as sent either way. The weekday must be the date's.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let mut fields = value.split(' ');
    let mut field = || fields.next();
    let (weekday, month, day, time, zone, year) = (field()?, field()?, field()?, field()?, field()?, field()?);
    if field().is_some() || zone != "UTC" {
        return None;
    }
    let mut clock = time.split(':');
    let mut part = || clock.next().and_then(|two| digits(two, 2..=2));
    let (hour, minute, second) = (part()?, part()?, part()?);
    if clock.next().is_some() {
        return None;
    }
    let month = MONTHS.iter().position(|name| *name == month)?;
    let date = NaiveDate::from_ymd_opt(digits(year, 4..=4)?.try_into().ok()?, month as u32 + 1, digits(day, 1..=2)?)?;
    let at = date.and_hms_opt(hour, minute, second)?;
    (WEEKDAYS[at.weekday().num_days_from_monday() as usize] == weekday).then(|| at.and_utc())
}

/// Whether a client's TIMESTAMP parses and is within
/// [`TIMESTAMP_TOLERANCE`] of `now`, so a captured claim cannot be
/// replayed later.
pub fn timestamp_is_fresh(value: &str, now: DateTime<Utc>) -> bool {
    parse_timestamp(value).is_some_and(|at| (at - now).abs() <= TIMESTAMP_TOLERANCE)
}

/// The pool name the clients hash: the pool id's part after the region's
/// `_` ("us-east-1_AbC123xyz" gives "AbC123xyz"). Like the clients' own
/// `split('_')[1]`, it stops at any further `_`; an id without one gives "".
pub fn pool_name(user_pool_id: &str) -> &str {
    user_pool_id.split('_').nth(1).unwrap_or("")
}

/// The client's half, as Cognito's SDKs compute it, so tests can sign in
/// without one. The known answers in this module's tests tie it to them.
pub mod client {
    use num_bigint::BigUint;

    use super::{G, K, N, SrpError, claim_signature, parse_hex, private_key, scrambler, session_key};

    /// One sign-in's secret a and its A = g^a.
    pub struct Client {
        a: BigUint,
        big_a: BigUint,
    }

    impl Default for Client {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Client {
        /// A fresh random a of 128 bytes, as the SDKs draw it.
        pub fn new() -> Self {
            Self::with_secret(&rand::random::<[u8; 128]>())
        }

        /// A given a (big-endian), for known answers.
        pub fn with_secret(a: &[u8]) -> Self {
            let a = BigUint::from_bytes_be(a);
            Self { big_a: G.modpow(&a, &N), a }
        }

        /// A as the SDKs send it in SRP_A: plain lowercase hex.
        pub fn srp_a(&self) -> String {
            self.big_a.to_str_radix(16)
        }

        /// The key from SALT and SRP_B: S = (B − k·g^x)^(a + u·x), then HKDF.
        pub fn session_key(
            &self,
            pool_name: &str,
            user_id: &str,
            password: &str,
            salt: &str,
            srp_b: &str,
        ) -> Result<[u8; 16], SrpError> {
            let salt = parse_hex(salt).ok_or(SrpError::InvalidVerifier)?;
            let big_b = parse_hex(srp_b).filter(|b| b % &*N != BigUint::ZERO).ok_or(SrpError::InvalidB)?;
            let u = scrambler(&self.big_a, &big_b).ok_or(SrpError::InvalidB)?;
            let x = private_key(pool_name, user_id, password, &salt);
            let base = (big_b % &*N + &*N - &*K * G.modpow(&x, &N) % &*N) % &*N;
            let s = base.modpow(&(&self.a + u.clone() * x), &N);
            Ok(session_key(&s, &u))
        }
    }

    /// PASSWORD_CLAIM_SIGNATURE for this key, base64.
    pub fn signature(key: &[u8; 16], pool_name: &str, user_id: &str, secret_block: &[u8], timestamp: &str) -> String {
        use base64::Engine as _;
        let signature = claim_signature(key, pool_name, user_id, secret_block, timestamp);
        base64::engine::general_purpose::STANDARD.encode(signature)
    }
}

/// B = (k·v + g^b) mod N.
fn server_b(v: &BigUint, b: &BigUint) -> BigUint {
    (&*K * v + G.modpow(b, &N)) % &*N
}

/// u = H(A | B); None when it is 0, which SRP-6a refuses.
fn scrambler(big_a: &BigUint, big_b: &BigUint) -> Option<BigUint> {
    Some(hash_int(&[&padded(big_a), &padded(big_b)])).filter(|u| *u != BigUint::ZERO)
}

/// x = H(salt | H(pool name | user id | ":" | password)).
fn private_key(pool_name: &str, user_id: &str, password: &str, salt: &BigUint) -> BigUint {
    let identity = hash(&[pool_name.as_bytes(), user_id.as_bytes(), b":", password.as_bytes()]);
    hash_int(&[&padded(salt), &identity])
}

/// The 16-byte key: standard HKDF-SHA256, which for one block is exactly
/// the clients' HMAC(HMAC(u, S), info | 0x01).
fn session_key(s: &BigUint, u: &BigUint) -> [u8; 16] {
    let mut key = [0; 16];
    Hkdf::<Sha256>::new(Some(&padded(u)), &padded(s)).expand(KEY_INFO, &mut key).expect("16 bytes is one HKDF block");
    key
}

/// HMAC-SHA256(key, pool name | user id | secret block | timestamp).
fn claim_signature(key: &[u8], pool_name: &str, user_id: &str, secret_block: &[u8], timestamp: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in [pool_name.as_bytes(), user_id.as_bytes(), secret_block, timestamp.as_bytes()] {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SRP_A as an integer, refused unless hex and nonzero mod N.
fn parse_a(srp_a: &str) -> Result<BigUint, SrpError> {
    parse_hex(srp_a).filter(|a| a % &*N != BigUint::ZERO).ok_or(SrpError::InvalidA)
}

/// Hex digits only (either case), 1 to [`MAX_HEX`] of them.
fn parse_hex(value: &str) -> Option<BigUint> {
    // `parse_bytes` alone would also take "+" and "_".
    if value.is_empty() || value.len() > MAX_HEX || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    BigUint::parse_bytes(value.as_bytes(), 16)
}

/// The bytes of padHex(n): big-endian, a leading zero byte when the top
/// bit is set, and a single zero byte for 0.
fn padded(n: &BigUint) -> Vec<u8> {
    let mut bytes = n.to_bytes_be();
    if bytes.first().is_some_and(|top| top & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    bytes
}

fn pad_hex(n: &BigUint) -> String {
    hex::encode(padded(n))
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn hash_int(parts: &[&[u8]]) -> BigUint {
    BigUint::from_bytes_be(&hash(parts))
}

/// A field of `len` ASCII digits.
fn digits(field: &str, len: RangeInclusive<usize>) -> Option<u32> {
    if !len.contains(&field.len()) || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::{client::Client, *};

    const POOL_ID: &str = "us-east-1_AbC123xyz";
    const USER_ID: &str = "0f6c5a3e-8b1d-4e2a-9c7f-5d3b2a1e4c6f";
    const PASSWORD: &str = "Pässw0rd!Corr3ct";

    struct Vector {
        a: &'static str,
        b: &'static str,
        salt: &'static str,
        verifier: &'static str,
        srp_a: &'static str,
        srp_b: &'static str,
        key: &'static str,
        secret_block: &'static str,
        timestamp: &'static str,
        signature: &'static str,
    }

    // Made by pycognito 2024.5.1: AWSSRP(USER_ID, PASSWORD, POOL_ID, ...)
    // with `small_a_value = a`, `get_cognito_formatted_timestamp` returning
    // `timestamp`, then `get_password_authentication_key(USER_ID, PASSWORD,
    // B, salt)` for `key` and `process_challenge` for `signature`. The
    // verifier and B (the server's side, no client has it) came from the
    // formulas in Python. amazon-cognito-identity-js 6.3.21
    // (AuthenticationHelper.getPasswordAuthenticationKey) and
    // @aws-amplify/auth 6.21.1 (getPasswordAuthenticationKey,
    // getSignatureString) under node give the same A, key and signature.
    // Case 1's salt and verifier carry the padHex "00"; case 2's salt has
    // an odd number of digits and its A and B start above 8.
    const VECTORS: [Vector; 2] = [
        Vector {
            a: "585dabc53d406d65618c00322b0887b8c77c51ad99c315cd23b3952100ef80a4012d4210d2922ba5d754a1aee52dbe44b53a233bae65ef4249b105ac79b5ccc5a0530dab3c0a07f056be42f1be2d871bc78330d8c5624c710850bdec0527ee38efbf3568b61900daeded8c3f76640547a5c24655da54115d5cc634cb2fa0994a",
            b: "46bf36a4a1175aa4204c4153f466aa9ba5e9a0ab3f42731776098d60e6286196",
            salt: "009f3b2c71e04d5a86b7c1d2e3f4a5b6c7",
            verifier: "00ff2044c44416e8ca406ae689879df326d0e3f8b95a4c6a90747a169fad5834fd1e492cad1ce71285b5ae284e044eab94ff33039aa20f5be6633130a931199d6815ff63f340722b9ac59965259b5d99873ef19bda4b7fdd0e769a73c67d2a964322ba5381f79f806d5c75c6d63029985b53904c65494899b58417f4c6e347caf4bfaa4d20dfb9a4f8940cf7e55d5a12a1e24982f899b59db6a30d2c1b8fcf9bf2138ac7df672c94f12c0dbd8168666dcc2200e088c034ed5a6ab1a0a8718522247b55171b8350eea43d8fe67aaa866d0f2d9d086ed63960b940932ad4ef2928ea34684fb463b6d6334f2da6943737dda4fbcca5a982490884f708a8f2657c2afca4bd787cb69e89dc314eda94998ddbfd64db2d382f73dcb163c0729615ec2ae5c8343ecaa5952d76688f4e9b53856c45df139dc90e4535d537ae303349600e97631b4a4d652520f6bc61298222618ffcb8f83b632adf6e162f3470b1d5019386d8d7a56879aee0637105f3e5760ce31bad07ce416fc0168e0e0f670dd59092e0",
            srp_a: "67f9767b0379be0fa9a0a91f64444e963ed362d2084190bb7b2a8a1022f96a2b667ec028f256b584c8eaa1023a05b426103516b6b29e22ce63987ab5d83454439a268172b0cd50bf22f850800741cf3e4c42158b2bba25c508980d2560557b77fa0dbf61f153695800febaa546c3bee0ba4cc951847666109a9109dfb4c911e0fc7bca7e736cce526c0a4e37e320ec0850280d294db6a0efdf8b8c78f6d25e54b7293a9b600a935961259821fda616d4ad2d3e98d624d5940a434f49b19a6f9253d077fff2c767aa7289bee46f0b00a3894e7c2dc08ca484cafd3d471e633ecc6c3daa1506f346dae35087b20cf6a8ad0d10ff56f54b16c6edba9d79c4daec233072566e69430360aea6c1d9d774710ec7757357890d4cc27ec38b3025bc9d560b3554fa9a1a7d19586f4dcae032faeb379708cadbfa2239179609ad1abc09ee160a3a86edad4bdf5e3ee8b03ca65c81d4c3a85bd96a5aeadf788519cf742328c09fd36082e28ed8f0e66c0c876332835d9a5c1025ab5b5f8f29ccc06a873c3f",
            srp_b: "47eba9b87f6812a6dddb843d8382ed2c139b093a42167f24c617149a62b65face2dfce212469b6602b6fd989fd2efb3abef8929905274b4b3f82948a05bcba0aaba828160435a55a0926d748854b117cd889e98f123875d59d70be5d989ebf1425e6665789dbe8c2f6eb8bda38be156beb0d75586ebf07be312f468ccdd42de4928dd8b32b6119919646bd879d18a0cf69b48da6b77cad8732a31c45213ddf55d5abfdbec21e4bfc4b47dad76028ccf7b816905c85f89fb9fbcc2d8587a137f22f2a633a5fe88682d53de56a5c7569cdce9ccb290070029a1566c75cf97847ea8a4eeef358c5aa7099defcef2a7c0514bb931c22e50f86f2cc0429053c95ab2deb4193af2dd6595fd5f1f2ce8841c507eed58ab2dc14e9aa3371e38bd841d00232faf782ad76cf128aca2b09e67dc928be84082e79eb6c9e2941a56e326a164e426f9de63ef1cd0972cb953c2dad088a18220ce160516410ff815d33094483dd5711b53cb42ac0c53c686888c9b46f510917425265e6c8d026a2ca20c11a5d08",
            key: "20e4ccaad5f67d5e51e4eefdb65ae45c",
            secret_block: "iKTSsAL3EuUpKnSGHlnW7s1QDom/ySd3Ja9aOxsQEphFtJDF/J+EDMiC9cn2HMMI",
            timestamp: "Wed Dec 2 23:05:07 UTC 2026",
            signature: "topFIpszssY/BYZg4MVxJeToEFLnQ3n37X2PctBobKg=",
        },
        Vector {
            a: "28d6028a662be70617d8c83385d243be5adddc269dca73d0dda50863f4c324dc7649cb6baf34ec9a618870ef599f80c6ced9c18f68177cc39b801821113cd8d118d2375dab64d3ae7fadc99a7d41ecb58bfe84df60a690d9293292a335be60fe21dd205981297b28e45d5484b6427df4d4af99867e495dc7673079f71251d92a",
            b: "eb5b5964bb33fc20d3ae9c6e927d570e4c7262039669859576ce3a47e0c817c8",
            salt: "0a3b2c71e04d5a86b7c1d2e3f4a5b6c7",
            verifier: "4f8cbe79289c52a11f47be33ee4571b3ff13358e91826696c34b5f128f3576ed67e53a480641e21e9db7a37f887a70d25a6cc9aed2cab0790a794b802403364ce2b4975eb0914ed2aa36e817860349dfc9ed8f03d3f39c7976ff49779e00b1e65c8115eb389adb96da0d8a1ce6a19872db3da25da1955cee9e4c6f70a1be23881cbb16a34f24c7330a3732e8f9a0c955a19d330e28c32e63d94e4baebd228e929bd0275d50b4a3f7a351d9c6102310dcb0160c1d8be1b936689f56d08ba763abda11b0c8a67eaef77948d178de4f962621cbc11e5d56dc64d3269923b2de11b3914abfe5daeb4c341db55aa6b7343147443100a43d0c4a456d52547a80f6e1cfad656748d891d7a1c0e23e5db4ef59e81344ff50525e98433c06214b472787d79541c404eda040be5d1099f915f4946bda18e75ba24da005dd07e4dabbfdf03156ab4a8ca9b22b6aba54ff4105d94e90beaf4243447ed9f0df84ab1ed486db4716cd24c38040d1186d47b3523522bb465b16f9a294b726ba095c2426201e56c5",
            srp_a: "ebb8c2633fe43bbd692c7cff837f228a4c6b2167a7a83adad1e7f152fda72c6f5efa46e5cd9534e8df75274d62a249089b445e3548e24cb7bd13ae3195e5ace6366a894440a0067a3770e393356a5079a8c7a9d6b077c04fb082bc9ee4feb3b4db895f903fa63a76b030f0a6e63fe293738bed313439a98de5be4ef3c065cc010a6fd26058685ca904e74e3d8f46c62efba9cc5230fb46f541693c06469281b9b5aba2011447b18854daf919f208c56eafc4d453327559fd4b962b53c6081c090f4334c7e00e750c2722cd33733934800fba0c18995e9a2eacd83fb9ec24dbf7f6493417688f96c7244f9e79001f924f64c1615d545ce516d3a4016414fd9f6149b7b2d4a591e8b4066e2b9f17f2321fd2144c0180863aabff3ce84679bc062847702f83e856da003d3c7d82f5091c7a920051e40900f0ff9ca6a4540abcd9ca4e68cc9c98716aab0109be856a0a32cc97eb38d855aef55a5be1b5219ae4a956b3562fc90e2c0b2e5af6616716294e61338eb1afb4fe3badbcea7a3313ec2e17",
            srp_b: "e97f0d9fc445b51cd525e9999aeb6670d8ab0829cd23964c0281b056db9bfa592dc528fe4c542a08d312fe60139da25e0f02b711b45887b1f170fefbc41913bb9c027d670c0d379458e4cf33bb340bbb05abb2f6c83dab304b416ac8ae14d515f479d4441b881b3954706e4d3b127ac8760f4158bbbfbe59191039050cadfbe54e24e9ae356c684e6e07335175f9f256ba1f2845134383758777b75094f7cbc5e7bee5dcda111928c744905fd961e8ee9b3d4ca0c9ee37f93d9d1b30345c5f10fad1092f415cb42937f96a19a34f7dd715998efdc1d78818c69c35246adf9f21a6b330cb5007d0e20e64c1d0b8726138bed65b3a2dd31f488d8f928c647834d264f21b3fa44bca35b0b2a6eb44e90c1bb369a4f30da71a5c493ca57d127bfb1dfe349a2e57f25583c2dffc436084789b52d346f8aa176e9db67fd0886608911b886501c93dfef3fb34829c759a628a05ff4565026262c3d8e242c43408ccade83745a0621afbd0a96ac609679d1194c47942e0b92a95aa9956c454ebd4236ffd",
            key: "dc5faf3c085fa38b6efbc6ffb9eafbfd",
            secret_block: "kDeDPdKDngIT7YeQunxq0ZyP50O1Jg7zP0iQN6lt1WlgMYonnOSqMKKbMYHWkPTb",
            timestamp: "Thu Dec 24 09:08:07 UTC 2026",
            signature: "7Zdd6MKzfYZhNOcpQlSAk/E6m/QzaqeOvsNvuwA0qto=",
        },
    ];

    fn int(value: &str) -> BigUint {
        parse_hex(value).unwrap()
    }

    fn block(vector: &Vector) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(vector.secret_block).unwrap()
    }

    /// The server's verdict on a claim, with one input swapped.
    fn matches(vector: &Vector, verifier: &Verifier, secret_block: &[u8], timestamp: &str) -> bool {
        let b = hex::decode(vector.b).unwrap();
        password_claim_matches(
            pool_name(POOL_ID),
            USER_ID,
            verifier,
            &b,
            vector.srp_a,
            secret_block,
            timestamp,
            vector.signature,
        )
        .unwrap()
    }

    #[test]
    fn k_is_the_clients() {
        assert_eq!(pad_hex(&K), "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6");
    }

    #[test]
    fn known_answers_from_the_clients() {
        let pool = pool_name(POOL_ID);
        for vector in &VECTORS {
            let verifier = Verifier::with_salt(pool, USER_ID, PASSWORD, &int(vector.salt));
            assert_eq!(verifier, Verifier { salt: vector.salt.into(), verifier: vector.verifier.into() });
            assert_eq!(server_b(&int(vector.verifier), &int(vector.b)).to_str_radix(16), vector.srp_b);

            let b = hex::decode(vector.b).unwrap();
            assert_eq!(hex::encode(server_key(&verifier, &b, vector.srp_a).unwrap()), vector.key);

            let client = Client::with_secret(&hex::decode(vector.a).unwrap());
            assert_eq!(client.srp_a(), vector.srp_a);
            let key = client.session_key(pool, USER_ID, PASSWORD, vector.salt, vector.srp_b).unwrap();
            assert_eq!(hex::encode(key), vector.key);
            assert_eq!(client::signature(&key, pool, USER_ID, &block(vector), vector.timestamp), vector.signature);

            assert!(matches(vector, &verifier, &block(vector), vector.timestamp));
        }
    }

    #[test]
    fn known_answers_refuse_any_change() {
        let pool = pool_name(POOL_ID);
        for vector in &VECTORS {
            let verifier = Verifier { salt: vector.salt.into(), verifier: vector.verifier.into() };
            let other_password = Verifier::with_salt(pool, USER_ID, "Pässw0rd!Corr3cT", &int(vector.salt));
            assert!(!matches(vector, &other_password, &block(vector), vector.timestamp));
            let other_salt = Verifier::with_salt(pool, USER_ID, PASSWORD, &(int(vector.salt) + 1u32));
            assert!(!matches(vector, &other_salt, &block(vector), vector.timestamp));

            let later = vector.timestamp.replace(":07 UTC", ":08 UTC");
            assert_ne!(later, vector.timestamp);
            assert!(!matches(vector, &verifier, &block(vector), &later));

            let mut other_block = block(vector);
            other_block[0] ^= 1;
            assert!(!matches(vector, &verifier, &other_block, vector.timestamp));
            assert!(!matches(vector, &verifier, &block(vector)[1..], vector.timestamp));

            let b = hex::decode(vector.b).unwrap();
            let claim = |user_id: &str, pool: &str, srp_a: &str| {
                password_claim_matches(
                    pool,
                    user_id,
                    &verifier,
                    &b,
                    srp_a,
                    &block(vector),
                    vector.timestamp,
                    vector.signature,
                )
            };
            assert_eq!(claim("someone-else", pool, vector.srp_a), Ok(false));
            assert_eq!(claim(USER_ID, "AbC123xyZ", vector.srp_a), Ok(false));
            let other_a = Client::new().srp_a();
            assert_eq!(claim(USER_ID, pool, &other_a), Ok(false));
            // The same A in capitals or with leading zeros is the same A.
            assert_eq!(claim(USER_ID, pool, &vector.srp_a.to_uppercase()), Ok(true));
            assert_eq!(claim(USER_ID, pool, &format!("000{}", vector.srp_a)), Ok(true));
        }
    }

    #[test]
    fn the_signature_covers_the_timestamp_as_sent() {
        let vector = &VECTORS[0];
        let verifier = Verifier { salt: vector.salt.into(), verifier: vector.verifier.into() };
        let padded_day = "Wed Dec 02 23:05:07 UTC 2026";
        assert_eq!(parse_timestamp(padded_day), parse_timestamp(vector.timestamp));
        assert!(!matches(vector, &verifier, &block(vector), padded_day));
    }

    #[test]
    fn pad_hex_reads_as_positive_and_whole_bytes() {
        for (value, padded) in [
            (0u64, "00"),
            (1, "01"),
            (0x7f, "7f"),
            (0x80, "0080"),
            (0xff, "00ff"),
            (0xabc, "0abc"),
            (0x1234, "1234"),
            (0x8abc, "008abc"),
            (0xf_ffff, "0fffff"),
        ] {
            assert_eq!(pad_hex(&BigUint::from(value)), padded, "{value:#x}");
        }
        assert!(pad_hex(&N).starts_with("00ffffffffffffffffc90f"));
        assert_eq!(pad_hex(&N).len(), 770);
    }

    #[test]
    fn a_that_is_0_mod_n_or_not_hex_is_refused() {
        let n = N.to_str_radix(16);
        let two_n = (&*N * 2u32).to_str_radix(16);
        let huge = "f".repeat(100_000);
        for srp_a in ["0", "000", n.as_str(), &n.to_uppercase(), &two_n, &format!("00{n}")] {
            assert_eq!(check_srp_a(srp_a), Err(SrpError::InvalidA), "{srp_a}");
        }
        for srp_a in ["", " ", "xyz", "0x12", "+12", "-12", "1_2", " 12", "12 ", "é", "12\n", "\0", &huge] {
            assert_eq!(check_srp_a(srp_a), Err(SrpError::InvalidA), "{srp_a:?}");
        }
        assert_eq!(check_srp_a("1"), Ok(()));
        assert_eq!(check_srp_a(&(&*N + 1u32).to_str_radix(16)), Ok(()));

        let vector = &VECTORS[0];
        let verifier = Verifier { salt: vector.salt.into(), verifier: vector.verifier.into() };
        let b = hex::decode(vector.b).unwrap();
        let claim = |verifier: &Verifier, b: &[u8], srp_a: &str, signature: &str| {
            password_claim_matches(pool_name(POOL_ID), USER_ID, verifier, b, srp_a, b"", vector.timestamp, signature)
        };
        assert_eq!(claim(&verifier, &b, &n, vector.signature), Err(SrpError::InvalidA));
        assert_eq!(claim(&verifier, &b, "zz", vector.signature), Err(SrpError::InvalidA));
        assert_eq!(claim(&verifier, &b, vector.srp_a, "not base64!"), Err(SrpError::InvalidSignature));
        assert_eq!(claim(&verifier, &b, vector.srp_a, ""), Ok(false));
        assert_eq!(claim(&verifier, &b, vector.srp_a, "AAAA"), Ok(false));
        assert_eq!(claim(&verifier, &[], vector.srp_a, vector.signature), Err(SrpError::InvalidSecret));
        let broken = Verifier { salt: vector.salt.into(), verifier: "not hex".into() };
        assert_eq!(claim(&broken, &b, vector.srp_a, vector.signature), Err(SrpError::InvalidVerifier));
        assert_eq!(challenge(&broken).unwrap_err(), SrpError::InvalidVerifier);

        let client = Client::new();
        assert_eq!(client.session_key("p", "u", "pw", vector.salt, "0").unwrap_err(), SrpError::InvalidB);
        assert_eq!(client.session_key("p", "u", "pw", vector.salt, &n).unwrap_err(), SrpError::InvalidB);
        assert_eq!(client.session_key("p", "u", "pw", vector.salt, "q").unwrap_err(), SrpError::InvalidB);
    }

    #[test]
    fn timestamps_are_cognitos_form() {
        let single = Utc.with_ymd_and_hms(2026, 12, 2, 23, 5, 7).unwrap();
        let double = Utc.with_ymd_and_hms(2026, 12, 24, 9, 8, 7).unwrap();
        assert_eq!(timestamp(single), "Wed Dec 2 23:05:07 UTC 2026");
        assert_eq!(timestamp(double), "Thu Dec 24 09:08:07 UTC 2026");
        assert_eq!(timestamp(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()), "Fri Jan 1 00:00:00 UTC 2027");

        assert_eq!(parse_timestamp("Wed Dec 2 23:05:07 UTC 2026"), Some(single));
        assert_eq!(parse_timestamp("Wed Dec 02 23:05:07 UTC 2026"), Some(single));
        assert_eq!(parse_timestamp("Thu Dec 24 09:08:07 UTC 2026"), Some(double));
        for malformed in [
            "",
            "Thu Dec 2 23:05:07 UTC 2026",
            "Wed Dec 2 23:05:07 GMT 2026",
            "Wed Dec  2 23:05:07 UTC 2026",
            "Wed Dec 2 23:05:07 UTC 2026 ",
            "Wed Dec 002 23:05:07 UTC 2026",
            "Wed Dec 2 23:5:07 UTC 2026",
            "Wed Dec 2 23:05:07:00 UTC 2026",
            "Wed Dec 2 24:05:07 UTC 2026",
            "Wed Dec 2 +3:05:07 UTC 2026",
            "Wed dec 2 23:05:07 UTC 2026",
            "Wednesday Dec 2 23:05:07 UTC 2026",
            "Tue Feb 30 23:05:07 UTC 2027",
            "Wed Dec 2 23:05:07 UTC 26",
            "Wed Dec 2 23:05:07 UTC",
        ] {
            assert_eq!(parse_timestamp(malformed), None, "{malformed:?}");
        }

        let mut at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        while at.year() < 2029 {
            assert_eq!(parse_timestamp(&timestamp(at)), Some(at), "{at}");
            at += TimeDelta::seconds(86_400 * 3 + 3_723);
        }

        assert!(timestamp_is_fresh("Wed Dec 2 23:05:07 UTC 2026", single + TimeDelta::minutes(5)));
        assert!(timestamp_is_fresh("Wed Dec 02 23:05:07 UTC 2026", single - TimeDelta::minutes(4)));
        assert!(!timestamp_is_fresh("Wed Dec 2 23:05:07 UTC 2026", single + TimeDelta::seconds(301)));
        assert!(!timestamp_is_fresh("Wed Dec 2 23:05:07 UTC 2026", single - TimeDelta::minutes(6)));
        assert!(!timestamp_is_fresh("garbage", single));
    }

    #[test]
    fn pool_name_is_the_part_after_the_region() {
        assert_eq!(pool_name("us-east-1_AbC123xyz"), "AbC123xyz");
        assert_eq!(pool_name("eu-west-2_x"), "x");
        assert_eq!(pool_name("local_a_b"), "a");
        assert_eq!(pool_name("nounderscore"), "");
    }

    #[test]
    fn a_sign_in_round_trip() {
        let pool = pool_name("us-east-1_RoundTrip1");
        let user_id = uuid::Uuid::new_v4().to_string();
        let verifier = Verifier::new(pool, &user_id, "hunter2 is a fine password");
        assert_eq!(verifier.salt.len() % 2, 0);
        assert_ne!(verifier, Verifier::new(pool, &user_id, "hunter2 is a fine password"));
        let secret_block: [u8; 64] = rand::random();
        let now = Utc::now();

        let challenge = challenge(&verifier).unwrap();
        assert_eq!(challenge.secret_b.len(), SECRET_B_LEN);
        assert!(!format!("{challenge:?}").contains(&hex::encode(&challenge.secret_b)));
        for password in ["hunter2 is a fine password", "hunter2 is a fine passwore"] {
            let client = Client::new();
            check_srp_a(&client.srp_a()).unwrap();
            let key = client.session_key(pool, &user_id, password, &verifier.salt, &challenge.srp_b).unwrap();
            let stamp = timestamp(now);
            assert!(timestamp_is_fresh(&stamp, now));
            let signature = client::signature(&key, pool, &user_id, &secret_block, &stamp);
            let verdict = password_claim_matches(
                pool,
                &user_id,
                &verifier,
                &challenge.secret_b,
                &client.srp_a(),
                &secret_block,
                &stamp,
                &signature,
            );
            assert_eq!(verdict, Ok(password == "hunter2 is a fine password"), "{password}");
        }
    }
}
