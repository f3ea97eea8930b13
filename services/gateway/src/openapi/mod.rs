//! OpenAPI import and export: a [`document`] read once (OpenAPI 3 or
//! Swagger 2, JSON or YAML, errors with their location), applied to a REST
//! API ([`rest_api`]: ImportRestApi, PutRestApi) or an HTTP API
//! ([`http_api`]: ImportApi, ReimportApi, ExportApi).

pub mod document;
pub mod http_api;
pub mod rest_api;
