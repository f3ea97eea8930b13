//! The hosted UI: `/oauth2/authorize` and the pages a sign-in goes
//! through, signing in by the same rules as the API (`password_sign_in`:
//! lockout, disabled users, unconfirmed users, PreventUserExistenceErrors)
//! and taking the steps those rules lead to: a new password for a
//! `FORCE_CHANGE_PASSWORD` user, a TOTP code when MFA asks for one.
//! Sign-up goes through SignUp and ConfirmSignUp, its code through the
//! pool's sender.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode};
use serde_json::{Value, json};

use super::{
    Endpoint, Outbound, Site,
    authorize::{AuthRequest, COGNITO, Refusal, client_redirect, is_registered},
    pages::{self, Field, Form},
    request::{ParamError, Params},
    session::{self, FormState, PAGE_SECONDS, Step},
};
use crate::{
    Cognito,
    api::{
        Input,
        flows::{SecondFactor, secret_hash},
    },
    error::CognitoError,
    model::{AppClient, User, UserStatus},
    passwords,
    triggers::{Event, user_attributes},
};

/// One request to the hosted UI.
pub struct Hosted<'a> {
    pub cognito: &'a Cognito,
    pub outbound: &'a Outbound,
    pub site: &'a Site,
    pub request: &'a HttpRequest,
}

fn internal(error: &CognitoError) -> HttpResponse {
    tracing::warn!(error = %error, "a hosted UI request failed");
    pages::error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "An internal error occurred, try again.")
}

fn is_internal(error: &CognitoError) -> bool {
    error.code == "InternalErrorException"
}

fn bad_form(error: &ParamError) -> HttpResponse {
    pages::error(StatusCode::BAD_REQUEST, "invalid_request", &error.0)
}

fn stale_form() -> HttpResponse {
    pages::error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "This form has expired or was not opened in this browser. Start the sign-in again from the app.",
    )
}

fn allows_local(client: &AppClient) -> bool {
    client.identity_providers.iter().any(|provider| provider == COGNITO)
}

