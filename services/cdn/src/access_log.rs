//! Standard access logs, in CloudFront's format: one file per
//! distribution and hour under `{state}/cdn/logs/{distribution}/`, each a
//! W3C extended log (`#Version` and `#Fields` lines, then one line of 33
//! tab-separated fields per viewer request, in CloudFront's order, values
//! URL-encoded as CloudFront encodes them).
//!
//! A viewer request formats nothing and waits on nothing: it hands
//! its [`LogLine`] to a bounded queue ([`AccessLog::record`]) and moves
//! on; a full queue drops the line and counts it
//! ([`AccessLog::dropped`]), as CloudFront, which delivers logs "on a
//! best-effort basis", may. One writer thread formats and appends,
//! flushing whenever the queue runs dry, and keeps a file open only for
//! its hour.
//!
//! Files are named as CloudFront names its objects,
//! `{prefix}/{distribution}.{YYYY-MM-DD-HH}.{unique}`, with `unique` drawn
//! once per process so replicas sharing a state directory never write the
//! same file. They are plain text, not gzip as CloudFront delivers them:
//! an hour still being written stays readable, and a replica that stops
//! mid-hour leaves a whole file.

use std::{
    collections::HashMap,
    fmt::Write as _,
    fs::File,
    io::{BufWriter, Write as _},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use http::HeaderValue;
use tokio::sync::{mpsc, oneshot};

use crate::{site::Site, stats::Outcome};

/// Lines waiting for the writer before new ones are dropped.
const QUEUE_LINES: usize = 16_384;
/// Lines written between two flushes when the queue never runs dry.
const BATCH_LINES: usize = 1_024;
/// The least time between two warnings of a failing log directory.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The two header lines of every file.
const HEADER: &str = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status \
cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol \
cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version \
fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type \
sc-content-len sc-range-start sc-range-end\n";

/// How the edge classified a response (`x-edge-result-type`,
/// `x-edge-response-result-type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EdgeResult {
    Hit,
    RefreshHit,
    #[default]
    Miss,
    LimitExceeded,
    CapacityExceeded,
    Error,
    /// Redirected from HTTP to HTTPS by the viewer protocol policy.
    Redirect,
}

impl EdgeResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "Hit",
            Self::RefreshHit => "RefreshHit",
            Self::Miss => "Miss",
            Self::LimitExceeded => "LimitExceeded",
            Self::CapacityExceeded => "CapacityExceeded",
            Self::Error => "Error",
            Self::Redirect => "Redirect",
        }
    }
}

impl From<Outcome> for EdgeResult {
    /// CloudFront logs what its cache passes to the origin as a miss.
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Hit => Self::Hit,
            Outcome::RefreshHit => Self::RefreshHit,
            Outcome::Miss | Outcome::Pass => Self::Miss,
            Outcome::Error => Self::Error,
        }
    }
}

/// What the viewer path knows of one request once its response is sent;
/// the distribution's own fields (`cs(Host)`) come from its [`Site`].
#[derive(Debug, Clone)]
pub struct LogLine {
    /// When the last byte of the response was written (`date`, `time`).
    pub time: SystemTime,
    /// The viewer's address (`c-ip`, `c-port`).
    pub client: SocketAddr,
    pub method: http::Method,
    /// The viewer's request target as it sent it: its path is
    /// `cs-uri-stem`, its query `cs-uri-query`.
    pub uri: http::Uri,
    /// The status sent, or 0 when the viewer went away first (`000`).
    pub status: u16,
    /// Bytes sent to the viewer, header fields included (`sc-bytes`).
    pub sc_bytes: u64,
    /// Bytes the viewer sent, header fields included (`cs-bytes`).
    pub cs_bytes: u64,
    pub referer: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
    /// Logged only when the distribution includes cookies.
    pub cookie: Option<HeaderValue>,
    /// The viewer's `Host` header (`x-host-header`).
    pub host: Option<HeaderValue>,
    pub forwarded_for: Option<HeaderValue>,
    /// How the response ended (`x-edge-result-type`) and how it was
    /// classified before it was sent (`x-edge-response-result-type`).
    pub result: EdgeResult,
    pub response_result: EdgeResult,
    /// The specific error when `result` is `Error` (`OriginConnectError`,
    /// `InvalidRequestMethod`, ...).
    pub detailed_result: Option<&'static str>,
    /// The `x-amz-cf-id` sent to the viewer (`x-edge-request-id`).
    pub request_id: String,
    /// Whether the viewer came over TLS (`cs-protocol`), and its
    /// negotiated protocol and cipher (`TLSv1.3`,
    /// `TLS_AES_128_GCM_SHA256`).
    pub https: bool,
    pub tls: Option<(String, String)>,
    pub version: http::Version,
    /// From the request's arrival to the last byte (`time-taken`) and to
    /// the first (`time-to-first-byte`).
    pub time_taken: Duration,
    pub time_to_first_byte: Duration,
    /// The response's `Content-Type`, `Content-Length`, and the range of
    /// its `Content-Range`.
    pub content_type: Option<HeaderValue>,
    pub content_length: Option<u64>,
    pub range: Option<(u64, u64)>,
}

