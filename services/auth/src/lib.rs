//! The auth service, nubo's Cognito: user pools, app clients, users and
//! their sign-in, tokens, and each pool's OIDC endpoints, on the HTTP port
//! (`:9229`). Other services check tokens through `nubo.auth.v1.Auth`.
//!
//! - `model`, `store`: what is kept, as records in data;
//! - `api`: the Cognito Identity Provider JSON API;
//! - `passwords`, `srp`, `mfa`: the factors (argon2id, SRP-6a, TOTP);
//! - `keys`, `tokens`: signing keys and the tokens they sign;
//! - `seal`: the opaque values clients carry between steps;
//! - `messages`, `triggers`: codes sent out, functions called in;
//! - `wellknown`: each pool's JWKS and OIDC discovery document;
//! - `identity`: identity pools (the Cognito Identity API);
//! - `oidc`: each pool's OAuth 2.0 / OIDC endpoints and hosted UI, and
//!   federation with external OIDC identity providers.

pub mod api;
pub mod error;
pub mod filter;
pub mod identity;
pub mod ids;
pub mod keys;
pub mod messages;
pub mod mfa;
pub mod model;
pub mod oidc;
pub mod passwords;
pub mod seal;
pub mod srp;
pub mod store;
pub mod tokens;
pub mod triggers;
pub mod wellknown;

use std::time::Duration;

use actix_web::web;
use nubo_host::{Context, Listeners, ServeError, ServiceName, Shutdown, metrics::Metrics};
use nubo_proto::{
    ErrorCode,
    auth::{
        GetSigningKeysRequest, GetSigningKeysResponse, ValidateTokenRequest, ValidateTokenResponse,
        auth_server::{Auth as AuthGrpc, AuthServer},
    },
    clients::{FunctionsClient, RecordsClient},
    status,
};
use tonic::{Request, Response, Status};

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The Cognito API, the OIDC endpoints, `/health` and `/metrics`.
    pub http_port: u16,
    pub grpc_port: u16,
    /// The base of every token's issuer (`iss` is `{issuer}/{poolId}`),
    /// as clients reach this service. `http://localhost:{http port}` when
    /// unset; every replica of a cluster must be given the same one.
    pub issuer: Option<String>,
    /// How often each pool's signing key is replaced, in seconds (30
    /// days by default).
    pub key_rotation_seconds: u64,
    pub argon2: passwords::HashCost,
    pub messages: messages::MessagesConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http_port: 9229,
            grpc_port: 50054,
            issuer: None,
            key_rotation_seconds: 30 * 86_400,
            argon2: passwords::HashCost::default(),
            messages: messages::MessagesConfig::default(),
        }
    }
}

impl Config {
    pub fn ports(&self) -> nubo_host::Ports {
        nubo_host::Ports::new(self.http_port, self.grpc_port)
    }
}

nubo_host::service!(Auth, "Cognito API", Config, Config::ports, run);

/// The service's state, shared by the API, the OIDC endpoints and gRPC.
#[derive(Debug, Clone)]
pub struct Cognito {
    pub(crate) store: store::Store,
    pub(crate) tokens: tokens::Tokens,
    pub(crate) hasher: passwords::Hasher,
    pub(crate) sealer: seal::Sealer,
    pub(crate) sender: messages::Sender,
    pub(crate) messages_per_hour: u32,
    pub(crate) triggers: triggers::Triggers,
    pub(crate) region: String,
    pub(crate) account_id: String,
}

impl Cognito {
    pub fn new(context: &Context, config: &Config, issuer: &str) -> Result<Self, String> {
        let records = RecordsClient::new(context.link(ServiceName::Data).map_err(|error| error.to_string())?);
        let functions = context.link(ServiceName::Functions).ok().map(FunctionsClient::new);
        let store = store::Store::new(records);
        let rotation = Duration::from_secs(config.key_rotation_seconds.max(1));
        let keys = keys::Keys::new(store.clone(), rotation);
        Ok(Self {
            tokens: tokens::Tokens::new(keys, store.clone(), issuer),
            store,
            hasher: passwords::Hasher::new(config.argon2).map_err(|error| error.message)?,
            sealer: seal::Sealer::new(context.cluster.secret()),
            sender: messages::Sender::new(&config.messages, &context.state_dir)?,
            messages_per_hour: config.messages.per_user_per_hour,
            triggers: triggers::Triggers::new(functions, &context.region),
            region: context.region.clone(),
            account_id: context.account_id.clone(),
        })
    }
}

/// The internal API the gateway's authorizers use.
#[derive(Debug, Clone)]
pub struct AuthApi {
    cognito: Cognito,
}

#[tonic::async_trait]
impl AuthGrpc for AuthApi {
    async fn get_signing_keys(
        &self,
        request: Request<GetSigningKeysRequest>,
    ) -> Result<Response<GetSigningKeysResponse>, Status> {
        let pool_id = &request.get_ref().user_pool_id;
        if self.cognito.pool(pool_id).await.is_err() {
            return Err(status(ErrorCode::NotFound, format!("User pool {pool_id} does not exist.")));
        }
        let ring =
            self.cognito.tokens.keys().ring(pool_id).await.map_err(|error| Status::unavailable(error.message))?;
        Ok(Response::new(GetSigningKeysResponse { jwks_json: ring.jwks.to_string().into_bytes() }))
    }

    async fn validate_token(
        &self,
        request: Request<ValidateTokenRequest>,
    ) -> Result<Response<ValidateTokenResponse>, Status> {
        let request = request.into_inner();
        let checked = match self.cognito.tokens.verify_access(&request.token).await {
            Ok(token) => self.cognito.live_access(&token).await.map(|(pool, _)| (pool, token)),
            Err(error) => Err(error),
        };
        match checked {
            Ok((pool, token)) if request.user_pool_id.is_empty() || request.user_pool_id == pool.id => {
                Ok(Response::new(ValidateTokenResponse {
                    claims_json: serde_json::Value::Object(token.claims).to_string().into_bytes(),
                }))
            }
            Ok(_) => Err(status(ErrorCode::InvalidArgument, "The token is of another user pool.")),
            Err(error) => Err(status(ErrorCode::InvalidArgument, error.message)),
        }
    }
}

/// Runs the service until `shutdown`.
pub async fn run(context: Context, config: Config, listeners: Listeners, shutdown: Shutdown) -> Result<(), ServeError> {
    let failed = |error: &dyn std::fmt::Display| ServeError::new("auth", error);
    let port = listeners.http.local_addr().map_err(|error| failed(&error))?.port();
    let issuer = config.issuer.clone().unwrap_or_else(|| format!("http://localhost:{port}"));
    let cognito = Cognito::new(&context, &config, &issuer).map_err(|error| failed(&error))?;
    if let Some(path) = cognito.sender.path() {
        tracing::info!(file = %path.display(), "codes and invitations are written to a file, not sent");
    }
    let front = api::front(&context);
    let router =
        nubo_host::grpc::router(&context.cluster).add_service(AuthServer::new(AuthApi { cognito: cognito.clone() }));
    let workers = std::thread::available_parallelism().map_or(2, usize::from).min(4);
    nubo_host::serve("auth", listeners, router, workers, Metrics::new("auth"), shutdown, move |routes| {
        routes.app_data(web::Data::new(cognito.clone())).app_data(web::Data::new(front.clone()));
        identity::routes(routes);
        wellknown::routes(routes);
        oidc::routes(routes);
        routes.default_service(web::to(api::handle));
    })
    .await
}
