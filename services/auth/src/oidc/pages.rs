//! The hosted UI's HTML: plain forms that work without JavaScript, every
//! value escaped, served with headers that keep them out of frames and
//! caches.

use actix_web::{HttpResponse, http::StatusCode};
use quick_xml::escape::escape;

/// A form's target and its sealed state.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub token: String,
}

/// One input of a form.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub kind: &'static str,
    pub autocomplete: &'static str,
}

impl Field {
    pub fn new(name: &str, label: &str, kind: &'static str, autocomplete: &'static str) -> Self {
        Self { name: name.to_owned(), label: label.to_owned(), kind, autocomplete }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}\
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}\
button,.idp{display:block;width:100%;margin-top:1.2rem;padding:.6rem;font-size:1rem;text-align:center;box-sizing:border-box}\
.idp{border:1px solid #555;color:#111;text-decoration:none;border-radius:.2rem}\
.error{color:#a00;background:#fee;padding:.5rem;border-radius:.2rem}.note{color:#555}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

fn error_block(error: Option<&str>) -> String {
    error.map(|message| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(message))).unwrap_or_default()
}

fn form(form: &Form, fields: &[Field], submit: &str) -> String {
    let mut html = format!("<form method=\"post\" action=\"{}\">", escape(&form.action));
    html.push_str(&format!("<input type=\"hidden\" name=\"_form\" value=\"{}\">", escape(&form.token)));
    for field in fields {
        html.push_str(&format!(
            "<label for=\"{name}\">{label}</label><input id=\"{name}\" name=\"{name}\" type=\"{kind}\" autocomplete=\"{auto}\" required>",
            name = escape(&field.name),
            label = escape(&field.label),
            kind = field.kind,
            auto = field.autocomplete,
        ));
    }
    html.push_str(&format!("<button type=\"submit\">{}</button></form>", escape(submit)));
    html
}

/// The sign-in page: the local form when the client allows the pool's own
/// users, a link per external identity provider, a sign-up link.
pub fn login(
    heading: &str,
    local: Option<&Form>,
    error: Option<&str>,
    providers: &[(String, String)],
    signup: Option<&str>,
) -> String {
    let mut body = format!("<h1>{}</h1>{}", escape(heading), error_block(error));
    for (name, href) in providers {
        body.push_str(&format!(
            "<a class=\"idp\" href=\"{}\">Sign in with {}</a>",
            escape(href),
            escape(name.as_str())
        ));
    }
    if let Some(local) = local {
        if !providers.is_empty() {
            body.push_str("<p class=\"note\">or</p>");
        }
        let fields = [
            Field::new("username", "Username", "text", "username"),
            Field::new("password", "Password", "password", "current-password"),
        ];
        body.push_str(&form(local, &fields, "Sign in"));
        if let Some(signup) = signup {
            body.push_str(&format!(
                "<p class=\"note\">Need an account? <a href=\"{}\">Sign up</a></p>",
                escape(signup)
            ));
        }
    } else if providers.is_empty() {
        body.push_str("<p class=\"error\">This app has no sign-in option enabled.</p>");
    }
    layout("Sign in", &body)
}

pub fn signup(heading: &str, target: &Form, error: Option<&str>, fields: &[Field], login: &str) -> String {
    let body = format!(
        "<h1>{}</h1>{}{}<p class=\"note\">Already have an account? <a href=\"{}\">Sign in</a></p>",
        escape(heading),
        error_block(error),
        form(target, fields, "Sign up"),
        escape(login),
    );
    layout("Sign up", &body)
}

pub fn confirm(target: &Form, error: Option<&str>, destination: Option<&str>) -> String {
    let sent = match destination {
        Some(destination) => format!("We have sent a code to {}.", escape(destination)),
        None => "We have sent you a code.".to_owned(),
    };
    let fields = [Field::new("code", "Verification code", "text", "one-time-code")];
    let body = format!(
        "<h1>Confirm your account</h1>{}<p class=\"note\">{sent} Enter it below to confirm your account.</p>{}",
        error_block(error),
        form(target, &fields, "Confirm account"),
    );
    layout("Confirm your account", &body)
}

pub fn new_password(target: &Form, error: Option<&str>, missing: &[String]) -> String {
    let mut fields = vec![Field::new("password", "New password", "password", "new-password")];
    fields.extend(missing.iter().map(|name| Field::new(&format!("userAttributes.{name}"), name, "text", "on")));
    let body = format!(
        "<h1>Change your password</h1>{}<p class=\"note\">Please enter a new password to continue.</p>{}",
        error_block(error),
        form(target, &fields, "Send"),
    );
    layout("Change your password", &body)
}

pub fn mfa(target: &Form, error: Option<&str>) -> String {
    let fields = [Field::new("code", "Code from your authenticator app", "text", "one-time-code")];
    let body = format!("<h1>Two-step verification</h1>{}{}", error_block(error), form(target, &fields, "Sign in"));
    layout("Two-step verification", &body)
}

/// Sends `body` with the headers every hosted page gets.
pub fn html(status: StatusCode, body: String, cookies: &[String]) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header((
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ));
    for cookie in cookies {
        response.append_header(("set-cookie", cookie.as_str()));
    }
    response.body(body)
}

/// Cognito's error page: a generic sentence and the error's code.
pub fn error(status: StatusCode, code: &str, description: &str) -> HttpResponse {
    let body = format!(
        "<h1>An error was encountered with the requested page.</h1><p class=\"error\">{}</p><p class=\"note\">{}</p>",
        escape(code),
        escape(description)
    );
    html(status, layout("Error", &body), &[])
}

pub fn not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "not_found", "This page does not exist.")
}

/// A `302 Found` to `location`, setting `cookies`.
pub fn redirect(location: &str, cookies: &[String]) -> HttpResponse {
    let mut response = HttpResponse::Found();
    response.insert_header(("location", location)).insert_header(("cache-control", "no-store"));
    for cookie in cookies {
        response.append_header(("set-cookie", cookie.as_str()));
    }
    response.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let target = Form { action: "/login?a=\"b\"".into(), token: "t<k>".into() };
        let page = login("<script>", Some(&target), Some("bad & worse"), &[("X\"Y".into(), "/a?b&c".into())], None);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("value=\"t&lt;k&gt;\""));
        assert!(page.contains("bad &amp; worse"));
        assert!(page.contains("Sign in with X&quot;Y"));
        assert!(page.contains("href=\"/a?b&amp;c\""));
    }
}
