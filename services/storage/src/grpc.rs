//! The `nubo.storage.v1.Storage` gRPC adapter over [`Objects`].

use futures::{StreamExt, stream::BoxStream};
use nubo_proto::{
    ErrorCode, status,
    storage::{
        DeleteObjectRequest, DeleteObjectResponse, GetObjectRequest, HeadObjectRequest, ListObjectsRequest,
        ListObjectsResponse, ObjectChunk, ObjectInfo, PutObjectPart, PutObjectResponse,
        put_object_part::Part,
        storage_server::{Storage, StorageServer},
    },
};
use tonic::{Request, Response, Status, Streaming};

use crate::objects::{ObjectError, ObjectMeta, Objects};

/// Largest message the server accepts; clients send 1 MiB chunks.
const MAX_MESSAGE: usize = 8 * 1024 * 1024;

pub fn server(objects: Objects) -> StorageServer<StorageApi> {
    StorageServer::new(StorageApi { objects }).max_decoding_message_size(MAX_MESSAGE)
}

#[derive(Debug)]
pub struct StorageApi {
    objects: Objects,
}

fn to_status(error: ObjectError) -> Status {
    let code = match &error {
        ObjectError::InvalidBucket(_) | ObjectError::InvalidKey(_) => ErrorCode::InvalidArgument,
        ObjectError::NotFound { .. } => ErrorCode::NotFound,
        ObjectError::Store(_) | ObjectError::Io(_) => {
            tracing::error!(%error, "object store failure");
            ErrorCode::Internal
        }
    };
    status(code, error.to_string())
}

fn info(meta: ObjectMeta) -> ObjectInfo {
    ObjectInfo {
        bucket: meta.bucket,
        key: meta.key,
        size: meta.size,
        etag: meta.etag,
        last_modified_unix_ms: meta.last_modified_unix_ms,
    }
}

#[tonic::async_trait]
impl Storage for StorageApi {
    async fn put_object(
        &self,
        request: Request<Streaming<PutObjectPart>>,
    ) -> Result<Response<PutObjectResponse>, Status> {
        let mut parts = request.into_inner();
        let header = match parts.message().await? {
            Some(PutObjectPart { part: Some(Part::Header(header)) }) => header,
            _ => return Err(status(ErrorCode::InvalidArgument, "the first message must carry the object header")),
        };
        let chunks = parts.map(|part| match part {
            Ok(PutObjectPart { part: Some(Part::Chunk(chunk)) }) => Ok(bytes::Bytes::from(chunk)),
            Ok(_) => Err(ObjectError::InvalidKey("a second header arrived mid-object".into())),
            Err(status) => Err(ObjectError::Io(std::io::Error::other(status.message().to_owned()))),
        });
        let meta = self.objects.put(&header.bucket, &header.key, chunks).await.map_err(to_status)?;
        Ok(Response::new(PutObjectResponse { info: Some(info(meta)) }))
    }

    type GetObjectStream = BoxStream<'static, Result<ObjectChunk, Status>>;

    async fn get_object(&self, request: Request<GetObjectRequest>) -> Result<Response<Self::GetObjectStream>, Status> {
        let request = request.into_inner();
        let stream = self.objects.get(&request.bucket, &request.key).await.map_err(to_status)?;
        Ok(Response::new(
            stream.map(|chunk| chunk.map(|data| ObjectChunk { data: data.to_vec() }).map_err(to_status)).boxed(),
        ))
    }

    async fn head_object(&self, request: Request<HeadObjectRequest>) -> Result<Response<ObjectInfo>, Status> {
        let request = request.into_inner();
        let meta = self.objects.head(&request.bucket, &request.key).await.map_err(to_status)?;
        Ok(Response::new(info(meta)))
    }

    async fn delete_object(
        &self,
        request: Request<DeleteObjectRequest>,
    ) -> Result<Response<DeleteObjectResponse>, Status> {
        let request = request.into_inner();
        self.objects.delete(&request.bucket, &request.key).await.map_err(to_status)?;
        Ok(Response::new(DeleteObjectResponse {}))
    }

    async fn list_objects(
        &self,
        request: Request<ListObjectsRequest>,
    ) -> Result<Response<ListObjectsResponse>, Status> {
        let request = request.into_inner();
        let objects = self.objects.list(&request.bucket, &request.prefix).await.map_err(to_status)?;
        Ok(Response::new(ListObjectsResponse { objects: objects.into_iter().map(info).collect() }))
    }
}
