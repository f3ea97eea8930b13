//! The tiers over a real `redis-server` (Debian's `redis-server`): an
//! entry one replica stores is a Redis hit on another; a Redis that stops
//! costs no correctness, only hits (memory keeps serving, stores and
//! reads stay quick), and once it is back, stores refill it; an
//! invalidation Redis could not take is replayed once it answers.
//!
//! Skipped, saying so, when `redis-server` is not installed
//! (`e2e/install-test-deps.sh` installs it).

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use nubo_cdn::tiers::{Entry, Key, RedisTier, Tiers};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const HOUR: Duration = Duration::from_secs(3600);
/// What a read or write may take while Redis is down: its deadline is
/// tens of milliseconds; this leaves room for a loaded machine.
const QUICK: Duration = Duration::from_millis(750);

/// `redis-server` on a loopback port in its own directory, without
/// persistence; killed when dropped.
struct RedisServer {
    binary: PathBuf,
    directory: PathBuf,
    port: u16,
    child: Child,
}

impl RedisServer {
    fn binary() -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/bin".into(), "/usr/sbin".into(), "/usr/local/bin".into()])
            .map(|directory| directory.join("redis-server"))
            .find(|candidate| candidate.is_file())
    }

    async fn start(binary: &Path, directory: &Path) -> Self {
        // A port the kernel just handed out and nothing holds.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        Self::start_on(binary, directory, port).await
    }

    async fn start_on(binary: &Path, directory: &Path, port: u16) -> Self {
        let log = std::fs::File::create(directory.join(format!("redis-{port}.log"))).expect("the redis log");
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(directory)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the redis log"))
            .stderr(log)
            .spawn()
            .expect("redis-server starts");
        let server = Self { binary: binary.to_owned(), directory: directory.to_owned(), port, child };
        server.wait_ready().await;
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                let mut reply = [0u8; 7];
                if stream.write_all(b"PING\r\n").await.is_ok()
                    && tokio::time::timeout(Duration::from_millis(500), stream.read_exact(&mut reply))
                        .await
                        .is_ok_and(|read| read.is_ok())
                    && &reply == b"+PONG\r\n"
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Kills the server (its data goes with it) and starts a new, empty
    /// one on the same port.
    async fn restart(mut self) -> Self {
        self.child.kill().expect("redis-server is killed");
        self.child.wait().expect("redis-server exits");
        Self::start_on(&self.binary, &self.directory, self.port).await
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(signal).arg(self.child.id().to_string()).status().expect("kill runs");
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory and binary for a test, or `None` (with the reason said)
/// when `redis-server` is missing.
fn setup(test: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let Some(binary) = RedisServer::binary() else {
        eprintln!("skipping {test}: redis-server is not installed (Debian: apt-get install redis-server)");
        return None;
    };
    Some((tempfile::tempdir().expect("a temporary directory"), binary))
}

fn replica(url: &str) -> Tiers {
    Tiers::new(1 << 20, Some(RedisTier::connect(url).expect("a redis url")))
}

fn key(path: &str) -> Key {
    Key { distribution: "E1".into(), path: path.into(), rest: String::new() }
}

fn entry(body: &'static [u8]) -> Arc<Entry> {
    Arc::new(Entry {
        status: 200,
        headers: vec![("content-type".into(), b"text/plain".to_vec())],
        body: Bytes::from_static(body),
        request_time: SystemTime::now(),
        response_time: SystemTime::now(),
        vary: vec![],
    })
}

async fn body(tiers: &Tiers, key: &Key) -> Option<Bytes> {
    tiers.variants(key).await.first().map(|entry| entry.body.clone())
}

/// Polls `found` every 100 ms for up to 10 s.
async fn eventually(mut found: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if found().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_keeps_serving_while_redis_restarts_and_stores_refill_it() {
    let Some((directory, binary)) = setup("memory_keeps_serving_while_redis_restarts_and_stores_refill_it") else {
        return;
    };
    let redis = RedisServer::start(&binary, directory.path()).await;
    let (one, two) = (replica(&redis.url()), replica(&redis.url()));

    // Stored by one replica, found in Redis by the other.
    one.store(&key("/shared"), entry(b"shared"), HOUR).await;
    assert_eq!(body(&two, &key("/shared")).await.as_deref(), Some(&b"shared"[..]));
    assert_eq!(two.stats().shared_hits, 1);
    assert_eq!(body(&two, &key("/shared")).await.as_deref(), Some(&b"shared"[..]));
    assert_eq!(two.stats().memory_hits, 1, "the Redis hit filled memory");

    // Redis goes away: it is restarted empty below, so both replicas'
    // memory is all there is meanwhile. Freeze it first so every call
    // meets a Redis that does not answer, then bring a new one up.
    redis.signal("-STOP");
    for tiers in [&one, &two] {
        let started = Instant::now();
        assert_eq!(body(tiers, &key("/shared")).await.as_deref(), Some(&b"shared"[..]));
        assert!(started.elapsed() < QUICK, "a memory hit waited {:?}", started.elapsed());
    }
    let started = Instant::now();
    one.store(&key("/while-down"), entry(b"while down"), HOUR).await;
    assert!(started.elapsed() < QUICK, "a store waited {:?} on a Redis that does not answer", started.elapsed());
    assert_eq!(body(&one, &key("/while-down")).await.as_deref(), Some(&b"while down"[..]));
    let started = Instant::now();
    assert_eq!(body(&two, &key("/while-down")).await, None, "not in two's memory, and Redis cannot say");
    assert!(started.elapsed() < QUICK, "a miss waited {:?} on a Redis that does not answer", started.elapsed());
    assert!(one.stats().shared_errors + two.stats().shared_errors >= 1);

    let redis = redis.restart().await;

    // Memory still serves what it held; the new Redis holds nothing, so a
    // replica with an empty memory misses, as it should, rather than
    // serving anything wrong.
    assert_eq!(body(&one, &key("/shared")).await.as_deref(), Some(&b"shared"[..]));
    assert_eq!(body(&two, &key("/shared")).await.as_deref(), Some(&b"shared"[..]));
    let three = replica(&redis.url());

    // Once Redis answers again (the connection is remade on its own),
    // stores reach it and the other replicas read them there.
    assert!(
        eventually(async || {
            one.store(&key("/after"), entry(b"after"), HOUR).await;
            body(&three, &key("/after")).await.is_some()
        })
        .await,
        "a store after the restart never reached Redis: {:?}",
        one.stats()
    );
    assert!(three.stats().shared_hits >= 1);
    // A replica whose connection broke misses until it has remade it.
    assert!(eventually(async || body(&two, &key("/after")).await.is_some()).await, "{:?}", two.stats());
    // What only memory held while Redis was down refills Redis when it
    // is stored again, as a viewer's miss elsewhere would store it.
    assert_eq!(body(&three, &key("/shared")).await, None);
    two.store(&key("/shared"), entry(b"shared"), HOUR).await;
    assert_eq!(body(&three, &key("/shared")).await.as_deref(), Some(&b"shared"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_redis_missed_is_replayed_once_it_answers() {
    let Some((directory, binary)) = setup("an_invalidation_redis_missed_is_replayed_once_it_answers") else { return };
    let redis = RedisServer::start(&binary, directory.path()).await;
    let one = replica(&redis.url());
    one.store(&key("/page.html"), entry(b"old"), HOUR).await;
    one.store(&key("/kept.html"), entry(b"kept"), HOUR).await;
    assert_eq!(body(&replica(&redis.url()), &key("/page.html")).await.as_deref(), Some(&b"old"[..]));

    // Redis hangs while the invalidation is made: it is dropped from
    // memory at once and from Redis later.
    redis.signal("-STOP");
    one.invalidate("E1", &["/page.html".into()]).await;
    assert_eq!(body(&one, &key("/page.html")).await, None);
    redis.signal("-CONT");

    // Until Redis confirms, the replica that made it reads nothing it
    // matches from Redis; once the replay lands, nobody does.
    assert_eq!(body(&one, &key("/page.html")).await, None);
    assert!(
        eventually(async || body(&replica(&redis.url()), &key("/page.html")).await.is_none()).await,
        "the invalidation was never replayed"
    );
    assert_eq!(body(&replica(&redis.url()), &key("/kept.html")).await.as_deref(), Some(&b"kept"[..]));
}
