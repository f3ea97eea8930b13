//! What the hosted UI keeps in the browser, all of it sealed (see `seal`)
//! so no replica needs a store to read it back:
//! - `cognito`, the domain's session: who signed in and when. Cognito
//!   keeps its hosted UI session for an hour, so a second
//!   `/oauth2/authorize` within it skips the form; `/logout` clears it.
//! - `XSRF-TOKEN`, a random value, and each form's sealed `_form` field,
//!   which names that value, the authorization request and the step the
//!   form answers. A form is accepted only from the browser it was given
//!   to (the double-submit check) and only for the request it was made
//!   for; forging one needs the sealing key.
//!
//! Cookies are `HttpOnly`, `SameSite=Lax` (the IdP's and the app's
//! redirects back are top-level GETs, which Lax lets through), scoped to
//! the site's path, and `Secure` over HTTPS.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use super::{Site, authorize::AuthRequest, request};
use crate::{
    Cognito,
    model::{User, UserStatus},
};

pub const SESSION_COOKIE: &str = "cognito";
pub const XSRF_COOKIE: &str = "XSRF-TOKEN";
/// The browser an external sign-in started in (see `federation`).
pub const IDP_COOKIE: &str = "cognito-idp";

const SESSION_PURPOSE: &str = "hosted-session";
const FORM_PURPOSE: &str = "hosted-form";
/// Cognito's hosted UI session lasts an hour.
pub const SESSION_SECONDS: i64 = 3600;
/// How long a login or sign-up page may stay open before it is submitted.
pub const PAGE_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionClaim {
    pool_id: String,
    username: String,
    sub: String,
    auth_time: i64,
}

/// The step a form answers. The steps past the password carry the user
/// that passed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Login,
    Signup,
    Confirm { username: String, destination: Option<String> },
    NewPassword { username: String },
    Mfa { username: String },
}

/// A form's sealed state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FormState {
    pub pool_id: String,
    pub csrf: String,
    pub request: AuthRequest,
    pub step: Step,
}

/// A fresh random value for a cookie.
pub fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A `Set-Cookie` value; `max_age` 0 removes the cookie.
pub fn set_cookie(site: &Site, name: &str, value: &str, max_age: i64) -> String {
    let secure = if site.secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}", site.cookie_path())
}

pub fn clear_cookie(site: &Site, name: &str) -> String {
    set_cookie(site, name, "", 0)
}

/// Every value the request carries for cookie `name`.
pub fn cookie_values(request: &actix_web::HttpRequest, name: &str) -> Vec<String> {
    request
        .headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| request::cookies(header, name).into_iter().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// A cookie value of the form `random_value` makes.
fn is_random_value(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The browser's CSRF value, and the cookie to set when it had none.
pub fn csrf_of(site: &Site, request: &actix_web::HttpRequest) -> (String, Option<String>) {
    match cookie_values(request, XSRF_COOKIE).into_iter().find(|value| is_random_value(value)) {
        Some(value) => (value, None),
        None => {
            let value = random_value();
            let cookie = set_cookie(site, XSRF_COOKIE, &value, PAGE_SECONDS * 24);
            (value, Some(cookie))
        }
    }
}

/// Whether any of `cookies` is `expected`, compared in constant time.
pub fn presented(cookies: &[String], expected: &str) -> bool {
    cookies.iter().fold(false, |found, value| {
        found | bool::from(subtle::ConstantTimeEq::ct_eq(value.as_bytes(), expected.as_bytes()))
    })
}

impl Cognito {
    /// The session cookie for `user`, signed in at `auth_time`.
    pub(crate) fn session_cookie(&self, site: &Site, user: &User, auth_time: i64) -> String {
        let claim = SessionClaim {
            pool_id: site.pool.id.clone(),
            username: user.username.clone(),
            sub: user.sub.clone(),
            auth_time,
        };
        set_cookie(site, SESSION_COOKIE, &self.sealer.seal(SESSION_PURPOSE, SESSION_SECONDS, &claim), SESSION_SECONDS)
    }

    /// The user the request's session cookie signs in, and when they
    /// signed in, if the session still holds: the same user (not deleted
    /// and made again), enabled, with nothing left to do, not signed out
    /// everywhere since.
    pub(crate) async fn session_user(&self, site: &Site, request: &actix_web::HttpRequest) -> Option<(User, i64)> {
        for value in cookie_values(request, SESSION_COOKIE) {
            let Some(claim) = self.sealer.open::<SessionClaim>(SESSION_PURPOSE, &value) else { continue };
            if claim.pool_id != site.pool.id {
                continue;
            }
            let Ok(Some(found)) = self.find_user(&site.pool, &claim.username).await else { continue };
            let user = found.value;
            let usable = matches!(user.status, UserStatus::Confirmed | UserStatus::ExternalProvider);
            if user.sub == claim.sub && user.enabled && usable && user.tokens_valid_after <= claim.auth_time as f64 {
                return Some((user, claim.auth_time));
            }
        }
        None
    }

    pub(crate) fn seal_form(&self, state: &FormState, seconds: i64) -> String {
        self.sealer.seal(FORM_PURPOSE, seconds, state)
    }

    /// A submitted form's state, if it is one this site made for this
    /// browser and is still good.
    pub(crate) fn open_form(&self, site: &Site, request: &actix_web::HttpRequest, sealed: &str) -> Option<FormState> {
        let state = self.sealer.open::<FormState>(FORM_PURPOSE, sealed)?;
        let cookies = cookie_values(request, XSRF_COOKIE);
        (state.pool_id == site.pool.id && presented(&cookies, &state.csrf)).then_some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_values_are_compared_whole() {
        let value = random_value();
        assert!(is_random_value(&value));
        assert!(presented(&["other".into(), value.clone()], &value));
        assert!(!presented(&[value[..42].to_owned()], &value));
        assert!(!presented(&[], &value));
        assert!(!is_random_value("short"));
    }
}
