//! What functions print, kept: every line an environment writes, and the
//! START, END and REPORT lines of each invocation, as CloudWatch Logs keeps
//! them for Lambda (group `/aws/lambda/{function}`, one stream per
//! environment). Lines are shipped off the invocation path in batches, one
//! data record per function per batch, and each function keeps its newest
//! [`MAX_RECORDS`] batches. They are read back through the CloudWatch Logs
//! API subset in [`crate::logs_api`], which `aws logs tail` and
//! `nubo logs` use.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt},
    sync::mpsc,
};

use crate::{error::Result, registry::Registry};

/// The data namespace of log batches: `{function}/{first_ms:016}/{sequence:012}-{id}`.
pub const LOGS: &str = "function-logs.v1";
/// Batches kept per function.
pub const MAX_RECORDS: usize = 2000;
/// CloudWatch's limit on one event; a longer line is cut there.
pub const MAX_LINE_BYTES: usize = 256 * 1024;
/// Lines waiting to be shipped; past it, lines are dropped and counted.
const QUEUE: usize = 10_000;
/// The most one stored batch holds, serialized (CloudWatch's limit on one
/// PutLogEvents batch); a reader can then fetch [`BATCHES_PER_READ`] of
/// them in one message of the data plane.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Batches fetched per read: at most 6 MiB, under the data plane's 8 MiB.
pub const BATCHES_PER_READ: u32 = 6;
/// The most one event takes serialized: a line of MAX_LINE_BYTES with its
/// time and stream fits; one of control characters, each escaped as
/// `\u00XX`, would take six times that and is cut further.
const MAX_EVENT_BYTES: usize = MAX_LINE_BYTES + 4096;
/// `{"events":[` and `]}` around a batch's events.
const BATCH_FRAMING_BYTES: usize = 13;

/// One log event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    pub timestamp: i64,
    pub stream: String,
    pub message: String,
}

/// A batch of one function's events, as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogBatch {
    pub events: Vec<LogEvent>,
}

/// Where environments send their lines.
#[derive(Debug, Clone)]
pub struct LogShipper {
    sender: mpsc::Sender<(String, LogEvent)>,
}

impl LogShipper {
    /// A shipper and the task that writes its batches.
    pub fn new(registry: Registry) -> (Self, impl std::future::Future<Output = ()>) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        (Self { sender }, ship(registry, receiver))
    }

    /// Queues one line of `function`'s log; never waits.
    pub fn line(&self, function: &str, stream: &str, message: String) {
        let event = LogEvent { timestamp: chrono::Utc::now().timestamp_millis(), stream: stream.to_owned(), message };
        if self.sender.try_send((function.to_owned(), event)).is_err() {
            tracing::warn!(function, "function log lines are arriving faster than they can be kept; one was dropped");
        }
    }
}

async fn ship(registry: Registry, mut receiver: mpsc::Receiver<(String, LogEvent)>) {
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    let mut sequence: u64 = 0;
    while let Some(first) = receiver.recv().await {
        // Gather what arrives within a moment into as few writes per
        // function as fit in MAX_BATCH_BYTES.
        let mut gathering: BTreeMap<String, (LogBatch, usize)> = BTreeMap::new();
        let mut full: Vec<(String, LogBatch)> = Vec::new();
        let mut add = |function: String, mut event: LogEvent| {
            // An event's serialized size plus its comma.
            let size = bounded(&mut event) + 1;
            let (batch, bytes) = gathering.entry(function.clone()).or_default();
            if !batch.events.is_empty() && *bytes + size > MAX_BATCH_BYTES - BATCH_FRAMING_BYTES {
                full.push((function, std::mem::take(batch)));
                *bytes = 0;
            }
            batch.events.push(event);
            *bytes += size;
        };
        add(first.0, first.1);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(Some((function, event))) = tokio::time::timeout_at(deadline, receiver.recv()).await {
            add(function, event);
        }
        full.extend(gathering.into_iter().map(|(function, (batch, _))| (function, batch)));
        for (function, batch) in full {
            let first_ms = batch.events.first().map_or(0, |event| event.timestamp);
            // The sequence keeps this shipper's batches of one millisecond
            // in the order they were written.
            sequence += 1;
            let key = format!("{function}/{first_ms:016}/{sequence:012}-{}", uuid::Uuid::new_v4().simple());
            if let Err(error) = registry.put_as(LOGS, &key, &batch, 0).await {
                tracing::warn!(function, %error, "function log lines could not be kept");
                continue;
            }
            let count = written.entry(function.clone()).or_default();
            *count += 1;
            if count.is_multiple_of(100)
                && let Err(error) = prune(&registry, &function).await
            {
                tracing::warn!(function, %error, "old function log lines could not be removed");
            }
        }
    }
}

