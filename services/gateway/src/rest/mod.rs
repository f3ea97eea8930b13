//! REST APIs (API Gateway v1): their definitions and the management API
//! that writes them ([`api`], [`operations`], [`patch`]), the records they
//! live in ([`store`]), and how a request is served ([`serve`]: resource
//! [`matching`], API keys and usage plans in [`usage`], [`media`] types,
//! mapping [`template`]s, method [`authorize`]ation with [`cognito`] user
//! pools, stage [`method_settings`]), and the OpenAPI [`export`].

pub mod api;
pub mod authorize;
pub mod cognito;
pub mod export;
pub mod matching;
pub mod media;
pub mod method_settings;
pub mod model;
pub mod operations;
pub mod patch;
pub mod serve;
pub mod store;
pub mod template;
pub mod usage;

use std::sync::Arc;

/// What the management API and the request path share for REST APIs.
#[derive(Debug, Clone)]
pub struct Rest {
    pub store: store::RestStore,
    /// Usage plans' buckets and quota counts of this replica.
    pub limits: Arc<usage::Limits>,
    /// The client of `HTTP_PROXY` integrations: pooled connections, no
    /// redirects followed (the client gets them, as from API Gateway).
    pub http: reqwest::Client,
    /// The issuers of nubo's own user pools, for COGNITO_USER_POOLS.
    pub cognito: cognito::CognitoIssuers,
}

impl Rest {
    /// `auth_url`: the auth service's public HTTP address, where user
    /// pools' discovery documents are.
    pub fn new(
        records: nubo_proto::clients::RecordsClient,
        account_id: String,
        auth_url: String,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()?;
        let cognito = cognito::CognitoIssuers::new(auth_url, http.clone());
        Ok(Self { store: store::RestStore::new(records, account_id), limits: Arc::default(), http, cognito })
    }
}
