//! Typed clients of the internal APIs other services call, over lazy gRPC
//! channels that carry the cluster credential ([`Link`]). They speak domain
//! types and [`RemoteError`], so callers never handle `tonic` types.

use crate::{
    Link, RemoteError,
    data::{
        DeleteRecordRequest, GetRecordRequest, ItemActionRequest, ListRecordsRequest, PutRecordRequest, Record,
        data_client::DataClient,
    },
    functions::{InvokeRequest, InvokeResponse, functions_client::FunctionsClient as RawFunctionsClient},
    storage::{
        GetObjectRequest, ObjectHeader, ObjectInfo, PutObjectPart, put_object_part::Part, storage_client::StorageClient,
    },
};

/// Chunk size for streaming object bytes over gRPC.
const CHUNK: usize = 1024 * 1024;
/// Largest gRPC message a client accepts (storage chunks, function payloads).
const MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// Versioned records kept by the data service.
#[derive(Debug, Clone)]
pub struct RecordsClient {
    inner: DataClient<Link>,
}

impl RecordsClient {
    pub fn new(link: Link) -> Self {
        Self { inner: DataClient::new(link).max_decoding_message_size(MAX_MESSAGE) }
    }

    fn error(status: tonic::Status) -> RemoteError {
        RemoteError::from_status("data", &status)
    }

    /// Writes a record; `expected_version` 0 means "must not exist".
    pub async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: Vec<u8>,
        expected_version: Option<u64>,
    ) -> Result<u64, RemoteError> {
        let request = PutRecordRequest { namespace: namespace.into(), key: key.into(), value, expected_version };
        Ok(self.inner.clone().put_record(request).await.map_err(Self::error)?.into_inner().version)
    }

    pub async fn get(&self, namespace: &str, key: &str) -> Result<Option<Record>, RemoteError> {
        let request = GetRecordRequest { namespace: namespace.into(), key: key.into() };
        Ok(self.inner.clone().get_record(request).await.map_err(Self::error)?.into_inner().record)
    }

    /// Returns whether the record existed.
    pub async fn delete(&self, namespace: &str, key: &str, expected_version: Option<u64>) -> Result<bool, RemoteError> {
        let request = DeleteRecordRequest { namespace: namespace.into(), key: key.into(), expected_version };
        Ok(self.inner.clone().delete_record(request).await.map_err(Self::error)?.into_inner().existed)
    }

    /// One page of a namespace and the key to continue after, if any.
    pub async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        start_after: &str,
        limit: u32,
    ) -> Result<(Vec<Record>, Option<String>), RemoteError> {
        let request = ListRecordsRequest {
            namespace: namespace.into(),
            prefix: prefix.into(),
            start_after: start_after.into(),
            limit,
        };
        let response = self.inner.clone().list_records(request).await.map_err(Self::error)?.into_inner();
        Ok((response.records, response.next_start_after))
    }
}

impl RecordsClient {
    /// Every record of a namespace whose key starts with `prefix`, over as
    /// many pages as it takes.
    pub async fn list_all(&self, namespace: &str, prefix: &str) -> Result<Vec<Record>, RemoteError> {
        let mut records = Vec::new();
        let mut after = String::new();
        loop {
            let (page, next) = self.list(namespace, prefix, &after, 1000).await?;
            let empty = page.is_empty();
            records.extend(page);
            match next {
                // A next key with an empty page would never end.
                Some(key) if !empty => after = key,
                _ => return Ok(records),
            }
        }
    }
}

/// Object bytes kept by the storage service.
#[derive(Debug, Clone)]
pub struct ObjectsClient {
    inner: StorageClient<Link>,
}

impl ObjectsClient {
    pub fn new(link: Link) -> Self {
        Self {
            inner: StorageClient::new(link)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        }
    }

    fn error(status: tonic::Status) -> RemoteError {
        RemoteError::from_status("storage", &status)
    }

