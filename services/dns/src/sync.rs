//! Replicas in step with data.

use std::sync::Arc;

use nubo_proto::clients::RecordsClient;

use crate::authority::Authority;

#[derive(Clone)]
pub struct Sync {
    #[allow(dead_code)]
    records: RecordsClient,
    #[allow(dead_code)]
    authority: Arc<Authority>,
}

impl std::fmt::Debug for Sync {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Sync")
    }
}

impl Sync {
    pub fn new(records: RecordsClient, authority: Arc<Authority>) -> Self {
        Self { records, authority }
    }

    pub async fn reload(&self, _zone_id: &str) -> Result<(), nubo_proto::RemoteError> {
        Ok(())
    }

    pub async fn run(&self, _interval: std::time::Duration, shutdown: nubo_host::Shutdown) {
        shutdown.cancelled().await;
    }
}
