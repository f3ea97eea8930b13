//! The auth service, nubo's Cognito: user pools, app clients, tokens and the
//! OIDC provider, on the HTTP port (`:9229`). Other services validate tokens
//! through `nubo.auth.v1.Auth`.
//!
//! So far the service runs its fronts and answers every Cognito action with
//! the protocol's unknown-operation error; user pools come next.

use actix_web::{HttpRequest, HttpResponse, web};
use nubo_host::{Context, ServeError, Shutdown, metrics::Metrics};
use nubo_proto::{
    ErrorCode,
    auth::{
        GetSigningKeysRequest, GetSigningKeysResponse, ValidateTokenRequest, ValidateTokenResponse,
        auth_server::{Auth, AuthServer},
    },
    status,
};
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};

/// The `[auth]` section of the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The Cognito API, the OIDC endpoints, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Self { http_port: 9229, grpc_port: 50054 }
    }
}

/// The service's listeners: HTTP (its AWS API, `/health`, `/metrics`) and gRPC.
pub type Listeners = nubo_host::Listeners;

#[derive(Debug, Default)]
pub struct AuthApi;

#[tonic::async_trait]
impl Auth for AuthApi {
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
    HttpResponse::BadRequest()
        .content_type("application/x-amz-json-1.1")
        .insert_header(("x-amzn-ErrorType", "UnknownOperationException"))
        .json(serde_json::json!({
            "__type": "UnknownOperationException",
            "message": format!("operation {target} is not served by this endpoint"),
        }))
}

/// Runs the service until `shutdown`.
pub async fn run(
    _context: Context,
    _config: Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let router = nubo_host::grpc::router().add_service(AuthServer::new(AuthApi));
    let grpc = nubo_host::grpc::serve("auth", listeners.grpc, router, shutdown.clone());
    let http = nubo_host::http::serve("auth", listeners.http, 1, Metrics::new("auth"), shutdown, |routes| {
        routes.default_service(web::to(cognito));
    });
    nubo_host::serve_fronts("auth", grpc, http).await
}
