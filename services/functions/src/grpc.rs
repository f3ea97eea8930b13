//! The `nubo.functions.v1.Functions` gRPC adapter over [`Lambda`].

use bytes::Bytes;
use nubo_proto::functions::{
    FunctionInfo, FunctionUrlInfo, GetFunctionRequest, GetFunctionUrlRequest, InvocationType as WireInvocationType,
    InvokeRequest, InvokeResponse,
    functions_server::{Functions, FunctionsServer},
};
use tonic::{Request, Response, Status};

use crate::lambda::{InvocationType, InvokeOutcome, Lambda};

/// Largest gRPC message accepted: a 6 MB payload with room to spare.
const MAX_MESSAGE: usize = 8 * 1024 * 1024;

pub fn server(lambda: Lambda) -> FunctionsServer<FunctionsApi> {
    FunctionsServer::new(FunctionsApi { lambda })
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}

#[derive(Debug)]
pub struct FunctionsApi {
    lambda: Lambda,
}

#[tonic::async_trait]
impl Functions for FunctionsApi {
    async fn invoke(&self, request: Request<InvokeRequest>) -> Result<Response<InvokeResponse>, Status> {
        let request = request.into_inner();
        let invocation_type = match request.invocation_type() {
            WireInvocationType::RequestResponse => InvocationType::RequestResponse,
            WireInvocationType::Event => InvocationType::Event,
            WireInvocationType::DryRun => InvocationType::DryRun,
        };
        let reference = match request.qualifier.as_str() {
            "" => request.function.clone(),
            qualifier => format!("{}:{qualifier}", request.function),
        };
        let client_context = Some(request.client_context).filter(|context| !context.is_empty());
        let outcome = self
            .lambda
            .invoke(&reference, invocation_type, Bytes::from(request.payload), client_context, request.tail_logs)
            .await?;
        Ok(Response::new(match outcome {
            InvokeOutcome::DryRun => InvokeResponse { status_code: 204, ..Default::default() },
            InvokeOutcome::Queued(request_id) => InvokeResponse { status_code: 202, request_id, ..Default::default() },
            InvokeOutcome::Completed(invoked) => InvokeResponse {
                status_code: 200,
                payload: invoked.payload.to_vec(),
                function_error: invoked.function_error.unwrap_or_default(),
                log_result: invoked.log_result.unwrap_or_default(),
                executed_version: invoked.executed_version,
                request_id: invoked.request_id,
            },
        }))
    }

    async fn get_function_url(
        &self,
        request: Request<GetFunctionUrlRequest>,
    ) -> Result<Response<FunctionUrlInfo>, Status> {
        let url = self.lambda.url_by_id(&request.into_inner().url_id).await?;
        Ok(Response::new(FunctionUrlInfo {
            function: url.function,
            qualifier: url.qualifier,
            auth_type: url.auth_type,
            cors_json: url.cors.map(|cors| cors.to_string()).unwrap_or_default(),
        }))
    }

    async fn get_function(&self, request: Request<GetFunctionRequest>) -> Result<Response<FunctionInfo>, Status> {
        let function = self.lambda.get_function(&request.into_inner().function).await?;
        Ok(Response::new(FunctionInfo {
            arn: self.lambda.arn(&function),
            name: function.name,
            runtime: function.runtime,
            handler: function.handler,
            code_sha256: function.code_sha256,
        }))
    }
}
