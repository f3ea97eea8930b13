//! Stage access logs in the stage's `accessLogSettings.format`, every
//! `$context.*` variable replaced by its value (`-` when it has none, as
//! API Gateway writes it). Lines go where nubo keeps logs on disk, one file
//! per log group (the group of `destinationArn`) and process under
//! `{state}/gateway/logs/{group}/{process}.log`, so replicas sharing a
//! state directory never write the same file.
//!
//! As the cdn's access log: a request formats its line and hands it to a
//! bounded queue without waiting; a full queue drops the line and counts it
//! (delivery is best-effort, as CloudWatch's is). One writer thread appends
//! and flushes whenever the queue runs dry.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
};

use crate::{
    error::{GatewayError, Result},
    request_context::RequestContext,
};

/// Lines waiting for the writer before new ones are dropped.
const QUEUE_LINES: usize = 16_384;
/// Parsed formats kept, one per distinct format text in use.
const CACHED_FORMATS: u64 = 1_024;

/// A parsed format: text and `$context` variables in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Variable(String),
}

const PREFIX: &str = "$context.";

impl Format {
    /// A format as CreateStage and UpdateStage accept it: it must name the
    /// request id, as API Gateway requires.
    pub fn parse(format: &str) -> Result<Self> {
        let mut pieces = Vec::new();
        let mut rest = format;
        while let Some(start) = rest.find(PREFIX) {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + PREFIX.len()..];
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_')).unwrap_or(after.len());
            let name = after[..end].trim_end_matches('.');
            pieces.push(Piece::Variable(name.to_owned()));
            rest = &after[name.len()..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        let names_request = pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Variable(name) if name == "requestId" || name == "extendedRequestId"));
        if !names_request {
            return Err(GatewayError::BadRequest(
                "Access Log format must contain at least one of the following: $context.requestId, $context.extendedRequestId"
                    .into(),
            ));
        }
        Ok(Self { pieces })
    }

    pub fn render(&self, context: &RequestContext) -> String {
        let mut line = String::with_capacity(128);
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => line.push_str(text),
                Piece::Variable(name) => match context.get(name) {
                    Some(value) => line.push_str(&value),
                    None => line.push('-'),
                },
            }
        }
        line
    }
}

/// The log group an ARN names (`arn:aws:logs:{region}:{account}:log-group:{name}[:*]`),
/// made safe as one directory name.
pub fn group_directory(destination_arn: &str) -> String {
    let group = destination_arn.split_once(":log-group:").map(|(_, group)| group).unwrap_or(destination_arn);
    let group = group.strip_suffix(":*").unwrap_or(group);
    let safe: String =
        group.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') { "_".into() } else { safe }
}

#[derive(Debug, Clone)]
pub struct AccessLog {
    sender: Option<mpsc::SyncSender<(String, String)>>,
    dropped: Arc<AtomicU64>,
    /// Formats parsed once, by their text: a stage revision that changes
    /// the format brings a new text, so an entry never goes stale.
    formats: moka::sync::Cache<String, Arc<Format>>,
}

impl AccessLog {
    /// A log writing under `{state}/gateway/logs/`.
    pub fn start(state_dir: &Path) -> Self {
        let (sender, receiver) = mpsc::sync_channel(QUEUE_LINES);
        let root = state_dir.join("gateway").join("logs");
        let process = format!("{}-{}", std::process::id(), &crate::model::new_id()[..6]);
        let spawned =
            std::thread::Builder::new().name("gateway-access-log".into()).spawn(move || write(root, process, receiver));
        if let Err(error) = spawned {
            tracing::error!(%error, "cannot start the access log writer; access logs are off");
            return Self::disabled();
        }
        Self { sender: Some(sender), dropped: Arc::default(), formats: moka::sync::Cache::new(CACHED_FORMATS) }
    }

    pub fn disabled() -> Self {
        Self { sender: None, dropped: Arc::default(), formats: moka::sync::Cache::new(CACHED_FORMATS) }
    }

    /// The parsed form of a stage's format, parsed on its first use only;
    /// `None` for a format that does not parse (CreateStage refuses those).
    pub fn format(&self, text: &str) -> Option<Arc<Format>> {
        if let Some(format) = self.formats.get(text) {
            return Some(format);
        }
        let format = Arc::new(Format::parse(text).ok()?);
        self.formats.insert(text.to_owned(), format.clone());
        Some(format)
    }

    /// Queues one line for the log group `group`; never waits.
    pub fn record(&self, group: String, line: String) {
        if let Some(sender) = &self.sender
            && sender.try_send((group, line)).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn write(root: PathBuf, process: String, receiver: mpsc::Receiver<(String, String)>) {
    let mut files: HashMap<String, BufWriter<File>> = HashMap::new();
    let open = |group: &str| -> std::io::Result<BufWriter<File>> {
        let directory = root.join(group);
        std::fs::create_dir_all(&directory)?;
        let file = OpenOptions::new().create(true).append(true).open(directory.join(format!("{process}.log")))?;
        Ok(BufWriter::new(file))
    };
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some((group, line)) = next {
            if !files.contains_key(&group) {
                match open(&group) {
                    Ok(file) => {
                        files.insert(group.clone(), file);
                    }
                    Err(error) => tracing::warn!(%group, %error, "cannot open an access log"),
                }
            }
            if let Some(file) = files.get_mut(&group)
                && let Err(error) = writeln!(file, "{line}")
            {
                tracing::warn!(%group, %error, "cannot write an access log line");
            }
            next = receiver.try_recv().ok();
        }
        for file in files.values_mut() {
            let _ = file.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fill_context_variables() {
        let format = Format::parse(r#"{"id":"$context.requestId","status":"$context.status","ip":"$context.identity.sourceIp","lat":$context.integrationLatency}"#).unwrap();
        let context = RequestContext {
            request_id: "r1".into(),
            status: 429,
            source_ip: "127.0.0.1".into(),
            ..Default::default()
        };
        assert_eq!(format.render(&context), r#"{"id":"r1","status":"429","ip":"127.0.0.1","lat":-}"#);
        let plain = Format::parse("$context.requestId $context.routeKey.").unwrap();
        let context = RequestContext { request_id: "r".into(), route_key: "GET /a".into(), ..Default::default() };
        assert_eq!(plain.render(&context), "r GET /a.");
    }

    #[test]
    fn formats_are_parsed_once_per_text() {
        let log = AccessLog::disabled();
        let first = log.format("$context.requestId").unwrap();
        assert!(Arc::ptr_eq(&first, &log.format("$context.requestId").unwrap()));
        assert!(!Arc::ptr_eq(&first, &log.format("$context.requestId $context.status").unwrap()));
        assert!(log.format("$context.status").is_none());
    }

    #[test]
    fn formats_must_name_the_request() {
        assert!(Format::parse("$context.status").is_err());
        assert!(Format::parse("$context.extendedRequestId").is_ok());
    }

    #[test]
    fn groups_become_safe_directories() {
        assert_eq!(group_directory("arn:aws:logs:us-east-1:000000000000:log-group:/aws/http/api:*"), "_aws_http_api");
        assert_eq!(group_directory(".."), "_");
    }
}
