//! The timings of the DynamoDB layer that DynamoDB fixes and tests need
//! short: how long a shard iterator lasts, how long stream records are
//! kept, how long a stream shard takes writes before a new one follows,
//! and how often the item counts DescribeTable reports are refreshed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// The `[data.dynamodb]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long a shard iterator can be used (DynamoDB: 15 minutes).
    pub iterator_secs: u64,
    /// How long stream records are kept (DynamoDB: 24 hours).
    pub stream_retention_secs: u64,
    /// How long a stream shard takes records before it closes and a child
    /// shard follows it (DynamoDB rotates about every four hours). Fixed
    /// per stream when it is enabled.
    pub shard_secs: u64,
    /// How often a table's `ItemCount` and `TableSizeBytes` are counted
    /// again (DynamoDB: about every six hours).
    pub statistics_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            iterator_secs: 15 * 60,
            stream_retention_secs: 24 * 3600,
            shard_secs: 4 * 3600,
            statistics_secs: 6 * 3600,
        }
    }
}

impl Settings {
    pub fn iterator_lifetime(&self) -> Duration {
        Duration::from_secs(self.iterator_secs)
    }

    pub fn stream_retention(&self) -> Duration {
        Duration::from_secs(self.stream_retention_secs)
    }
}

/// The settings and what the background passes remember between runs.
#[derive(Debug, Default)]
pub struct Runtime {
    pub settings: Settings,
    /// Per stream log, the first shard generation not yet known trimmed.
    pub trimmed_below: Mutex<HashMap<String, u64>>,
}

impl Runtime {
    pub fn new(settings: Settings) -> Arc<Self> {
        Arc::new(Self { settings, trimmed_below: Mutex::default() })
    }
}