impl Default for LogLine {
    fn default() -> Self {
        Self {
            time: SystemTime::UNIX_EPOCH,
            client: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            method: http::Method::GET,
            uri: http::Uri::from_static("/"),
            status: 0,
            sc_bytes: 0,
            cs_bytes: 0,
            referer: None,
            user_agent: None,
            cookie: None,
            host: None,
            forwarded_for: None,
            result: EdgeResult::Miss,
            response_result: EdgeResult::Miss,
            detailed_result: None,
            request_id: String::new(),
            https: false,
            tls: None,
            version: http::Version::HTTP_11,
            time_taken: Duration::ZERO,
            time_to_first_byte: Duration::ZERO,
            content_type: None,
            content_length: None,
            range: None,
        }
    }
}

/// A line on its way to the writer, with what it needs of its site.
#[derive(Debug)]
struct Queued {
    distribution: String,
    domain_name: String,
    prefix: String,
    line: LogLine,
}

#[derive(Debug)]
enum Message {
    Line(Box<Queued>),
    /// Write out everything queued before it, then answer.
    Flush(oneshot::Sender<()>),
}

/// The access logs of every distribution; cheap to clone.
#[derive(Debug, Clone)]
pub struct AccessLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None`: logging is off for this replica.
    sender: Option<mpsc::Sender<Message>>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Starts the writer of the logs under `{state_dir}/cdn/logs`, naming
    /// `edge_location` (`x-edge-location`) in every line. The writer ends
    /// once every clone of the log is dropped, after writing what was
    /// queued; [`AccessLog::flush`] first to be sure it is on disk.
    pub fn start(state_dir: &Path, edge_location: &str) -> Self {
        Self::start_with(state_dir.join("cdn").join("logs"), edge_location, QUEUE_LINES)
    }

    fn start_with(root: PathBuf, edge_location: &str, capacity: usize) -> Self {
        let (sender, receiver) = mpsc::channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = Writer::new(root, edge_location, dropped.clone());
        let spawned = std::thread::Builder::new().name("cdn-access-log".into()).spawn(move || writer.run(receiver));
        match spawned {
            Ok(_) => Self { inner: Arc::new(Inner { sender: Some(sender), dropped }) },
            Err(error) => {
                tracing::error!(%error, "the access log writer could not start: access logs are off");
                Self::disabled()
            }
        }
    }

    /// A log that writes nothing.
    pub fn disabled() -> Self {
        Self { inner: Arc::new(Inner { sender: None, dropped: Arc::default() }) }
    }

    /// Queues `line` for `site`'s log, if `site` logs; never waits. The
    /// viewer's cookies are kept only when the site includes them.
    pub fn record(&self, site: &Site, mut line: LogLine) {
        let (Some(sender), Some(logging)) = (&self.inner.sender, &site.logging) else { return };
        if !logging.include_cookies {
            line.cookie = None;
        }
        let queued = Queued {
            distribution: site.id.clone(),
            domain_name: site.domain_name.clone(),
            prefix: logging.prefix.clone(),
            line,
        };
        if sender.try_send(Message::Line(Box::new(queued))).is_err() {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until every line queued before the call is written to its
    /// file (or dropped, if it could not be).
    pub async fn flush(&self) {
        let Some(sender) = &self.inner.sender else { return };
        let (done, written) = oneshot::channel();
        if sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Lines dropped so far: the queue was full, or their file could not
    /// be written.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

/// The writer thread's state.
struct Writer {
    root: PathBuf,
    edge_location: String,
    /// This process's part of every file name.
    unique: String,
    /// The open file of each distribution and prefix, with its hour.
    open: HashMap<(String, String), OpenFile>,
    dropped: Arc<AtomicU64>,
    warned_at: Option<Instant>,
    /// Reused for every line.
    buffer: String,
}

struct OpenFile {
    /// Hours since the Unix epoch.
    hour: i64,
    file: BufWriter<File>,
}

impl Writer {
    fn new(root: PathBuf, edge_location: &str, dropped: Arc<AtomicU64>) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string()[..12].to_ascii_uppercase();
        Self {
            root,
            edge_location: edge_location.to_owned(),
            unique,
            open: HashMap::new(),
            dropped,
            warned_at: None,
            buffer: String::with_capacity(1024),
        }
    }

    fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        while let Some(message) = receiver.blocking_recv() {
            self.handle(message);
            let mut batch = 1;
            while batch < BATCH_LINES {
                let Ok(message) = receiver.try_recv() else { break };
                self.handle(message);
                batch += 1;
            }
            self.flush();
            self.close_past_hours(hour_of(SystemTime::now()));
        }
        self.flush();
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Line(queued) => self.write(&queued),
            Message::Flush(done) => {
                self.flush();
                let _ = done.send(());
            }
        }
    }

    fn write(&mut self, queued: &Queued) {
        let hour = hour_of(queued.line.time);
        let key = (queued.distribution.clone(), queued.prefix.clone());
        if self.open.get(&key).is_none_or(|open| open.hour != hour) {
            if let Some(mut old) = self.open.remove(&key) {
                let _ = old.file.flush();
            }
            match self.open_file(&queued.distribution, &queued.prefix, queued.line.time) {
                Ok(file) => {
                    self.open.insert(key.clone(), OpenFile { hour, file });
                }
                Err(error) => return self.failed(&queued.distribution, &error),
            }
        }
        self.buffer.clear();
        format_line(&mut self.buffer, &self.edge_location, &queued.domain_name, &queued.line);
        let Some(open) = self.open.get_mut(&key) else { return };
        if let Err(error) = open.file.write_all(self.buffer.as_bytes()) {
            self.open.remove(&key);
            self.failed(&queued.distribution, &error);
        }
    }

    /// Opens (or reopens, to append) the file of the hour of `time`,
    /// writing the header lines into a new one.
    fn open_file(&self, distribution: &str, prefix: &str, time: SystemTime) -> std::io::Result<BufWriter<File>> {
        let mut directory = self.root.join(safe_segment(distribution));
        for segment in prefix.split('/').filter(|segment| !segment.is_empty() && *segment != "." && *segment != "..") {
            directory.push(safe_segment(segment));
        }
        std::fs::create_dir_all(&directory)?;
        let at = DateTime::<Utc>::from(time);
        let name = format!(
            "{}.{:04}-{:02}-{:02}-{:02}.{}",
            safe_segment(distribution),
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            self.unique
        );
        let file = File::options().create(true).append(true).open(directory.join(name))?;
        let empty = file.metadata()?.len() == 0;
        let mut file = BufWriter::with_capacity(64 * 1024, file);
        if empty {
            file.write_all(HEADER.as_bytes())?;
        }
        Ok(file)
    }

    fn flush(&mut self) {
        let mut failed = Vec::new();
        for (key, open) in &mut self.open {
            if let Err(error) = open.file.flush() {
                failed.push((key.clone(), error));
            }
        }
        for (key, error) in failed {
            self.open.remove(&key);
            self.failed(&key.0, &error);
        }
    }

    /// Closes the files of hours that are over; a late line reopens its
    /// file to append.
    fn close_past_hours(&mut self, now: i64) {
        self.open.retain(|_, open| open.hour >= now);
    }

    fn failed(&mut self, distribution: &str, error: &std::io::Error) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if self.warned_at.is_none_or(|at| at.elapsed() >= WARNING_INTERVAL) {
            self.warned_at = Some(Instant::now());
            tracing::warn!(distribution, %error, root = %self.root.display(), "an access log could not be written: its lines are dropped");
        }
    }
}

/// Hours since the Unix epoch (negative before it).
fn hour_of(time: SystemTime) -> i64 {
    DateTime::<Utc>::from(time).timestamp().div_euclid(3600)
}

/// A path segment that stays one segment: no separator, no NUL, not `.`
/// or `..`.
fn safe_segment(text: &str) -> String {
    let cleaned: String = text.chars().map(|c| if c == '/' || c == '\\' || c == '\0' { '_' } else { c }).collect();
    match cleaned.as_str() {
        "" | "." | ".." => "_".into(),
        _ => cleaned,
    }
}

/// Appends `line`'s 33 fields, in CloudFront's order, and a newline to
/// `out`.
fn format_line(out: &mut String, edge_location: &str, domain_name: &str, line: &LogLine) {
    let at = DateTime::<Utc>::from(line.time);
    let (ssl_protocol, ssl_cipher) = match (&line.tls, line.https) {
        (Some((protocol, cipher)), true) => (protocol.as_str(), cipher.as_str()),
        _ => ("", ""),
    };
    let detailed = match (line.result, line.detailed_result) {
        (EdgeResult::Error, Some(detail)) => detail,
        (result, _) => result.as_str(),
    };
    let version = match line.version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    };
    let mut fields = Fields { out, first: true };
    fields.number(format_args!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day()));
    fields.number(format_args!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second()));
    fields.text(edge_location.as_bytes());
    fields.number(format_args!("{}", line.sc_bytes));
    fields.number(format_args!("{}", line.client.ip()));
    fields.text(line.method.as_str().as_bytes());
    fields.text(domain_name.as_bytes());
    fields.text(line.uri.path().as_bytes());
    match line.status {
        0 => fields.number(format_args!("000")),
        status => fields.number(format_args!("{status}")),
    }
    fields.text(header(&line.referer));
    fields.text(header(&line.user_agent));
    fields.text(line.uri.query().unwrap_or_default().as_bytes());
    fields.text(header(&line.cookie));
    fields.text(line.result.as_str().as_bytes());
    fields.text(line.request_id.as_bytes());
    fields.text(header(&line.host));
    fields.text(if line.https { b"https" } else { b"http" });
    fields.number(format_args!("{}", line.cs_bytes));
    fields.number(format_args!("{:.3}", line.time_taken.as_secs_f64()));
    fields.text(header(&line.forwarded_for));
    fields.text(ssl_protocol.as_bytes());
    fields.text(ssl_cipher.as_bytes());
    fields.text(line.response_result.as_str().as_bytes());
    fields.text(version.as_bytes());
    // Field-level encryption (fle-status, fle-encrypted-fields) is not
    // offered.
    fields.text(b"");
    fields.text(b"");
    fields.number(format_args!("{}", line.client.port()));
    fields.number(format_args!("{:.3}", line.time_to_first_byte.as_secs_f64()));
    fields.text(detailed.as_bytes());
    fields.text(header(&line.content_type));
    fields.optional(line.content_length);
    fields.optional(line.range.map(|(start, _)| start));
    fields.optional(line.range.map(|(_, end)| end));
    fields.out.push('\n');
}

/// A header field's bytes, empty when absent.
fn header(value: &Option<HeaderValue>) -> &[u8] {
    value.as_ref().map_or(&[][..], HeaderValue::as_bytes)
}

/// Writes tab-separated fields.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
}

impl Fields<'_> {
    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push('\t');
        }
    }

    /// A field that needs no escaping (numbers, dates, addresses).
    fn number(&mut self, value: std::fmt::Arguments<'_>) {
        self.separate();
        // Writing into a String cannot fail.
        let _ = self.out.write_fmt(value);
    }

    fn optional(&mut self, value: Option<u64>) {
        match value {
            Some(value) => self.number(format_args!("{value}")),
            None => self.text(b""),
        }
    }

    fn text(&mut self, value: &[u8]) {
        self.separate();
        escape(self.out, value);
    }
}

/// Writes `value` as CloudFront logs a field: `-` when empty, else with
/// ASCII 0–32, 127 and above, and `< > " # % { } | \ ^ ~ [ ] `` ` `` '`
/// percent-encoded (RFC 1738's unsafe characters), so a value never
/// holds a tab or a line break.
fn escape(out: &mut String, value: &[u8]) {
    if value.is_empty() {
        out.push('-');
        return;
    }
    for &byte in value {
        if byte <= 32 || byte >= 127 || b"<>\"#%{}|\\^~[]`'".contains(&byte) {
            let _ = write!(out, "%{byte:02X}");
        } else {
            out.push(char::from(byte));
        }
    }
}

#[cfg(test)]
mod tests;
