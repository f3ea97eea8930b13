//! The Cognito Identity Provider API (awsJson 1.1,
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Action>`), on the auth
//! port and through the edge. Management and `Admin*` actions must be
//! SigV4-signed as `cognito-idp`; the actions an app calls for its users
//! (SignUp, InitiateAuth, GetUser, ...) are public, as Cognito's are: they
//! carry a client id or an access token instead.
//!
//! One file per family: `pools` (pools, clients, domains, resource servers,
//! identity providers, tags), `users` (sign-up and the admin calls),
//! `groups`, `flows` (sign-in and its challenges, refresh, revocation),
//! `account` (what a signed-in user does with an access token).

mod account;
pub(crate) mod clients;
pub(crate) mod flows;
mod groups;
pub mod input;
mod pools;
pub(crate) mod users;

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::front::{AwsFront, Protocol};
use serde_json::Value;

pub use self::input::Input;
use crate::{
    Cognito,
    error::{CognitoError, Result},
};

pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
/// Cognito's largest request bodies are a few hundred kilobytes (a pool's
/// schema and templates).
const MAX_BODY: usize = 1024 * 1024;

macro_rules! actions {
    ($($name:ident: $access:ident,)*) => {
        /// Every action the front serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action { $($name,)* }

        impl Action {
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($name) => Some(Self::$name),)*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self { $(Self::$name => stringify!($name),)* }
            }

            /// Whether Cognito serves it without a signature.
            pub fn is_public(self) -> bool {
                match self { $(Self::$name => actions!(@public $access),)* }
            }
        }
    };
    (@public public) => { true };
    (@public signed) => { false };
}

actions! {
    CreateUserPool: signed,
    DescribeUserPool: signed,
    ListUserPools: signed,
    UpdateUserPool: signed,
    DeleteUserPool: signed,
    SetUserPoolMfaConfig: signed,
    GetUserPoolMfaConfig: signed,
    TagResource: signed,
    UntagResource: signed,
    ListTagsForResource: signed,
    CreateUserPoolClient: signed,
    DescribeUserPoolClient: signed,
    UpdateUserPoolClient: signed,
    ListUserPoolClients: signed,
    DeleteUserPoolClient: signed,
    CreateUserPoolDomain: signed,
    DescribeUserPoolDomain: signed,
    UpdateUserPoolDomain: signed,
    DeleteUserPoolDomain: signed,
    CreateResourceServer: signed,
    DescribeResourceServer: signed,
    ListResourceServers: signed,
    UpdateResourceServer: signed,
    DeleteResourceServer: signed,
    CreateIdentityProvider: signed,
    DescribeIdentityProvider: signed,
    ListIdentityProviders: signed,
    UpdateIdentityProvider: signed,
    DeleteIdentityProvider: signed,
    AdminCreateUser: signed,
    AdminGetUser: signed,
    AdminDeleteUser: signed,
    AdminDisableUser: signed,
    AdminEnableUser: signed,
    AdminUpdateUserAttributes: signed,
    AdminDeleteUserAttributes: signed,
    AdminSetUserPassword: signed,
    AdminResetUserPassword: signed,
    AdminConfirmSignUp: signed,
    AdminInitiateAuth: signed,
    AdminRespondToAuthChallenge: signed,
    AdminUserGlobalSignOut: signed,
    AdminSetUserMFAPreference: signed,
    AdminAddUserToGroup: signed,
    AdminRemoveUserFromGroup: signed,
    AdminListGroupsForUser: signed,
    ListUsers: signed,
    CreateGroup: signed,
    GetGroup: signed,
    ListGroups: signed,
    UpdateGroup: signed,
    DeleteGroup: signed,
    ListUsersInGroup: signed,
    SignUp: public,
    ConfirmSignUp: public,
    ResendConfirmationCode: public,
    InitiateAuth: public,
    RespondToAuthChallenge: public,
    GetTokensFromRefreshToken: public,
    RevokeToken: public,
    ForgotPassword: public,
    ConfirmForgotPassword: public,
    GetUser: public,
    UpdateUserAttributes: public,
    DeleteUserAttributes: public,
    VerifyUserAttribute: public,
    GetUserAttributeVerificationCode: public,
    DeleteUser: public,
    ChangePassword: public,
    GlobalSignOut: public,
    AssociateSoftwareToken: public,
    VerifySoftwareToken: public,
    SetUserMFAPreference: public,
}

impl Cognito {
    /// Runs one action on its parsed body.
    pub async fn execute(&self, action: Action, input: Input) -> Result<Value> {
        use Action::*;
        let input = &input;
        match action {
            CreateUserPool => self.create_user_pool(input).await,
            DescribeUserPool => self.describe_user_pool(input).await,
            ListUserPools => self.list_user_pools(input).await,
            UpdateUserPool => self.update_user_pool(input).await,
            DeleteUserPool => self.delete_user_pool(input).await,
            SetUserPoolMfaConfig => self.set_user_pool_mfa_config(input).await,
            GetUserPoolMfaConfig => self.get_user_pool_mfa_config(input).await,
            TagResource => self.tag_resource(input).await,
            UntagResource => self.untag_resource(input).await,
            ListTagsForResource => self.list_tags_for_resource(input).await,
            CreateUserPoolClient => self.create_user_pool_client(input).await,
            DescribeUserPoolClient => self.describe_user_pool_client(input).await,
            UpdateUserPoolClient => self.update_user_pool_client(input).await,
            ListUserPoolClients => self.list_user_pool_clients(input).await,
            DeleteUserPoolClient => self.delete_user_pool_client(input).await,
            CreateUserPoolDomain => self.create_user_pool_domain(input).await,
            DescribeUserPoolDomain => self.describe_user_pool_domain(input).await,
            UpdateUserPoolDomain => self.update_user_pool_domain(input).await,
            DeleteUserPoolDomain => self.delete_user_pool_domain(input).await,
            CreateResourceServer => self.create_resource_server(input).await,
            DescribeResourceServer => self.describe_resource_server(input).await,
            ListResourceServers => self.list_resource_servers(input).await,
            UpdateResourceServer => self.update_resource_server(input).await,
            DeleteResourceServer => self.delete_resource_server(input).await,
            CreateIdentityProvider => self.create_identity_provider(input).await,
            DescribeIdentityProvider => self.describe_identity_provider(input).await,
            ListIdentityProviders => self.list_identity_providers(input).await,
            UpdateIdentityProvider => self.update_identity_provider(input).await,
            DeleteIdentityProvider => self.delete_identity_provider(input).await,
            AdminCreateUser => self.admin_create_user(input).await,
            AdminGetUser => self.admin_get_user(input).await,
            AdminDeleteUser => self.admin_delete_user(input).await,
            AdminDisableUser => self.admin_set_enabled(input, false).await,
            AdminEnableUser => self.admin_set_enabled(input, true).await,
            AdminUpdateUserAttributes => self.admin_update_user_attributes(input).await,
            AdminDeleteUserAttributes => self.admin_delete_user_attributes(input).await,
            AdminSetUserPassword => self.admin_set_user_password(input).await,
            AdminResetUserPassword => self.admin_reset_user_password(input).await,
            AdminConfirmSignUp => self.admin_confirm_sign_up(input).await,
            AdminInitiateAuth => self.initiate_auth(input, true).await,
            AdminRespondToAuthChallenge => self.respond_to_auth_challenge(input, true).await,
            AdminUserGlobalSignOut => self.admin_user_global_sign_out(input).await,
            AdminSetUserMFAPreference => self.admin_set_user_mfa_preference(input).await,
            AdminAddUserToGroup => self.admin_add_user_to_group(input).await,
            AdminRemoveUserFromGroup => self.admin_remove_user_from_group(input).await,
            AdminListGroupsForUser => self.admin_list_groups_for_user(input).await,
            ListUsers => self.list_users(input).await,
            CreateGroup => self.create_group(input).await,
            GetGroup => self.get_group(input).await,
            ListGroups => self.list_groups(input).await,
            UpdateGroup => self.update_group(input).await,
            DeleteGroup => self.delete_group(input).await,
            ListUsersInGroup => self.list_users_in_group(input).await,
            SignUp => self.sign_up(input).await,
            ConfirmSignUp => self.confirm_sign_up(input).await,
            ResendConfirmationCode => self.resend_confirmation_code(input).await,
            InitiateAuth => self.initiate_auth(input, false).await,
            RespondToAuthChallenge => self.respond_to_auth_challenge(input, false).await,
            GetTokensFromRefreshToken => self.get_tokens_from_refresh_token(input).await,
            RevokeToken => self.revoke_token(input).await,
            ForgotPassword => self.forgot_password(input).await,
            ConfirmForgotPassword => self.confirm_forgot_password(input).await,
            GetUser => self.get_user(input).await,
            UpdateUserAttributes => self.update_user_attributes(input).await,
            DeleteUserAttributes => self.delete_user_attributes(input).await,
            VerifyUserAttribute => self.verify_user_attribute(input).await,
            GetUserAttributeVerificationCode => self.get_user_attribute_verification_code(input).await,
            DeleteUser => self.delete_user(input).await,
            ChangePassword => self.change_password(input).await,
            GlobalSignOut => self.global_sign_out(input).await,
            AssociateSoftwareToken => self.associate_software_token(input).await,
            VerifySoftwareToken => self.verify_software_token(input).await,
            SetUserMFAPreference => self.set_user_mfa_preference(input).await,
        }
    }
}

/// The Cognito front of a deployment (signed as `cognito-idp`).
pub fn front(context: &nubo_host::Context) -> AwsFront {
    AwsFront::new(Protocol::AwsJson11, context.policy("cognito-idp", 15), context.credentials.clone(), MAX_BODY)
}

fn respond(body: &Value) -> HttpResponse {
    let body = body.to_string();
    HttpResponse::Ok()
        .content_type("application/x-amz-json-1.1")
        .insert_header(("x-amzn-RequestId", nubo_host::front::request_id()))
        .body(body)
}

fn refuse(error: &CognitoError) -> HttpResponse {
    Protocol::AwsJson11.render(&error.to_aws())
}

/// Answers one Cognito request.
///
/// Browsers call Cognito directly (Amplify signs users in from the page),
/// so every answer allows any origin, and a preflight is answered here,
/// as Cognito's endpoints do.
pub async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    cognito: web::Data<Cognito>,
    front: web::Data<AwsFront>,
) -> HttpResponse {
    if request.method() == actix_web::http::Method::OPTIONS {
        return preflight(&request);
    }
    let mut response = answer(request, payload, cognito, front).await;
    allow_any_origin(&mut response);
    response
}

/// The headers Cognito's endpoints let a page send and read.
const ALLOWED_HEADERS: &str = "authorization, content-type, x-amz-target, x-amz-user-agent, x-amz-date, \
x-amz-security-token, x-amz-content-sha256, amz-sdk-invocation-id, amz-sdk-request, cache-control";
const EXPOSED_HEADERS: &str = "x-amzn-requestid, x-amzn-errortype, x-amzn-errormessage, date";

fn preflight(request: &HttpRequest) -> HttpResponse {
    let asked = request
        .headers()
        .get("access-control-request-headers")
        .and_then(|value| value.to_str().ok())
        .unwrap_or(ALLOWED_HEADERS)
        .to_owned();
    HttpResponse::Ok()
        .insert_header(("access-control-allow-origin", "*"))
        .insert_header(("access-control-allow-methods", "POST, OPTIONS"))
        .insert_header(("access-control-allow-headers", asked))
        .insert_header(("access-control-max-age", "86400"))
        .finish()
}

fn allow_any_origin(response: &mut HttpResponse) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("access-control-allow-origin"), HeaderValue::from_static("*"));
    headers.insert(HeaderName::from_static("access-control-expose-headers"), HeaderValue::from_static(EXPOSED_HEADERS));
}

async fn answer(
    request: HttpRequest,
    payload: web::Payload,
    cognito: web::Data<Cognito>,
    front: web::Data<AwsFront>,
) -> HttpResponse {
    let target = request.headers().get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or("");
    if target.starts_with(crate::identity::TARGET_PREFIX) {
        return crate::identity::handle(request, payload, cognito, front).await;
    }
    let action = target.strip_prefix(TARGET_PREFIX).and_then(Action::parse);
    if let Some(action) = action {
        nubo_host::front::name_operation(&request, action.name());
    }
    let raw = match front.read_raw(payload).await {
        Ok(raw) => raw,
        Err(refused) => return front.error(&refused),
    };
    // A public action is served signed or not (a signature adds nothing
    // to a client id or a token, and SDKs with credentials sign anyway);
    // anything else must verify.
    let body = match action {
        Some(action) if action.is_public() => match nubo_host::front::decode_content(&request, raw, false, MAX_BODY) {
            Ok(body) => body,
            Err(message) => return refuse(&CognitoError::serialization(message)),
        },
        _ => match front.verify_body(&request, raw) {
            Ok(verified) => verified.body,
            Err(refused) => return front.error(&refused),
        },
    };
    let Some(action) = action else {
        return refuse(&CognitoError::unknown_operation(format!("operation {target} is not served by this endpoint")));
    };
    let input = if body.is_empty() { Ok(Value::Object(Default::default())) } else { serde_json::from_slice(&body) };
    let input = match input {
        Ok(Value::Object(members)) => Input(members),
        _ => return refuse(&CognitoError::serialization("Start of structure or map found where not expected")),
    };
    match cognito.execute(action, input).await {
        Ok(response) => respond(&response),
        Err(failure) => {
            tracing::debug!(action = action.name(), error = %failure, "cognito request refused");
            refuse(&failure)
        }
    }
}