impl Hosted<'_> {
    /// Answers a refused authorization request: the error page, or the
    /// client's redirect URI with RFC 6749's `error`.
    pub fn refusal(&self, refusal: Refusal) -> HttpResponse {
        match refusal {
            Refusal::Page { error, description } => pages::error(StatusCode::BAD_REQUEST, error, &description),
            Refusal::Client { request, error, description } => {
                let mut pairs = vec![("error", error), ("error_description", description.as_str())];
                pairs.extend(request.state.as_deref().map(|state| ("state", state)));
                pages::redirect(&client_redirect(&request.redirect_uri, request.response_type, &pairs), &[])
            }
            Refusal::Internal(error) => internal(&error),
        }
    }

    async fn checked_request(
        &self,
        query: Result<Params, ParamError>,
    ) -> Result<(AppClient, AuthRequest), HttpResponse> {
        let params = query.map_err(|error| bad_form(&error))?;
        self.cognito.authorization_request(self.site, &params).await.map_err(|refusal| self.refusal(refusal))
    }

    /// `GET /oauth2/authorize`: straight to an identity provider when one
    /// is named, back to the app at once when the domain's session holds
    /// (unless `prompt=login`), else to the login page with the same
    /// parameters, as Cognito does.
    pub async fn authorize(&self, query: Result<Params, ParamError>) -> HttpResponse {
        let (client, request) = match self.checked_request(query).await {
            Ok(checked) => checked,
            Err(response) => return response,
        };
        if let Some(provider) = request.identity_provider.as_deref().filter(|p| *p != COGNITO) {
            return self.cognito.start_federation(self.outbound, self.site, self.request, &request, provider).await;
        }
        if request.prompt.as_deref() != Some("login")
            && let Some((user, auth_time)) = self.cognito.session_user(self.site, self.request).await
        {
            return match self.cognito.complete_authorization(self.site, &client, &request, &user, auth_time).await {
                Ok(location) => pages::redirect(&location, &[]),
                Err(error) => internal(&error),
            };
        }
        if request.prompt.as_deref() == Some("none") {
            return self.refusal(Refusal::to_client(&request, "login_required", "the user is not signed in"));
        }
        let location = format!("{}?{}", self.site.path(Endpoint::Login), self.request.query_string());
        pages::redirect(&location, &[])
    }

    /// A form of `step` for `request`, sealed for this browser, and the
    /// CSRF cookie to set when the browser had none.
    fn form(&self, request: &AuthRequest, step: Step, action: Endpoint, seconds: i64) -> (Form, Vec<String>) {
        let (csrf, cookie) = session::csrf_of(self.site, self.request);
        let state = FormState { pool_id: self.site.pool.id.clone(), csrf, request: request.clone(), step };
        let form = Form { action: self.site.path(action), token: self.cognito.seal_form(&state, seconds) };
        (form, cookie.into_iter().collect())
    }

    fn step_seconds(client: &AppClient) -> i64 {
        i64::from(client.auth_session_minutes.max(3)) * 60
    }

    fn render_login(
        &self,
        client: &AppClient,
        request: &AuthRequest,
        error: Option<&str>,
        status: StatusCode,
    ) -> HttpResponse {
        let (form, cookies) = self.form(request, Step::Login, Endpoint::Login, PAGE_SECONDS);
        let providers: Vec<(String, String)> = client
            .identity_providers
            .iter()
            .filter(|provider| *provider != COGNITO)
            .map(|provider| {
                let href = format!("{}?{}", self.site.path(Endpoint::Authorize), request.query_with_provider(provider));
                (provider.clone(), href)
            })
            .collect();
        let signup = (!self.site.pool.admin_create_user_only)
            .then(|| format!("{}?{}", self.site.path(Endpoint::Signup), request.query()));
        let local = allows_local(client).then_some(&form);
        let page = pages::login(&format!("Sign in to {}", client.name), local, error, &providers, signup.as_deref());
        pages::html(status, page, &cookies)
    }

    /// `GET /login`.
    pub async fn login_page(&self, query: Result<Params, ParamError>) -> HttpResponse {
        match self.checked_request(query).await {
            Ok((client, request)) => self.render_login(&client, &request, None, StatusCode::OK),
            Err(response) => response,
        }
    }

    /// A submitted form: its fields, its state (made for this browser and
    /// this site, answering `step`), and its client as it is now.
    async fn submitted(
        &self,
        form: Result<Params, ParamError>,
        step: fn(&Step) -> bool,
    ) -> Result<(Params, FormState, AppClient), HttpResponse> {
        let params = form.map_err(|error| bad_form(&error))?;
        let sealed = params.get("_form").ok_or_else(stale_form)?;
        let state = self.cognito.open_form(self.site, self.request, sealed).ok_or_else(stale_form)?;
        if !step(&state.step) {
            return Err(stale_form());
        }
        let client = match self.cognito.client_of(&self.site.pool.id, &state.request.client_id).await {
            Ok(client) => client,
            Err(error) if is_internal(&error) => return Err(internal(&error)),
            Err(error) => return Err(pages::error(StatusCode::BAD_REQUEST, "invalid_request", &error.message)),
        };
        // The client may have changed since the form was made.
        if !is_registered(&state.request.redirect_uri, &client.callback_urls) {
            return Err(pages::error(
                StatusCode::BAD_REQUEST,
                "redirect_mismatch",
                "redirect_uri is no longer one of the client's callback URLs.",
            ));
        }
        Ok((params, state, client))
    }

    /// `POST /login`: the username and password.
    pub async fn login(&self, form: Result<Params, ParamError>) -> HttpResponse {
        let (params, state, client) = match self.submitted(form, |step| *step == Step::Login).await {
            Ok(submitted) => submitted,
            Err(response) => return response,
        };
        let request = &state.request;
        if !allows_local(&client) {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "This app does not sign in the pool's users.",
            );
        }
        let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
            return self.render_login(
                &client,
                request,
                Some("Enter your username and password."),
                StatusCode::BAD_REQUEST,
            );
        };
        match self.cognito.password_sign_in(&self.site.pool, &client, username.trim(), password, &json!({})).await {
            Ok(user) => self.after_password(&client, request, user).await,
            Err(error) if is_internal(&error) => internal(&error),
            // The password was right (Cognito checks the status after it):
            // as Cognito's hosted UI does, a new code and the confirmation form.
            Err(error) if error.code == "UserNotConfirmedException" => {
                self.unconfirmed(&client, request, username.trim(), &error).await
            }
            Err(error) => self.render_login(&client, request, Some(&error.message), StatusCode::BAD_REQUEST),
        }
    }

    async fn unconfirmed(
        &self,
        client: &AppClient,
        request: &AuthRequest,
        username: &str,
        refusal: &CognitoError,
    ) -> HttpResponse {
        let user = match self.cognito.require_user(&self.site.pool, username).await {
            Ok(found) => found.value,
            Err(error) => return internal(&error),
        };
        let input = Self::input_for(client, &user.username, json!({}));
        match self.cognito.resend_confirmation_code(&input).await {
            Ok(answer) => {
                let destination =
                    answer.pointer("/CodeDeliveryDetails/Destination").and_then(Value::as_str).map(str::to_owned);
                self.render_confirm(client, request, &user.username, destination, None, StatusCode::OK)
            }
            Err(_) => self.render_login(client, request, Some(&refusal.message), StatusCode::BAD_REQUEST),
        }
    }

    /// The password was right: a new password, a code, or done.
    async fn after_password(&self, client: &AppClient, request: &AuthRequest, user: User) -> HttpResponse {
        let user = match self.cognito.clear_failures(&self.site.pool, user).await {
            Ok(user) => user,
            Err(error) => return internal(&error),
        };
        if user.status == UserStatus::ForceChangePassword {
            return self.render_new_password(client, request, &user, None, StatusCode::OK);
        }
        self.second_factor(client, request, user).await
    }

    /// MFA when the pool asks for it (as `RespondToAuthChallenge` would
    /// ask `SOFTWARE_TOKEN_MFA`), else done.
    async fn second_factor(&self, client: &AppClient, request: &AuthRequest, user: User) -> HttpResponse {
        match Cognito::second_factor_of(&self.site.pool, &user) {
            Ok(SecondFactor::None) => self.signed_in(client, request, &user).await,
            Ok(SecondFactor::Totp) => self.render_mfa(client, request, &user.username, None, StatusCode::OK),
            // Setting up an authenticator is the app's part (the API's
            // MFA_SETUP); the hosted pages do not offer it.
            Ok(SecondFactor::SetUp) => pages::error(
                StatusCode::BAD_REQUEST,
                "mfa_setup_required",
                "This account must set up an authenticator app before it signs in. Set one up through the app, then sign in again.",
            ),
            Err(error) => pages::error(StatusCode::BAD_REQUEST, "invalid_request", &error.message),
        }
    }

    /// Signed in: the post authentication trigger, the domain's session,
    /// and back to the app with a code or tokens.
    async fn signed_in(&self, client: &AppClient, request: &AuthRequest, user: &User) -> HttpResponse {
        let pool = &self.site.pool;
        let trigger = self
            .cognito
            .triggers
            .run(Event {
                pool,
                trigger: "PostAuthentication",
                source: "PostAuthentication_Authentication",
                client_id: Some(&client.id),
                username: &user.username,
                request: json!({ "userAttributes": user_attributes(user), "newDeviceUsed": false, "clientMetadata": {} }),
                response: json!({}),
            })
            .await;
        if let Err(error) = trigger {
            return pages::error(StatusCode::BAD_REQUEST, "invalid_request", &error.message);
        }
        self.finish(client, request, user, &[]).await
    }

    /// Sets the session for `user`, signed in now (and `cookies`), and
    /// answers `request`.
    pub async fn finish(
        &self,
        client: &AppClient,
        request: &AuthRequest,
        user: &User,
        cookies: &[String],
    ) -> HttpResponse {
        let auth_time = chrono::Utc::now().timestamp();
        match self.cognito.complete_authorization(self.site, client, request, user, auth_time).await {
            Ok(location) => {
                let mut set = vec![self.cognito.session_cookie(self.site, user, auth_time)];
                set.extend(cookies.iter().cloned());
                pages::redirect(&location, &set)
            }
            Err(error) => internal(&error),
        }
    }

    fn render_new_password(
        &self,
        client: &AppClient,
        request: &AuthRequest,
        user: &User,
        error: Option<&str>,
        status: StatusCode,
    ) -> HttpResponse {
        let step = Step::NewPassword { username: user.username.clone() };
        let (form, cookies) = self.form(request, step, Endpoint::NewPassword, Self::step_seconds(client));
        let missing = self.missing_attributes(user);
        pages::html(status, pages::new_password(&form, error, &missing), &cookies)
    }

    /// Required attributes the user has no value for.
    fn missing_attributes(&self, user: &User) -> Vec<String> {
        self.site
            .pool
            .required_attributes
            .iter()
            .filter(|name| user.attribute(name).is_none_or(str::is_empty))
            .cloned()
            .collect()
    }

    /// `POST /newPassword`: the step `NEW_PASSWORD_REQUIRED` asks for.
    pub async fn new_password(&self, form: Result<Params, ParamError>) -> HttpResponse {
        let (params, state, client) = match self.submitted(form, |step| matches!(step, Step::NewPassword { .. })).await
        {
            Ok(submitted) => submitted,
            Err(response) => return response,
        };
        let Step::NewPassword { username } = &state.step else { return stale_form() };
        let pool = &self.site.pool;
        let request = &state.request;
        let user = match self.cognito.require_user(pool, username).await {
            Ok(found) => found.value,
            Err(error) if is_internal(&error) => return internal(&error),
            Err(_) => return stale_form(),
        };
        if user.status != UserStatus::ForceChangePassword || !user.enabled {
            return stale_form();
        }
        let again =
            |message: &str| self.render_new_password(&client, request, &user, Some(message), StatusCode::BAD_REQUEST);
        let Some(password) = params.get("password") else { return again("Enter a new password.") };
        if let Err(error) = passwords::check_policy(&pool.password_policy, password) {
            return again(&error.message);
        }
        let missing = self.missing_attributes(&user);
        let mut attributes = Vec::new();
        for name in &missing {
            match params.get(&format!("userAttributes.{name}")) {
                Some(value) => attributes.push((name.clone(), value.trim().to_owned())),
                None => return again(&format!("Enter your {name}.")),
            }
        }
        if let Err(error) = Cognito::check_attributes(pool, &attributes, false) {
            return again(&error.message);
        }
        let stored = match self.cognito.hasher.password(&pool.id, &user.username, password, false).await {
            Ok(stored) => stored,
            Err(error) => return internal(&error),
        };
        let updated = self
            .cognito
            .update_user(pool, &user.username, |user| {
                user.password = Some(stored.clone());
                user.status = UserStatus::Confirmed;
                for (name, value) in &attributes {
                    user.attributes.insert(name.clone(), value.clone());
                }
                Ok(())
            })
            .await;
        match updated {
            Ok(user) => self.second_factor(&client, request, user).await,
            Err(error) => internal(&error),
        }
    }

    fn render_mfa(
        &self,
        client: &AppClient,
        request: &AuthRequest,
        username: &str,
        error: Option<&str>,
        status: StatusCode,
    ) -> HttpResponse {
        let step = Step::Mfa { username: username.to_owned() };
        let (form, cookies) = self.form(request, step, Endpoint::Mfa, Self::step_seconds(client));
        pages::html(status, pages::mfa(&form, error), &cookies)
    }

    /// `POST /mfa`: the code `SOFTWARE_TOKEN_MFA` asks for.
    pub async fn mfa(&self, form: Result<Params, ParamError>) -> HttpResponse {
        let (params, state, client) = match self.submitted(form, |step| matches!(step, Step::Mfa { .. })).await {
            Ok(submitted) => submitted,
            Err(response) => return response,
        };
        let Step::Mfa { username } = &state.step else { return stale_form() };
        let request = &state.request;
        let pool = &self.site.pool;
        let user = match self.cognito.require_user(pool, username).await {
            Ok(found) => found.value,
            Err(error) if is_internal(&error) => return internal(&error),
            Err(_) => return stale_form(),
        };
        if !user.enabled {
            return stale_form();
        }
        let again = |message: &str| self.render_mfa(&client, request, username, Some(message), StatusCode::BAD_REQUEST);
        if let Err(error) = Cognito::check_lockout(&user) {
            return again(&error.message);
        }
        let Some(code) = params.get("code") else { return again("Enter the code from your authenticator app.") };
        match self.cognito.check_totp(pool, &user, code.trim()).await {
            Ok(()) => self.signed_in(&client, request, &user).await,
            Err(error) if is_internal(&error) => internal(&error),
            Err(error) => again(&error.message),
        }
    }

    /// The attributes the sign-up form asks for, besides the password:
    /// the user name unless the pool signs in with an email or phone, and
    /// every attribute the pool requires, verifies or signs in with.
    fn signup_fields(&self) -> Vec<Field> {
        let pool = &self.site.pool;
        let mut fields = Vec::new();
        if pool.username_attributes.is_empty() {
            fields.push(Field::new("username", "Username", "text", "username"));
        }
        let wanted = |name: &str| {
            pool.signs_in_with(name)
                || pool.required_attributes.iter().any(|a| a == name)
                || pool.auto_verified_attributes.iter().any(|a| a == name)
        };
        if wanted("email") || pool.username_attributes.is_empty() && !wanted("phone_number") {
            fields.push(Field::new("email", "Email", "email", "email"));
        }
        if wanted("phone_number") {
            fields.push(Field::new("phone_number", "Phone number (+15555550100)", "tel", "tel"));
        }
        for name in &pool.required_attributes {
            if !matches!(name.as_str(), "email" | "phone_number") {
                fields.push(Field::new(name, name, "text", "on"));
            }
        }
        fields.push(Field::new("password", "Password", "password", "new-password"));
        fields
    }

    fn render_signup(
        &self,
        client: &AppClient,
        request: &AuthRequest,
        error: Option<&str>,
        status: StatusCode,
    ) -> HttpResponse {
        let (form, cookies) = self.form(request, Step::Signup, Endpoint::Signup, PAGE_SECONDS);
        let login = format!("{}?{}", self.site.path(Endpoint::Login), request.query());
        let page = pages::signup(&format!("Sign up for {}", client.name), &form, error, &self.signup_fields(), &login);
        pages::html(status, page, &cookies)
    }

    /// The refusal of a sign-up, when the pool or the client allows none.
    fn signup_refused(&self, client: &AppClient) -> Option<HttpResponse> {
        (self.site.pool.admin_create_user_only || !allows_local(client)).then(|| {
            pages::error(StatusCode::BAD_REQUEST, "invalid_request", "SignUp is not permitted for this user pool")
        })
    }

    /// `GET /signup`.
    pub async fn signup_page(&self, query: Result<Params, ParamError>) -> HttpResponse {
        let (client, request) = match self.checked_request(query).await {
            Ok(checked) => checked,
            Err(response) => return response,
        };
        if let Some(response) = self.signup_refused(&client) {
            return response;
        }
        self.render_signup(&client, &request, None, StatusCode::OK)
    }

    /// The members of a SignUp or ConfirmSignUp call for `username`, with
    /// the secret hash the hosted UI can make for a client with a secret.
    fn input_for(client: &AppClient, username: &str, members: Value) -> Input {
        let mut input = match members {
            Value::Object(members) => members,
            _ => Default::default(),
        };
        input.insert("ClientId".into(), json!(client.id));
        input.insert("Username".into(), json!(username));
        if let Some(secret) = &client.secret {
            input.insert("SecretHash".into(), json!(secret_hash(secret, username, &client.id)));
        }
        Input(input)
    }

    /// `POST /signup`: SignUp, then the confirmation form (or, when the
    /// pre sign-up trigger confirmed the user, signed in).
    pub async fn signup(&self, form: Result<Params, ParamError>) -> HttpResponse {
        let (params, state, client) = match self.submitted(form, |step| *step == Step::Signup).await {
            Ok(submitted) => submitted,
            Err(response) => return response,
        };
        let request = &state.request;
        if let Some(response) = self.signup_refused(&client) {
            return response;
        }
        let again = |message: &str| self.render_signup(&client, request, Some(message), StatusCode::BAD_REQUEST);
        let mut attributes = Vec::new();
        let mut username = None;
        let mut password = None;
        for field in self.signup_fields() {
            let Some(value) = params.get(&field.name) else { return again("Fill in every field.") };
            match field.name.as_str() {
                "username" => username = Some(value.trim().to_owned()),
                "password" => password = Some(value.to_owned()),
                name => attributes.push(json!({ "Name": name, "Value": value.trim() })),
            }
        }
        let pool = &self.site.pool;
        let username = username.or_else(|| {
            let kind = if pool.signs_in_with("email") { "email" } else { "phone_number" };
            attributes.iter().find(|a| a["Name"] == kind).and_then(|a| a["Value"].as_str()).map(str::to_owned)
        });
        let (Some(username), Some(password)) = (username, password) else { return again("Fill in every field.") };
        let input = Self::input_for(&client, &username, json!({ "Password": password, "UserAttributes": attributes }));
        let answer = match self.cognito.sign_up(&input).await {
            Ok(answer) => answer,
            Err(error) if is_internal(&error) => return internal(&error),
            Err(error) => return again(&error.message),
        };
        if answer["UserConfirmed"] == json!(true) {
            return self.confirmed(&client, request, &username).await;
        }
        let destination = answer.pointer("/CodeDeliveryDetails/Destination").and_then(Value::as_str).map(str::to_owned);
        self.render_confirm(&client, request, &username, destination, None, StatusCode::OK)
    }

    fn render_confirm(
        &self,
        _client: &AppClient,
        request: &AuthRequest,
        username: &str,
        destination: Option<String>,
        error: Option<&str>,
        status: StatusCode,
    ) -> HttpResponse {
        let shown = destination.clone();
        let step = Step::Confirm { username: username.to_owned(), destination };
        let (form, cookies) = self.form(request, step, Endpoint::ConfirmUser, PAGE_SECONDS);
        pages::html(status, pages::confirm(&form, error, shown.as_deref()), &cookies)
    }

    /// `POST /confirmUser`: ConfirmSignUp with the code sent, then signed
    /// in, as Cognito's hosted UI does after a confirmation.
    pub async fn confirm(&self, form: Result<Params, ParamError>) -> HttpResponse {
        let (params, state, client) = match self.submitted(form, |step| matches!(step, Step::Confirm { .. })).await {
            Ok(submitted) => submitted,
            Err(response) => return response,
        };
        let Step::Confirm { username, destination } = &state.step else { return stale_form() };
        let request = &state.request;
        let again = |message: &str| {
            self.render_confirm(&client, request, username, destination.clone(), Some(message), StatusCode::BAD_REQUEST)
        };
        let Some(code) = params.get("code") else { return again("Enter the code we sent you.") };
        let input = Self::input_for(&client, username, json!({ "ConfirmationCode": code.trim() }));
        match self.cognito.confirm_sign_up(&input).await {
            Ok(_) => self.confirmed(&client, request, username).await,
            Err(error) if is_internal(&error) => internal(&error),
            Err(error) => again(&error.message),
        }
    }

    /// A user who has just signed up and is confirmed: signed in.
    async fn confirmed(&self, client: &AppClient, request: &AuthRequest, username: &str) -> HttpResponse {
        match self.cognito.require_user(&self.site.pool, username).await {
            Ok(found) => self.signed_in(client, request, &found.value).await,
            Err(error) => internal(&error),
        }
    }

    /// `GET /logout`: clears the domain's session, then to a sign-out URL
    /// of the client (`logout_uri`, matched exactly), or back to the login
    /// page for a new sign-in (`redirect_uri` with `response_type`).
    pub async fn logout(&self, query: Result<Params, ParamError>) -> HttpResponse {
        let params = match query {
            Ok(params) => params,
            Err(error) => return bad_form(&error),
        };
        let clear = [session::clear_cookie(self.site, session::SESSION_COOKIE)];
        if let Some(logout_uri) = params.get("logout_uri") {
            let Some(client_id) = params.get("client_id") else {
                return pages::error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The parameter client_id is required.",
                );
            };
            let client = match self.cognito.client_of(&self.site.pool.id, client_id).await {
                Ok(client) => client,
                Err(error) if is_internal(&error) => return internal(&error),
                Err(_) => {
                    let message = format!("The client {client_id} does not exist.");
                    return pages::error(StatusCode::BAD_REQUEST, "invalid_request", &message);
                }
            };
            if !client.logout_urls.iter().any(|registered| registered == logout_uri) {
                return pages::error(
                    StatusCode::BAD_REQUEST,
                    "redirect_mismatch",
                    "logout_uri is not one of the client's sign-out URLs.",
                );
            }
            return pages::redirect(logout_uri, &clear);
        }
        if params.get("redirect_uri").is_some() {
            return match self.cognito.authorization_request(self.site, &params).await {
                Ok((_, request)) => {
                    let location = format!("{}?{}", self.site.path(Endpoint::Login), request.query());
                    pages::redirect(&location, &clear)
                }
                Err(refusal) => self.refusal(refusal),
            };
        }
        pages::error(StatusCode::BAD_REQUEST, "invalid_request", "logout_uri or redirect_uri is required.")
    }

    /// `GET /error`: Cognito's error page, which shows the error's code.
    pub fn error_page(&self, query: Result<Params, ParamError>) -> HttpResponse {
        let params = query.unwrap_or_default();
        let code = params
            .get("error")
            .filter(|code| code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .unwrap_or("invalid_request");
        pages::error(StatusCode::BAD_REQUEST, code, "")
    }

    /// `GET /oauth2/idpresponse`.
    pub async fn idp_response(&self, query: Result<Params, ParamError>) -> HttpResponse {
        let params = match query {
            Ok(params) => params,
            Err(error) => return bad_form(&error),
        };
        self.cognito.finish_federation(self, &params).await
    }
}
