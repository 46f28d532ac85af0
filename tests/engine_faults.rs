//! Fault injection on the engine with real local locations: a location gone, every shard file
//! at one location corrupted or truncated, too many shards lost (an error, never wrong bytes).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chunkworks::engine::crypto::MasterKey;
use chunkworks::engine::{Engine, Policy};
use chunkworks::location::{Location, ObjectStoreLocation};
use chunkworks::meta::ObjectRecord;
use common::objects::{content, read_object, write_object};

const CHUNK: u32 = 64 * 1024;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    engine: Arc<Engine>,
}

fn fixture() -> Fixture {
    fixture_with(&[])
}

/// Three local locations; those named in `failing` refuse writes after `FAIL_AFTER_WRITES`
/// successful `write` calls (0: at once), like a provider that goes away mid-upload.
fn fixture_with(failing: &[&str]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let locations: Vec<Arc<dyn Location>> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            let real = Arc::new(ObjectStoreLocation::local(*n, &root.join(n), false).unwrap());
            if failing.contains(n) {
                Arc::new(FailingWrites(real)) as Arc<dyn Location>
            } else {
                real as Arc<dyn Location>
            }
        })
        .collect();
    let engine = Arc::new(Engine::new(
        locations,
        Policy {
            k: 4,
            m: 2,
            chunk_size: CHUNK,
        },
        MasterKey::new("test", [7u8; 32]),
    ));
    Fixture {
        _dir: dir,
        root,
        engine,
    }
}

const FAIL_AFTER_WRITES: usize = 3;

/// Fault-injecting decorator: reads pass through; writes fail part-way.
#[derive(Debug)]
struct FailingWrites(Arc<ObjectStoreLocation>);

struct FailingWriter {
    inner: Box<dyn chunkworks::location::BlobWriter>,
    writes: usize,
}

