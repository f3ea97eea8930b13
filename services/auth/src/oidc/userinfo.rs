//! `/oauth2/userInfo` (OIDC Core §5.3) in Cognito's shape: the user's
//! attributes as strings (`"email_verified": "true"`) and `username`, for
//! an access token of the token endpoint with the `openid` scope. The
//! other scopes narrow what is shown, as Cognito documents: `openid`
//! alone shows every attribute the client may read; `profile`, `email`
//! and `phone` show their attributes on top of `sub` and `username`.
//! Refusals follow RFC 6750 §3. A browser app may call it from any origin.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use serde_json::{Map, Value, json};

use super::{Site, request, scopes::OPENID};
use crate::{Cognito, model::User};

const PROFILE: [&str; 14] = [
    "name",
    "family_name",
    "given_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
];

/// The attributes a token with `scopes` shows, of those the client reads
/// (`readable`; empty: all).
pub fn claims(user: &User, readable: &[String], scopes: &[String]) -> Map<String, Value> {
    claims_of(&user.attributes, &user.username, readable, scopes)
}

fn claims_of(
    attributes: &BTreeMap<String, String>,
    username: &str,
    readable: &[String],
    scopes: &[String],
) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let narrowed = has("profile") || has("email") || has("phone");
    let shown = |name: &str| {
        if name == "sub" {
            return true;
        }
        if !readable.is_empty() && !readable.iter().any(|r| r == name) {
            return false;
        }
        !narrowed
            || (has("profile") && (PROFILE.contains(&name) || name.starts_with("custom:")))
            || (has("email") && matches!(name, "email" | "email_verified"))
            || (has("phone") && matches!(name, "phone_number" | "phone_number_verified"))
    };
    let mut claims: Map<String, Value> = attributes
        .iter()
        .filter(|(name, _)| shown(name))
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    claims.insert("username".into(), json!(username));
    claims
}

fn refused(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    let challenge = if error.is_empty() {
        "Bearer".to_owned()
    } else {
        format!("Bearer error=\"{error}\", error_description=\"{description}\"")
    };
    let error = if error.is_empty() { "invalid_request" } else { error };
    HttpResponse::build(status)
        .insert_header(("www-authenticate", challenge))
        .insert_header(("cache-control", "no-store"))
        .insert_header(("access-control-allow-origin", "*"))
        .json(json!({ "error": error, "error_description": description }))
}

/// `GET` or `POST /oauth2/userInfo` with `Authorization: Bearer`.
pub async fn user_info(cognito: &Cognito, site: &Site, request: &HttpRequest) -> HttpResponse {
    let header = request.headers().get("authorization").and_then(|value| value.to_str().ok());
    let Some(token) = header.and_then(request::bearer) else {
        // RFC 6750 §3.1: no credentials, no error code.
        return refused(StatusCode::UNAUTHORIZED, "", "an access token is required");
    };
    // Cognito's wording for every token it will not honour.
    let invalid = || {
        refused(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Access token is expired, disabled, or deleted, or the user has globally signed out.",
        )
    };
    let Ok(token) = cognito.tokens.verify_access(token).await else { return invalid() };
    if token.pool_id != site.pool.id {
        return invalid();
    }
    if !token.scopes.iter().any(|scope| scope == OPENID) {
        return refused(StatusCode::FORBIDDEN, "insufficient_scope", "the access token lacks the openid scope");
    }
    // Revoked, signed out, disabled or gone, as every other check of an
    // access token decides it.
    let Ok((_, Some(user))) = cognito.live_access(&token).await else { return invalid() };
    let Ok(client) = cognito.client(&token.client_id).await else { return invalid() };
    HttpResponse::Ok().insert_header(("cache-control", "no-store")).json(Value::Object(claims(
        &user,
        &client.read_attributes,
        &token.scopes,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes() -> BTreeMap<String, String> {
        [
            ("sub", "s-1"),
            ("email", "a@example.com"),
            ("email_verified", "true"),
            ("phone_number", "+15555550100"),
            ("given_name", "Alice"),
            ("custom:team", "blue"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn names(claims: &Map<String, Value>) -> Vec<&str> {
        claims.keys().map(String::as_str).collect()
    }

    #[test]
    fn scopes_choose_the_attributes_shown() {
        let all = claims_of(&attributes(), "alice", &[], &["openid".into()]);
        assert_eq!(
            names(&all),
            ["custom:team", "email", "email_verified", "given_name", "phone_number", "sub", "username"]
        );
        assert_eq!(all["email_verified"], json!("true"));
        assert_eq!(all["username"], json!("alice"));
        let email = claims_of(&attributes(), "alice", &[], &["openid".into(), "email".into()]);
        assert_eq!(names(&email), ["email", "email_verified", "sub", "username"]);
        let profile = claims_of(&attributes(), "alice", &[], &["openid".into(), "profile".into()]);
        assert_eq!(names(&profile), ["custom:team", "given_name", "sub", "username"]);
        let phone = claims_of(&attributes(), "alice", &[], &["openid".into(), "phone".into()]);
        assert_eq!(names(&phone), ["phone_number", "sub", "username"]);
    }

    #[test]
    fn a_client_sees_only_what_it_reads() {
        let readable = vec!["email".to_owned()];
        let shown = claims_of(&attributes(), "alice", &readable, &["openid".into()]);
        assert_eq!(names(&shown), ["email", "sub", "username"]);
    }
}
