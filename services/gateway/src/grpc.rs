//! The `nubo.gateway.v1.Gateway` gRPC adapter.

use nubo_proto::{
    ErrorCode,
    gateway::{
        InvalidateApiRequest, InvalidateApiResponse, PostToConnectionRequest, PostToConnectionResponse,
        gateway_server::{Gateway, GatewayServer},
    },
    status,
};
use tonic::{Request, Response, Status};

use crate::apis::Apis;

pub fn server(apis: Apis) -> GatewayServer<GatewayApi> {
    GatewayServer::new(GatewayApi { apis })
}

#[derive(Debug)]
pub struct GatewayApi {
    apis: Apis,
}

#[tonic::async_trait]
impl Gateway for GatewayApi {
    async fn post_to_connection(
        &self,
        _request: Request<PostToConnectionRequest>,
    ) -> Result<Response<PostToConnectionResponse>, Status> {
        Err(status(ErrorCode::Unimplemented, "WebSocket APIs are not served yet"))
    }

    async fn invalidate_api(
        &self,
        request: Request<InvalidateApiRequest>,
    ) -> Result<Response<InvalidateApiResponse>, Status> {
        self.apis.invalidate(&request.into_inner().api_id);
        Ok(Response::new(InvalidateApiResponse {}))
    }
}