/// Cuts an event's message until it serializes to at most
/// [`MAX_EVENT_BYTES`]; returns its serialized size.
fn bounded(event: &mut LogEvent) -> usize {
    loop {
        let size = serde_json::to_vec(&*event).map_or(0, |json| json.len());
        if size <= MAX_EVENT_BYTES || event.message.is_empty() {
            return size;
        }
        // Keep the share of the message that fits, at a character boundary.
        let mut keep = event.message.len() * MAX_EVENT_BYTES / size;
        while !event.message.is_char_boundary(keep) {
            keep -= 1;
        }
        event.message.truncate(keep);
    }
}

/// Drops a function's oldest batches beyond [`MAX_RECORDS`].
async fn prune(registry: &Registry, function: &str) -> Result<()> {
    let keys = registry.keys(LOGS, &format!("{function}/")).await?;
    for key in keys.iter().take(keys.len().saturating_sub(MAX_RECORDS)) {
        registry.delete_as(LOGS, key).await?;
    }
    Ok(())
}

/// Reads one line of at most [`MAX_LINE_BYTES`] (the rest of a longer line
/// is skipped), without its line ending. `None` at the end of input.
pub async fn read_line_capped<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<String> {
    let mut line = Vec::new();
    let mut seen_any = false;
    loop {
        let buffer = match reader.fill_buf().await {
            Ok(buffer) => buffer,
            Err(_) => return seen_any.then(|| finish(line)),
        };
        if buffer.is_empty() {
            return seen_any.then(|| finish(line));
        }
        seen_any = true;
        let (chunk, used, ended) = match buffer.iter().position(|byte| *byte == b'\n') {
            Some(at) => (&buffer[..at], at + 1, true),
            None => (buffer, buffer.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if ended {
            return Some(finish(line));
        }
    }
}

fn finish(mut line: Vec<u8>) -> String {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8_lossy(&line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_that_escapes_large_is_cut_to_fit_a_batch() {
        let mut event = LogEvent { timestamp: 1, stream: "s".into(), message: "\u{1}".repeat(MAX_LINE_BYTES) };
        let size = bounded(&mut event);
        assert!(size <= MAX_EVENT_BYTES && size > MAX_EVENT_BYTES - 64, "{size}");
        let mut plain = LogEvent { timestamp: 1, stream: "s".into(), message: "é".repeat(1000) };
        bounded(&mut plain);
        assert_eq!(plain.message.len(), 2000);
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_the_rest_is_read() {
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        let input = format!("short\r\n{long}\nnext\nlast without newline");
        let mut reader = tokio::io::BufReader::with_capacity(1024, input.as_bytes());
        assert_eq!(read_line_capped(&mut reader).await.as_deref(), Some("short"));
        assert_eq!(read_line_capped(&mut reader).await.map(|line| line.len()), Some(MAX_LINE_BYTES));
        assert_eq!(read_line_capped(&mut reader).await.as_deref(), Some("next"));
        assert_eq!(read_line_capped(&mut reader).await.as_deref(), Some("last without newline"));
        assert_eq!(read_line_capped(&mut reader).await, None);
    }
}
