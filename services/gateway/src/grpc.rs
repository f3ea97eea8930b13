//! The `nubo.gateway.v1.Gateway` gRPC adapter.

use nubo_proto::{
    ErrorCode,
    gateway::{
        DeleteConnectionRequest, DeleteConnectionResponse, GetConnectionRequest, GetConnectionResponse,
        InvalidateApiRequest, InvalidateApiResponse, PostToConnectionRequest, PostToConnectionResponse,
        gateway_server::{Gateway, GatewayServer},
    },
    status,
};
use tonic::{Request, Response, Status};

use crate::{apis::Apis, websocket::WebSockets};

pub fn server(apis: Apis, websockets: WebSockets) -> GatewayServer<GatewayApi> {
    GatewayServer::new(GatewayApi { apis, websockets })
}

#[derive(Debug)]
pub struct GatewayApi {
    apis: Apis,
    websockets: WebSockets,
}

/// A connection this replica does not hold: the caller answers 410.
fn gone(connection_id: &str) -> Status {
    status(ErrorCode::NotFound, format!("connection {connection_id} is not held here"))
}

#[tonic::async_trait]
impl Gateway for GatewayApi {
    /// Delivery to a socket this replica holds, asked by the replica that
    /// answered the `@connections` call.
    async fn post_to_connection(
        &self,
        request: Request<PostToConnectionRequest>,
    ) -> Result<Response<PostToConnectionResponse>, Status> {
        let request = request.into_inner();
        if request.data.len() > crate::websocket::MAX_MESSAGE {
            return Err(status(ErrorCode::InvalidArgument, "Message too long"));
        }
        let local = self
            .websockets
            .local(&request.api_id, &request.connection_id)
            .ok_or_else(|| gone(&request.connection_id))?;
        match self.websockets.send(&local.session, request.data).await {
            Ok(()) => {}
            Err(crate::websocket::Unreachable::Full) => {
                return Err(status(ErrorCode::Throttled, "the connection's outbound queue is full"));
            }
            Err(_) => return Err(gone(&request.connection_id)),
        }
        Ok(Response::new(PostToConnectionResponse {}))
    }

    async fn get_connection(
        &self,
        request: Request<GetConnectionRequest>,
    ) -> Result<Response<GetConnectionResponse>, Status> {
        let request = request.into_inner();
        let local = self
            .websockets
            .local(&request.api_id, &request.connection_id)
            .ok_or_else(|| gone(&request.connection_id))?;
        Ok(Response::new(crate::websocket::describe_local(&local)))
    }

    async fn delete_connection(
        &self,
        request: Request<DeleteConnectionRequest>,
    ) -> Result<Response<DeleteConnectionResponse>, Status> {
        let request = request.into_inner();
        let local = self
            .websockets
            .local(&request.api_id, &request.connection_id)
            .ok_or_else(|| gone(&request.connection_id))?;
        local.close.notify_one();
        Ok(Response::new(DeleteConnectionResponse {}))
    }

    async fn invalidate_api(
        &self,
        request: Request<InvalidateApiRequest>,
    ) -> Result<Response<InvalidateApiResponse>, Status> {
        self.apis.invalidate(&request.into_inner().api_id);
        Ok(Response::new(InvalidateApiResponse {}))
    }
}