    /// Stores `bytes` as one object, streamed in chunks.
    pub async fn put(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<ObjectInfo, RemoteError> {
        let header = PutObjectPart {
            part: Some(Part::Header(ObjectHeader {
                bucket: bucket.into(),
                key: key.into(),
                content_type: content_type.into(),
            })),
        };
        let mut parts = vec![header];
        parts.extend(bytes.chunks(CHUNK).map(|chunk| PutObjectPart { part: Some(Part::Chunk(chunk.to_vec())) }));
        let response = self.inner.clone().put_object(tokio_stream::iter(parts)).await.map_err(Self::error)?;
        response.into_inner().info.ok_or_else(|| RemoteError::internal("storage", "put answered without object info"))
    }

    /// Writes the object's bytes to `sink` as they arrive.
    pub async fn get_into<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        bucket: &str,
        key: &str,
        sink: &mut W,
    ) -> Result<u64, RemoteError> {
        use tokio::io::AsyncWriteExt as _;
        let request = GetObjectRequest { bucket: bucket.into(), key: key.into() };
        let mut stream = self.inner.clone().get_object(request).await.map_err(Self::error)?.into_inner();
        let mut written = 0;
        while let Some(chunk) = stream.message().await.map_err(Self::error)? {
            sink.write_all(&chunk.data)
                .await
                .map_err(|error| RemoteError::internal("storage", format!("cannot write object locally: {error}")))?;
            written += chunk.data.len() as u64;
        }
        Ok(written)
    }

    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, RemoteError> {
        let request = crate::storage::HeadObjectRequest { bucket: bucket.into(), key: key.into() };
        Ok(self.inner.clone().head_object(request).await.map_err(Self::error)?.into_inner())
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), RemoteError> {
        let request = crate::storage::DeleteObjectRequest { bucket: bucket.into(), key: key.into() };
        self.inner.clone().delete_object(request).await.map_err(Self::error)?;
        Ok(())
    }
}

/// DynamoDB actions (items, streams) served by the data service, with
/// requests and answers in DynamoDB JSON.
#[derive(Debug, Clone)]
pub struct ItemsClient {
    inner: DataClient<Link>,
}

impl ItemsClient {
    pub fn new(link: Link) -> Self {
        Self { inner: DataClient::new(link).max_decoding_message_size(MAX_MESSAGE) }
    }

    /// Runs one action (`"GetRecords"`, `"PutItem"`, ...).
    pub async fn execute(&self, action: &str, request: &serde_json::Value) -> Result<serde_json::Value, RemoteError> {
        let request = ItemActionRequest { action: action.into(), request_json: request.to_string().into_bytes() };
        let response = self
            .inner
            .clone()
            .execute_item_action(request)
            .await
            .map_err(|status| RemoteError::from_status("data", &status))?
            .into_inner();
        serde_json::from_slice(&response.response_json)
            .map_err(|error| RemoteError::internal("data", format!("an item action answered with bad JSON: {error}")))
    }
}

/// Function invocation through the functions service.
#[derive(Debug, Clone)]
pub struct FunctionsClient {
    inner: RawFunctionsClient<Link>,
}

impl FunctionsClient {
    pub fn new(link: Link) -> Self {
        Self {
            inner: RawFunctionsClient::new(link)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        }
    }

    /// What a function URL serves; `NotFound` for an unknown id.
    pub async fn function_url(&self, url_id: &str) -> Result<crate::functions::FunctionUrlInfo, RemoteError> {
        let request = crate::functions::GetFunctionUrlRequest { url_id: url_id.into() };
        Ok(self
            .inner
            .clone()
            .get_function_url(request)
            .await
            .map_err(|status| RemoteError::from_status("functions", &status))?
            .into_inner())
    }

    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, RemoteError> {
        Ok(self
            .inner
            .clone()
            .invoke(request)
            .await
            .map_err(|status| RemoteError::from_status("functions", &status))?
            .into_inner())
    }
}
