//! Cognito identity pools: the Cognito Identity API (awsJson 1.1,
//! `X-Amz-Target: AWSCognitoIdentityService.<Action>`), on the auth port
//! and through the edge, beside the user pools' API.
//!
//! Identity pools trust user pool app clients (`CognitoIdentityProviders`)
//! and hand their users, or guests where the pool allows them, temporary
//! AWS credentials for the pool's roles, minted by the host's `Sessions`,
//! so every service of the deployment accepts them as it accepts STS's.
//! Managing pools and identities must be SigV4-signed as
//! `cognito-identity`; GetId, GetCredentialsForIdentity and GetOpenIdToken
//! are public, as in AWS, the logins they carry being the proof.
//!
//! - `model`: what is kept, and the ids;
//! - `pools`: identity pools, their roles and tags;
//! - `logins`: provider names and the checks of the tokens logins carry;
//! - `identities`: identities, their credentials and OpenID tokens;
//! - `roles`: which role a login's credentials are for;
//! - `openid`: the pools' own OpenID tokens, keys and discovery document.
//!
//! Not served: developer-authenticated identities
//! (GetOpenIdTokenForDeveloperIdentity and the calls around them),
//! UnlinkIdentity, principal tags, and logins of providers nubo cannot
//! check (`SupportedLoginProviders` such as Google or Facebook, OIDC and
//! SAML provider ARNs: kept and echoed, their tokens refused as from an
//! unsupported provider). nubo has no IAM: a role's policies are not
//! evaluated; what its sessions may do is what each service enforces for
//! a principal of the account (storage: owners, bucket policies, ACLs).

mod identities;
pub mod logins;
pub mod model;
pub mod openid;
mod pools;
mod roles;

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::front::AwsFront;
use serde_json::Value;

pub use self::openid::routes;
use crate::{
    Cognito,
    api::Input,
    error::{CognitoError, Result},
};

pub const TARGET_PREFIX: &str = "AWSCognitoIdentityService.";
/// The signing name of the API.
pub const SIGNING_NAME: &str = "cognito-identity";

macro_rules! actions {
    ($($name:ident: $access:ident,)*) => {
        /// Every action the identity front serves.
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

            /// Whether Cognito Identity serves it without a signature.
            pub fn is_public(self) -> bool {
                match self { $(Self::$name => actions!(@public $access),)* }
            }
        }
    };
    (@public public) => { true };
    (@public signed) => { false };
}

actions! {
    CreateIdentityPool: signed,
    DescribeIdentityPool: signed,
    ListIdentityPools: signed,
    UpdateIdentityPool: signed,
    DeleteIdentityPool: signed,
    SetIdentityPoolRoles: signed,
    GetIdentityPoolRoles: signed,
    DescribeIdentity: signed,
    ListIdentities: signed,
    DeleteIdentities: signed,
    TagResource: signed,
    UntagResource: signed,
    ListTagsForResource: signed,
    GetId: public,
    GetCredentialsForIdentity: public,
    GetOpenIdToken: public,
}

impl Cognito {
    /// Runs one Cognito Identity action on its parsed body; `front` holds
    /// the keys temporary credentials are issued with.
    pub async fn execute_identity(&self, action: Action, input: Input, front: &AwsFront) -> Result<Value> {
        use Action::*;
        let input = &input;
        match action {
            CreateIdentityPool => self.create_identity_pool(input).await,
            DescribeIdentityPool => self.describe_identity_pool(input).await,
            ListIdentityPools => self.list_identity_pools(input).await,
            UpdateIdentityPool => self.update_identity_pool(input).await,
            DeleteIdentityPool => self.delete_identity_pool(input).await,
            SetIdentityPoolRoles => self.set_identity_pool_roles(input).await,
            GetIdentityPoolRoles => self.get_identity_pool_roles(input).await,
            DescribeIdentity => self.describe_identity(input).await,
            ListIdentities => self.list_identities(input).await,
            DeleteIdentities => self.delete_identities(input).await,
            TagResource => self.tag_identity_pool(input).await,
            UntagResource => self.untag_identity_pool(input).await,
            ListTagsForResource => self.list_identity_pool_tags(input).await,
            GetId => self.get_id(input).await,
            GetCredentialsForIdentity => self.get_credentials_for_identity(input, front.credentials.sessions()).await,
            GetOpenIdToken => self.get_open_id_token(input).await,
        }
    }
}

/// The identity front of a deployment: the user pools' front, signed as
/// `cognito-identity`.
fn identity_front(front: &AwsFront) -> AwsFront {
    let mut front = front.clone();
    front.policy.service = SIGNING_NAME;
    front
}

fn refuse(error: &CognitoError) -> HttpResponse {
    nubo_host::front::Protocol::AwsJson11.render(&error.to_aws())
}

/// Answers one Cognito Identity request (`front` is the user pools' front,
/// whose keys and limits this one shares).
pub async fn handle(
    request: HttpRequest,
    payload: web::Payload,
    cognito: web::Data<Cognito>,
    front: web::Data<AwsFront>,
) -> HttpResponse {
    let front = identity_front(&front);
    let target = request.headers().get("x-amz-target").and_then(|value| value.to_str().ok()).unwrap_or("");
    let action = target.strip_prefix(TARGET_PREFIX).and_then(Action::parse);
    if let Some(action) = action {
        nubo_host::front::name_operation(&request, action.name());
    }
    let raw = match front.read_raw(payload).await {
        Ok(raw) => raw,
        Err(refused) => return front.error(&refused),
    };
    // The public actions are served signed or not, as the user pools'
    // are; everything else must verify.
    let body = match action {
        Some(action) if action.is_public() => {
            match nubo_host::front::decode_content(&request, raw, false, front.max_body) {
                Ok(body) => body,
                Err(message) => return refuse(&CognitoError::serialization(message)),
            }
        }
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
    match cognito.execute_identity(action, input, &front).await {
        Ok(response) => HttpResponse::Ok()
            .content_type("application/x-amz-json-1.1")
            .insert_header(("x-amzn-RequestId", nubo_host::front::request_id()))
            .body(response.to_string()),
        Err(failure) => {
            tracing::debug!(action = action.name(), error = %failure, "cognito identity request refused");
            refuse(&failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_actions_are_the_three_aws_leaves_unsigned() {
        let public: Vec<_> =
            ["GetId", "GetCredentialsForIdentity", "GetOpenIdToken", "CreateIdentityPool", "ListIdentities"]
                .into_iter()
                .filter(|name| Action::parse(name).is_some_and(Action::is_public))
                .collect();
        assert_eq!(public, ["GetId", "GetCredentialsForIdentity", "GetOpenIdToken"]);
        assert_eq!(Action::parse("GetOpenIdTokenForDeveloperIdentity"), None);
    }
}
