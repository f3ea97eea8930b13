//! OpenAPI import and export (not yet served).

use actix_web::HttpResponse;

use crate::{
    error::{GatewayError, Result},
    rest::{api::Operation, operations::Call},
};

pub async fn run(_call: Call<'_>, _operation: Operation) -> Result<HttpResponse> {
    Err(GatewayError::BadRequest("OpenAPI import and export are not supported yet".into()))
}
