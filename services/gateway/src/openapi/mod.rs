//! OpenAPI import and export.

pub mod http_api;
pub mod rest_api;
