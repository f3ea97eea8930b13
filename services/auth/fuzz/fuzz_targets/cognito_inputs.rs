//! Any bytes where a client controls them before any store is read: a
//! request body's members, a ListUsers filter, SRP's `SRP_A`, `TIMESTAMP`
//! and signature, a sealed session or secret block, a token's payload, a
//! password against the strictest policy, and what the OAuth endpoints
//! read (form and query parameters, cookies, `Host`, Basic and Bearer
//! credentials, scopes, PKCE, redirect URIs). Each is read or refused,
//! never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_auth::{
    api::Input,
    filter::Filter,
    model::PasswordPolicy,
    oidc::{authorize, request, scopes},
    passwords,
    seal::Sealer,
    srp, tokens,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(serde_json::Value::Object(members)) = serde_json::from_slice(data) {
        let input = Input(members);
        let _ = input.attributes("UserAttributes");
        let _ = input.string_map("AuthParameters");
        let _ = input.limit("Limit", 60, 60);
        let _ = input.required_nonempty("Username");
        let _ = input.object("Policies").map(|policies| policies.map(|p| p.bool("RequireSymbols")));
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(filter) = Filter::parse(text) {
        let _ = format!("{filter:?}");
    }
    let _ = srp::parse_timestamp(text);
    // The claim's modular arithmetic runs only for a well-formed SRP_A, so
    // most runs spend their time in the parsers.
    if srp::check_srp_a(text).is_ok() {
        static VERIFIER: std::sync::OnceLock<srp::Verifier> = std::sync::OnceLock::new();
        let verifier = VERIFIER.get_or_init(|| srp::Verifier::new("fuzzpool", "fuzzer", "Fuzz-Password-1"));
        let _ = srp::password_claim_matches("fuzzpool", "fuzzer", verifier, &[7; 32], text, data, text, text);
    }
    let sealer = Sealer::new("fuzz-cluster-secret");
    let _ = sealer.open::<serde_json::Value>("session", text);
    let _ = tokens::unverified_claims(text);
    let _ = passwords::check_policy(&PasswordPolicy { minimum_length: 99, ..PasswordPolicy::default() }, text);
    if let Ok(params) = request::Params::parse(data) {
        let _ = params.required("redirect_uri");
        let _ = params.iter().count();
    }
    let _ = request::cookies(text, "cognito");
    let _ = request::domain_of_host(text);
    let _ = request::basic_credentials(text);
    let _ = request::bearer(text);
    let _ = scopes::parse(text);
    let _ = scopes::for_client(Some(text), &["api/read".to_owned()], &["api/read".to_owned()]);
    let _ = authorize::pkce(Some(text), Some("S256"));
    let _ = authorize::is_registered(text, &["http://localhost/callback".to_owned()]);
});
