//! Two cdn replicas over one data service and one real `redis-server`,
//! each its own `nubo serve --services cdn` process as compose runs them:
//! an object one replica fetched is an L2 hit on the other, an
//! invalidation through either reaches both within a second, and a Redis
//! restart costs no correctness (memory keeps serving, Redis refills).

use std::time::{Duration, Instant};

use nubo_e2e::{
    Ports, Process, ServiceName,
    cdn::{Origin, Redis, Resource},
    cloudfront::{CACHING_OPTIMIZED, create, default_behavior, distribution, header, http_origin, invalidate, viewer},
    credentials, try_wait_healthy,
};

const KEY: &str = "AKIDCDNREPLICAS";
const SECRET: &str = "cdn-replica-secret";

struct Replica {
    process: Process,
    cloudfront: aws_sdk_cloudfront::Client,
    address: std::net::SocketAddr,
}

/// `path` through `replica`: its X-Cache, Cache-Status and body.
async fn fetch(client: &reqwest::Client, replica: &Replica, domain: &str, path: &str) -> (String, String, String) {
    let response = client
        .get(format!("http://{domain}:{}{path}", replica.address.port()))
        .send()
        .await
        .expect("the replica answers");
    assert_eq!(response.status(), 200, "{path}");
    let cache = header(&response, "x-cache").to_owned();
    let status = header(&response, "cache-status").to_owned();
    (cache, status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_share_redis_and_every_invalidation() {
    if nubo_e2e::cdn::which("redis-server").is_none() {
        panic!("redis-server is missing: e2e/install-test-deps.sh installs it (make test does)");
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::write(dir.path().join("cluster-token"), "cluster-token-0123456789").unwrap();
    let common = |name: &str| -> Vec<(String, String)> {
        vec![
            ("NUBO_BIND_HOST".into(), "127.0.0.1".into()),
            ("NUBO_STATE_DIR".into(), dir.path().join(name).to_str().unwrap().into()),
            ("NUBO_CREDENTIALS__ACCESS_KEY_ID".into(), KEY.into()),
            ("NUBO_CREDENTIALS__SECRET_ACCESS_KEY_FILE".into(), secret.to_str().unwrap().into()),
            ("NUBO_CLUSTER__TOKEN_FILE".into(), dir.path().join("cluster-token").to_str().unwrap().into()),
        ]
    };
    let redis = Redis::start(&dir.path().join("redis"));
    let data_ports = Ports::free(ServiceName::Data);
    let mut data_env = common("data");
    data_env.extend(data_ports.env(ServiceName::Data));
    data_env.push(("NUBO_DATA__ENGINE".into(), "embedded".into()));
    let mut data = Process::spawn(&["serve", "--services", "data"], &data_env, dir.path().join("data.log"));
    try_wait_healthy(&mut data, &format!("http://127.0.0.1:{}", data_ports.http)).await.expect("data starts");

    let mut replicas = Vec::new();
    for name in ["cdn-a", "cdn-b"] {
        let ports = Ports::free(ServiceName::Cdn);
        let mut env = common(name);
        env.extend(ports.env(ServiceName::Cdn));
        env.push(("NUBO_LINKS__DATA".into(), format!("http://127.0.0.1:{}", data_ports.grpc)));
        env.push(("NUBO_CDN__REDIS".into(), redis.url()));
        let mut process = Process::spawn(&["serve", "--services", "cdn"], &env, dir.path().join(format!("{name}.log")));
        let url = format!("http://127.0.0.1:{}", ports.http);
        try_wait_healthy(&mut process, &url).await.expect("the cdn starts");
        let cloudfront = nubo_e2e::cloudfront_client_with(&url, credentials(KEY, SECRET));
        replicas.push(Replica { process, cloudfront, address: ([127, 0, 0, 1], ports.http).into() });
    }

    let origin = Origin::start([
        ("/shared.txt", Resource::cacheable("text/plain", "fetched once", 300)),
        ("/during.txt", Resource::cacheable("text/plain", "while redis is down", 300)),
    ])
    .await;
    let config = distribution(
        "replicated",
        vec![http_origin("app", &origin.host(), origin.port())],
        default_behavior("app", CACHING_OPTIMIZED),
        vec![],
        &[],
    )
    .build()
    .unwrap();
    let (id, domain) = create(&replicas[0].cloudfront, config).await;
    let clients: Vec<_> = replicas.iter().map(|replica| viewer(replica.address, &[&domain])).collect();
    // Both replicas serve the new distribution within a second.
    let started = Instant::now();
    for (client, replica) in clients.iter().zip(&replicas) {
        loop {
            let response =
                client.get(format!("http://{domain}:{}/nothing", replica.address.port())).send().await.unwrap();
            if header(&response, "x-cache") != "Error from cloudfront" || response.status() != 403 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(1), "the distribution is not served by every replica");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Fetched through one replica, an L2 hit on the other.
    let (cache, _, body) = fetch(&clients[0], &replicas[0], &domain, "/shared.txt").await;
    assert_eq!((cache.as_str(), body.as_str()), ("Miss from cloudfront", "fetched once"));
    let (cache, status, _) = fetch(&clients[1], &replicas[1], &domain, "/shared.txt").await;
    assert_eq!(cache, "Hit from cloudfront", "{status}");
    assert_eq!(origin.hits("/shared.txt"), 1, "the second replica found it in Redis");

    // An invalidation through the second replica reaches both within a second.
    origin.set("/shared.txt", Resource::cacheable("text/plain", "fetched again", 300));
    invalidate(&replicas[1].cloudfront, &id, &["/shared.txt"]).await;
    let started = Instant::now();
    for (client, replica) in clients.iter().zip(&replicas) {
        loop {
            let (_, _, body) = fetch(client, replica, &domain, "/shared.txt").await;
            if body == "fetched again" {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(1), "the invalidation has not reached every replica");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eprintln!("both replicas serve the invalidated object after {:?}", started.elapsed());

    // Redis goes away: each replica still serves what it holds in memory
    // and fetches what it lacks; nothing fails.
    let (redis_dir, redis_port) = redis.stop();
    for (client, replica) in clients.iter().zip(&replicas) {
        let (cache, _, body) = fetch(client, replica, &domain, "/shared.txt").await;
        assert_eq!((cache.as_str(), body.as_str()), ("Hit from cloudfront", "fetched again"));
        let (_, _, body) = fetch(client, replica, &domain, "/during.txt").await;
        assert_eq!(body, "while redis is down");
    }
    assert_eq!(origin.hits("/during.txt"), 2, "without Redis each replica fetched for itself");

    // Back on the same port, empty: once the replicas reconnect, an object
    // new to both is fetched by one and found in Redis by the other.
    let _redis = Redis::start_on(&redis_dir, redis_port);
    let started = Instant::now();
    for round in 0.. {
        let path = format!("/echo/after-{round}");
        fetch(&clients[0], &replicas[0], &domain, &path).await;
        let (cache, _, _) = fetch(&clients[1], &replicas[1], &domain, &path).await;
        if cache == "Hit from cloudfront" {
            eprintln!("Redis shared again {:?} after its restart", started.elapsed());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "Redis was never used again after its restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for replica in &mut replicas {
        replica.process.stop();
    }
    data.stop();
}