#[async_trait::async_trait]
impl chunkworks::location::BlobWriter for FailingWriter {
    async fn write(&mut self, data: Bytes) -> chunkworks::location::LocationResult<()> {
        self.writes += 1;
        if self.writes > FAIL_AFTER_WRITES {
            return Err(chunkworks::location::LocationError::Backend {
                location: "injected".into(),
                message: "connection reset".into(),
            });
        }
        self.inner.write(data).await
    }
    async fn finish(self: Box<Self>) -> chunkworks::location::LocationResult<()> {
        self.inner.finish().await
    }
    async fn abort(self: Box<Self>) -> chunkworks::location::LocationResult<()> {
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl Location for FailingWrites {
    fn name(&self) -> &str {
        self.0.name()
    }
    async fn begin_write(
        &self,
        path: &str,
    ) -> chunkworks::location::LocationResult<Box<dyn chunkworks::location::BlobWriter>> {
        let inner = self.0.begin_write(path).await?;
        Ok(Box::new(FailingWriter { inner, writes: 0 }))
    }
    async fn put(&self, path: &str, data: Bytes) -> chunkworks::location::LocationResult<()> {
        self.0.put(path, data).await
    }
    async fn get(&self, path: &str) -> chunkworks::location::LocationResult<Bytes> {
        self.0.get(path).await
    }
    async fn get_range(
        &self,
        path: &str,
        range: std::ops::Range<u64>,
    ) -> chunkworks::location::LocationResult<Bytes> {
        self.0.get_range(path, range).await
    }
    async fn head(&self, path: &str) -> chunkworks::location::LocationResult<u64> {
        self.0.head(path).await
    }
    async fn delete(&self, path: &str) -> chunkworks::location::LocationResult<()> {
        self.0.delete(path).await
    }
    async fn list(
        &self,
        prefix: &str,
    ) -> chunkworks::location::LocationResult<Vec<chunkworks::location::BlobInfo>> {
        self.0.list(prefix).await
    }
}

async fn put(f: &Fixture, data: &[u8]) -> ObjectRecord {
    write_object(&f.engine, data).await.1
}

async fn get(
    f: &Fixture,
    r: &ObjectRecord,
    range: std::ops::Range<u64>,
) -> Result<Vec<u8>, String> {
    read_object(&f.engine, r, range).await
}

fn shard_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let shards = dir.join("shards");
    if let Ok(blobs) = std::fs::read_dir(&shards) {
        for blob in blobs.flatten() {
            for f in std::fs::read_dir(blob.path()).unwrap().flatten() {
                out.push(f.path());
            }
        }
    }
    out
}

#[tokio::test]
async fn round_trip_at_chunk_boundaries() {
    let f = fixture();
    let c = CHUNK as usize;
    for len in [0, 1, c - 1, c, c + 1, 3 * c + 7] {
        let data = content(len, 3);
        let r = put(&f, &data).await;
        assert_eq!(r.size, len as u64);
        assert_eq!(get(&f, &r, 0..len as u64).await.unwrap(), data, "len {len}");
        if len > 10 {
            let (a, b) = (len as u64 / 3, len as u64 - 2);
            assert_eq!(
                get(&f, &r, a..b).await.unwrap(),
                &data[a as usize..b as usize]
            );
        }
    }
}

#[tokio::test]
async fn survives_a_whole_location_removed() {
    let f = fixture();
    let data = content(5 * CHUNK as usize + 123, 9);
    let r = put(&f, &data).await;
    std::fs::remove_dir_all(f.root.join("a")).unwrap();
    assert_eq!(get(&f, &r, 0..data.len() as u64).await.unwrap(), data);
}

#[tokio::test]
async fn survives_every_shard_at_one_location_corrupted_or_truncated() {
    let f = fixture();
    let data = content(4 * CHUNK as usize + 5, 11);
    let r = put(&f, &data).await;
    let files = shard_files(&f.root.join("b"));
    assert_eq!(files.len(), 2, "two shards per location");
    for (i, file) in files.iter().enumerate() {
        let mut bytes = std::fs::read(file).unwrap();
        if i == 0 {
            for pos in (100..bytes.len()).step_by(997) {
                bytes[pos] ^= 0x5a;
            }
        } else {
            bytes.truncate(bytes.len() / 2);
        }
        std::fs::write(file, bytes).unwrap();
    }
    assert_eq!(get(&f, &r, 0..data.len() as u64).await.unwrap(), data);
}

#[tokio::test]
async fn too_many_losses_fail_without_wrong_bytes() {
    let f = fixture();
    let data = content(2 * CHUNK as usize, 13);
    let r = put(&f, &data).await;
    std::fs::remove_dir_all(f.root.join("a")).unwrap();
    // One more shard corrupted elsewhere: 3 of 6 lost, more than m = 2.
    let victim = &shard_files(&f.root.join("c"))[0];
    let mut bytes = std::fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    bytes[60] ^= 1;
    std::fs::write(victim, bytes).unwrap();
    let got = get(&f, &r, 0..data.len() as u64).await;
    assert!(
        got.is_err(),
        "expected an error, got {} bytes",
        got.map(|b| b.len()).unwrap_or(0)
    );
}

#[tokio::test]
async fn locations_hold_no_plaintext_and_only_opaque_names() {
    let f = fixture();
    let marker = b"MARKER-7f3a-secret-citizen-record";
    let mut data = Vec::new();
    for _ in 0..2000 {
        data.extend_from_slice(marker);
    }
    let r = put(&f, &data).await;
    f.engine.write_manifest_copies(&r, 1).await.unwrap();
    for loc in ["a", "b", "c"] {
        for entry in walk(&f.root.join(loc)) {
            let name = entry.to_string_lossy().to_string();
            assert!(!name.contains("MARKER"), "{name}");
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "plaintext in {name}"
            );
            assert!(
                !bytes.windows(6).any(|w| w == b"MARKER"),
                "marker in {name}"
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn a_write_survives_one_location_failing_mid_upload_and_is_degraded() {
    let f = fixture_with(&["b"]);
    let data = content(6 * CHUNK as usize + 11, 17);
    let r = put(&f, &data).await;
    assert_eq!(
        r.parts[0].missing_shards,
        vec![1, 4],
        "b holds shards 1 and 4"
    );
    assert!(r.is_degraded());
    assert!(
        shard_files(&f.root.join("b")).is_empty(),
        "aborted uploads leave nothing"
    );
    assert_eq!(shard_files(&f.root.join("a")).len(), 2);
    assert_eq!(get(&f, &r, 0..data.len() as u64).await.unwrap(), data);
}

#[tokio::test]
async fn a_write_without_quorum_fails_and_leaves_nothing() {
    let f = fixture_with(&["a", "c"]);
    let data = content(6 * CHUNK as usize, 19);
    let version = f.engine.new_version();
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(10_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let err = f
        .engine
        .write_part(
            &version.dek,
            1,
            futures::stream::iter(pieces),
            Some(data.len() as u64),
            u64::MAX,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needed"), "{err}");
    for loc in ["a", "b", "c"] {
        assert!(
            shard_files(&f.root.join(loc)).is_empty(),
            "files left at {loc}"
        );
    }
}
