//! The gateway's wiring over remote locations: `App::open` with a TOML config naming three
//! real S3 servers (`rclone serve s3`, started here), objects written and read through the
//! engine, then one location replaced by a black hole: reads still answer, in bounded time.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chunkworks::app::App;
use chunkworks::engine::Engine;
use chunkworks::meta::ObjectRecord;
use common::rclone::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY, free_port, rclone_or_skip};

fn config(ports: &[u16]) -> String {
    let mut text = String::from(
        "[policy]\nk = 4\nm = 2\nchunk_size = 65536\n\n\
         [health]\nrequest_timeout_secs = 1\nretry_after_secs = 1\nretry_max_secs = 2\n",
    );
    for (name, port) in ["a", "b", "c"].iter().zip(ports) {
        text.push_str(&format!(
            "\n[[locations]]\nname = \"{name}\"\nurl = \"s3://{BUCKET}/gw\"\nprefix = \"{name}\"\n\
             options = {{ aws_endpoint = \"http://127.0.0.1:{port}\", aws_region = \"us-east-1\", \
             aws_allow_http = \"true\", aws_access_key_id = \"{ACCESS_KEY}\", \
             aws_secret_access_key = \"{SECRET_KEY}\" }}\n"
        ));
    }
    text
}

async fn put(engine: &Engine, data: &[u8]) -> ObjectRecord {
    common::objects::write_object(engine, data).await.1
}

async fn get(engine: &Arc<Engine>, record: &ObjectRecord) -> Result<Vec<u8>, String> {
    common::objects::read_object(engine, record, 0..record.size).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_over_three_s3_servers_survives_a_black_holed_location() {
    let Some(rclone) = rclone_or_skip("app_over_three_s3_servers_survives_a_black_holed_location")
    else {
        return;
    };
    let mut servers: Vec<Option<S3Server>> = Vec::new();
    for _ in 0..3 {
        servers.push(Some(S3Server::start(&rclone, free_port()).await));
    }
    let ports: Vec<u16> = servers.iter().map(|s| s.as_ref().unwrap().port).collect();
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("chunkworks.toml");
    std::fs::write(&config_file, config(&ports)).unwrap();
    let app = App::open(&dir.path().join("data"), Some(&config_file)).unwrap();
    assert!(!format!("{:?}", app.engine).contains(SECRET_KEY));
    assert!(!format!("{:?}", app.config).contains(SECRET_KEY));
    let engine = Arc::clone(&app.engine);

    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let record = put(&engine, &data).await;
    assert_eq!(get(&engine, &record).await.unwrap(), data);
    // The shard files are on the servers, under <url path>/<prefix>/shards/.
    for (server, name) in servers.iter().zip(["a", "b", "c"]) {
        let shards = server
            .as_ref()
            .unwrap()
            .bucket_dir()
            .join(format!("gw/{name}/shards"));
        assert!(shards.is_dir(), "{}", shards.display());
    }

    // Location a black-holes: accepts connections, never answers.
    let port_a = ports[0];
    servers[0] = None;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port_a))
        .await
        .unwrap();
    let hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    // A read still answers with the right bytes, within a few request timeouts.
    let start = Instant::now();
    assert_eq!(get(&engine, &record).await.unwrap(), data);
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    // The read did not wait for a: hedging read parity instead. A write does reach a, waits
    // at most the request timeout for it, and is acknowledged with the write quorum (4 of 6
    // shards); a's shards are recorded as missing for the healer.
    let start = Instant::now();
    let version = engine.new_version();
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(data.clone()))]);
    let written = engine
        .write_part(&version.dek, 1, body, Some(data.len() as u64), u64::MAX)
        .await
        .expect("quorum write succeeds with one location black-holed");
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    let a_shards: Vec<u8> = written
        .part
        .shards
        .iter()
        .filter(|s| s.location == "a")
        .map(|s| s.index)
        .collect();
    assert_eq!(written.part.missing_shards, a_shards);
    let a = engine.locations().iter().find(|l| l.name() == "a").unwrap();
    assert!(!a.is_available(), "a is marked down after timing out");
    hole.abort();
}
