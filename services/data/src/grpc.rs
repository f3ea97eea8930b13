//! The `nubo.data.v1.Data` gRPC adapter over [`RecordStore`] and the
//! DynamoDB layer.

use nubo_proto::{
    ErrorCode,
    data::{
        DeleteRecordRequest, DeleteRecordResponse, GetRecordRequest, GetRecordResponse, ItemActionRequest,
        ItemActionResponse, ListRecordsRequest, ListRecordsResponse, PutRecordRequest, PutRecordResponse,
        ReadStreamRequest, Record as WireRecord, StreamRecord,
        data_server::{Data, DataServer},
    },
    status,
};
use tonic::{Request, Response, Status};

use crate::{
    dynamodb::{Action, Dynamo, error::ErrorKind},
    records::{RecordError, RecordStore},
};

pub fn server(store: RecordStore, dynamo: Dynamo) -> DataServer<DataApi> {
    DataServer::new(DataApi { store, dynamo })
}

#[derive(Debug)]
pub struct DataApi {
    store: RecordStore,
    dynamo: Dynamo,
}

fn to_status(error: RecordError) -> Status {
    match error {
        RecordError::VersionMismatch { .. } => status(ErrorCode::ConditionFailed, error.to_string()),
        RecordError::InvalidAddress(_) => status(ErrorCode::InvalidArgument, error.to_string()),
        RecordError::Storage(_) => {
            tracing::error!(%error, "record store failure");
            status(ErrorCode::Internal, error.to_string())
        }
    }
}

#[tonic::async_trait]
impl Data for DataApi {
    async fn put_record(&self, request: Request<PutRecordRequest>) -> Result<Response<PutRecordResponse>, Status> {
        let request = request.into_inner();
        let store = self.store.clone();
        let version = store
            .put(&request.namespace, &request.key, &request.value, request.expected_version)
            .await
            .map_err(to_status)?;
        Ok(Response::new(PutRecordResponse { version }))
    }

    async fn get_record(&self, request: Request<GetRecordRequest>) -> Result<Response<GetRecordResponse>, Status> {
        let request = request.into_inner();
        let store = self.store.clone();
        let namespace = request.namespace.clone();
        let record = store.get(&request.namespace, &request.key).await.map_err(to_status)?;
        Ok(Response::new(GetRecordResponse {
            record: record.map(|record| WireRecord {
                namespace,
                key: record.key,
                value: record.value,
                version: record.version,
            }),
        }))
    }

    async fn delete_record(
        &self,
        request: Request<DeleteRecordRequest>,
    ) -> Result<Response<DeleteRecordResponse>, Status> {
        let request = request.into_inner();
        let store = self.store.clone();
        let existed =
            store.delete(&request.namespace, &request.key, request.expected_version).await.map_err(to_status)?;
        Ok(Response::new(DeleteRecordResponse { existed }))
    }

    async fn list_records(
        &self,
        request: Request<ListRecordsRequest>,
    ) -> Result<Response<ListRecordsResponse>, Status> {
        let request = request.into_inner();
        let store = self.store.clone();
        let namespace = request.namespace.clone();
        let limit = if request.limit == 0 { crate::records::MAX_PAGE } else { request.limit as usize };
        let (records, more) =
            store.list(&request.namespace, &request.prefix, &request.start_after, limit).await.map_err(to_status)?;
        let next_start_after = if more { records.last().map(|record| record.key.clone()) } else { None };
        Ok(Response::new(ListRecordsResponse {
            records: records
                .into_iter()
                .map(|record| WireRecord {
                    namespace: namespace.clone(),
                    key: record.key,
                    value: record.value,
                    version: record.version,
                })
                .collect(),
            next_start_after,
        }))
    }

    async fn execute_item_action(
        &self,
        request: Request<ItemActionRequest>,
    ) -> Result<Response<ItemActionResponse>, Status> {
        let request = request.into_inner();
        // Item actions and, for event source mappings, stream reads.
        let action = Action::parse(&request.action)
            .or_else(|| Action::parse_streams(&request.action))
            .ok_or_else(|| status(ErrorCode::InvalidArgument, format!("unknown DynamoDB action {}", request.action)))?;
        let body = serde_json::from_slice(&request.request_json)
            .map_err(|error| status(ErrorCode::InvalidArgument, format!("request is not JSON: {error}")))?;
        match self.dynamo.execute(action, body).await {
            Ok(response) => Ok(Response::new(ItemActionResponse { response_json: response.to_string().into_bytes() })),
            Err(error) => {
                let code = match error.kind {
                    ErrorKind::ResourceNotFound => ErrorCode::NotFound,
                    ErrorKind::ConditionalCheckFailed | ErrorKind::TransactionCanceled => ErrorCode::ConditionFailed,
                    ErrorKind::InternalServerError => ErrorCode::Internal,
                    _ => ErrorCode::InvalidArgument,
                };
                let aws = error.to_aws();
                Err(nubo_proto::aws_status(code, aws.short_code(), aws.message.clone()))
            }
        }
    }

    type ReadStreamStream = tokio_stream_empty::Empty;

    async fn read_stream(
        &self,
        _request: Request<ReadStreamRequest>,
    ) -> Result<Response<Self::ReadStreamStream>, Status> {
        Err(status(ErrorCode::Unimplemented, "DynamoDB streams are not served yet"))
    }
}

mod tokio_stream_empty {
    use super::{Status, StreamRecord};

    /// The stream type of `ReadStream` until streams exist.
    pub type Empty = std::pin::Pin<Box<dyn futures::Stream<Item = Result<StreamRecord, Status>> + Send>>;
}
