//! The auth service, nubo's Cognito: user pools, app clients, tokens and the
//! OIDC provider, on the HTTP port (`:9229`). Other services validate tokens
//! through `nubo.auth.v1.Auth`.
//!
//! So far the service runs its fronts and answers every Cognito action with
//! the protocol's unknown-operation error; user pools come next.

pub mod srp;

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::{
    Context, Listeners, ServeError, Shutdown,
    front::{AwsError, Protocol},
    metrics::Metrics,
};
use nubo_proto::{
    ErrorCode,
    auth::{
        GetSigningKeysRequest, GetSigningKeysResponse, ValidateTokenRequest, ValidateTokenResponse,
        auth_server::{Auth as AuthGrpc, AuthServer},
    },
    status,
};
use tonic::{Request, Response, Status};

nubo_host::service!(Auth, "Cognito API", ports 9229, 50054, run);

#[derive(Debug, Default)]
pub struct AuthApi;

#[tonic::async_trait]
impl AuthGrpc for AuthApi {
    async fn get_signing_keys(
        &self,
        request: Request<GetSigningKeysRequest>,
    ) -> Result<Response<GetSigningKeysResponse>, Status> {
        Err(status(ErrorCode::NotFound, format!("User pool {} does not exist.", request.get_ref().user_pool_id)))
    }

    async fn validate_token(
        &self,
        _request: Request<ValidateTokenRequest>,
    ) -> Result<Response<ValidateTokenResponse>, Status> {
        Err(status(ErrorCode::InvalidArgument, "Invalid token: no user pool issues tokens yet"))
    }
}

/// Cognito speaks AWS JSON 1.1 (`X-Amz-Target: AWSCognitoIdentityProviderService.<Action>`).
async fn cognito(request: HttpRequest) -> HttpResponse {
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let message = format!("operation {target} is not served by this endpoint");
    Protocol::AwsJson11.render(&AwsError::new(400, "UnknownOperationException", message))
}

/// Runs the service until `shutdown`.
pub async fn run(
    context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let router = nubo_host::grpc::router(&context.cluster).add_service(AuthServer::new(AuthApi));
    nubo_host::serve("auth", listeners, router, 1, Metrics::new("auth"), shutdown, |routes| {
        routes.default_service(web::to(cognito));
    })
    .await
}
