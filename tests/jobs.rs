//! Operator jobs against a real data dir (local locations in a tempdir, real SQLite): scrub,
//! heal, gc, recover-index, resumable progress, and the CLI's exit code and summary.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chunkworks::app::App;
use chunkworks::engine::repair::ShardState;
use chunkworks::jobs::gc::GcOptions;
use chunkworks::jobs::scrub::{ScrubJob, ScrubOptions};
use chunkworks::jobs::{self, JobEnv};
use chunkworks::meta::{Bucket, ListQuery, MultipartUpload, ObjectRecord, UploadedPart};
use common::objects::content;
use tokio_util::sync::CancellationToken;

const CHUNK: usize = 64 * 1024;
const DAY_MS: i64 = 24 * 3600 * 1000;

const CONFIG: &str = r#"
[policy]
k = 4
m = 2
chunk_size = 65536

[[locations]]
name = "a"
url = "locations/a"
fsync = false

[[locations]]
name = "b"
url = "locations/b"
fsync = false

[[locations]]
name = "c"
url = "locations/c"
fsync = false
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    app: Option<App>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = dir.path().join("chunkworks.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let app = App::open(&data, Some(&config)).unwrap();
        Self {
            _dir: dir,
            data,
            config,
            app: Some(app),
        }
    }
    fn app(&self) -> &App {
        self.app.as_ref().expect("open")
    }
    fn env(&self) -> JobEnv {
        self.app().job_env()
    }
    fn reopen(&mut self) {
        self.app = None;
        self.app = Some(App::open_offline(&self.data, Some(&self.config)).unwrap());
    }
    fn loc(&self, name: &str) -> PathBuf {
        self.data.join("locations").join(name)
    }
    async fn bucket(&self, name: &str) {
        self.app()
            .meta
            .create_bucket(&Bucket::new(name, jobs::now_ms()))
            .await
            .unwrap();
    }
    /// Shard files written but not committed (an interrupted PUT).
    async fn write_blob(&self, data: &[u8]) -> (chunkworks::engine::NewVersion, ObjectRecord) {
        common::objects::write_object(&self.app().engine, data).await
    }
    /// A PUT as the S3 layer commits it: shards, manifest copies, one transaction, tombstone
    /// of the replaced version. The replaced version's shards stay in the orphan queue.
    async fn put(&self, bucket: &str, key: &str, data: &[u8]) -> ObjectRecord {
        let (_, mut record) = self.write_blob(data).await;
        record.bucket = bucket.into();
        record.key = key.into();
        self.app()
            .engine
            .write_manifest_copies(&record, record.last_modified_ms)
            .await
            .unwrap();
        let orphans = self.app().meta.put_object(&record).await.unwrap();
        if let Some(v) = orphans.replaced_version {
            self.app().engine.write_tombstones(&v, jobs::now_ms()).await;
        }
        record
    }
    async fn delete(&self, bucket: &str, key: &str) {
        let orphans = self.app().meta.delete_object(bucket, key).await.unwrap();
        if let Some(v) = orphans.replaced_version {
            self.app().engine.write_tombstones(&v, jobs::now_ms()).await;
        }
    }
    async fn get(&self, record: &ObjectRecord) -> Vec<u8> {
        common::objects::read_object(&self.app().engine, record, 0..record.size)
            .await
            .unwrap()
    }
    fn shard_file(&self, record: &ObjectRecord, shard: u8) -> PathBuf {
        let part = &record.parts[0];
        let s = &part.shards[usize::from(shard)];
        self.loc(&s.location)
            .join("shards")
            .join(&part.blob_id)
            .join(format!("{}.{shard}", part.part_number))
    }
    /// Every file under the locations, by relative path.
    /// Every shard file and manifest copy under the locations (sealed bucket settings, which a
    /// heal writes where missing, are left out).
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let root = self.data.join("locations");
        walk(&root)
            .into_iter()
            .filter(|p| {
                p.strip_prefix(&root)
                    .ok()
                    .and_then(|rel| rel.components().nth(1))
                    .is_none_or(|c| c.as_os_str() != "buckets")
            })
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p.strip_prefix(&root).unwrap().to_path_buf(), bytes)
            })
            .collect()
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn age(path: &Path, by: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

fn scrub_opts(job: ScrubJob, repair: bool) -> ScrubOptions {
    ScrubOptions {
        repair,
        ..ScrubOptions::new(job)
    }
}

#[tokio::test]
async fn scrub_finds_a_corrupt_shard_and_repairs_it() {
    let f = Fixture::new();
    f.bucket("docs").await;
    let data = content(5 * CHUNK + 321, 1);
    let r = f.put("docs", "big", &data).await;
    let small = f.put("docs", "small", b"hello").await;
    let before = f.snapshot();

    // Flip a byte inside chunk 2's block of shard 3.
    let victim = f.shard_file(&r, 3);
    let mut bytes = std::fs::read(&victim).unwrap();
    let layout = chunkworks::engine::shard_file::ShardLayout::new(r.size, CHUNK as u32, 4);
    let pos = layout.block_offset(2) as usize + 10;
    bytes[pos] ^= 0x40;
    std::fs::write(&victim, &bytes).unwrap();

    let s = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Scrub, true))
        .await
        .unwrap();
    assert_eq!(s.objects, 2);
    assert_eq!(s.shards_checked, 12);
    assert_eq!((s.healthy, s.missing, s.corrupt), (11, 0, 1));
    assert_eq!((s.repaired, s.unrepairable, s.objects_at_risk), (1, 0, 0));
    assert!(s.pass_complete);
    assert_eq!(s.exit_code(), 0);
    let p = &s.shard_problems[0];
    assert_eq!((p.key.as_str(), p.shard, p.repaired), ("big", 3, true));
    assert!(
        matches!(
            p.state,
            ShardState::Corrupt {
                first_bad_chunk: Some(2),
                bad_blocks: 1,
                ..
            }
        ),
        "{:?}",
        p.state
    );
    // The repaired file is the original, byte for byte; everything verifies again.
    assert_eq!(f.snapshot(), before);
    let again = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Scrub, false))
        .await
        .unwrap();
    assert_eq!((again.healthy, again.missing, again.corrupt), (12, 0, 0));
    assert_eq!(f.get(&r).await, data);
    assert_eq!(f.get(&small).await, b"hello");
    // Both runs left a dated record.
    let records = walk(&f.data.join("jobs/records"));
    assert_eq!(records.len(), 2, "{records:?}");
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&records[0]).unwrap()).unwrap();
    assert_eq!(rec["job"], "scrub");
}

#[tokio::test]
async fn scrub_without_repair_reports_risk_and_changes_nothing() {
    let f = Fixture::new();
    f.bucket("docs").await;
    let r = f.put("docs", "k", &content(2 * CHUNK, 2)).await;
    let victim = f.shard_file(&r, 0);
    std::fs::remove_file(&victim).unwrap();
    // Header damage in another shard.
    let other = f.shard_file(&r, 5);
    let mut bytes = std::fs::read(&other).unwrap();
    bytes[12] ^= 1;
    std::fs::write(&other, &bytes).unwrap();

    let s = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Scrub, false))
        .await
        .unwrap();
    assert_eq!((s.healthy, s.missing, s.corrupt, s.repaired), (4, 1, 1, 0));
    assert_eq!((s.objects_at_risk, s.objects_unreadable), (1, 0));
    assert_eq!(s.exit_code(), jobs::EXIT_PROBLEMS);
    assert!(!victim.exists());
    assert_eq!(std::fs::read(&other).unwrap(), bytes);
    let corrupt = s.shard_problems.iter().find(|p| p.shard == 5).unwrap();
    assert!(matches!(
        corrupt.state,
        ShardState::Corrupt {
            first_bad_chunk: None,
            ..
        }
    ));
}

#[tokio::test]
async fn heal_recreates_a_deleted_shard_byte_identical() {
    let f = Fixture::new();
    f.bucket("docs").await;
    let data = content(3 * CHUNK + 7, 3);
    let r = f.put("docs", "k", &data).await;
    let before = f.snapshot();
    std::fs::remove_file(f.shard_file(&r, 1)).unwrap();
    // A truncated parity shard too: two losses, the most k=4 m=2 survives.
    let p = f.shard_file(&r, 4);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();

    let s = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Heal, true))
        .await
        .unwrap();
    assert_eq!(
        (s.missing, s.corrupt, s.repaired, s.objects_at_risk),
        (1, 1, 2, 0)
    );
    assert_eq!(f.snapshot(), before);
    assert_eq!(f.get(&r).await, data);
}

#[tokio::test]
async fn heal_restores_a_whole_location() {
    let f = Fixture::new();
    f.bucket("docs").await;
    f.bucket("more").await;
    let mut objects = Vec::new();
    for (i, len) in [0, 1, CHUNK - 1, CHUNK, 4 * CHUNK + 99]
        .into_iter()
        .enumerate()
    {
        let data = content(len, i as u8 + 10);
        let bucket = if i % 2 == 0 { "docs" } else { "more" };
        objects.push((f.put(bucket, &format!("obj{i}"), &data).await, data));
    }
    let before = f.snapshot();
    std::fs::remove_dir_all(f.loc("b")).unwrap();

    let s = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Heal, true))
        .await
        .unwrap();
    assert_eq!(s.objects, 5);
    assert_eq!((s.missing, s.repaired, s.unrepairable), (10, 10, 0));
    assert_eq!(s.exit_code(), 0);
    // Shards and manifest copies: the manifest copies of b are not scrub's business.
    let shards_only = |m: BTreeMap<PathBuf, Vec<u8>>| {
        m.into_iter()
            .filter(|(p, _)| p.components().any(|c| c.as_os_str() == "shards"))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(shards_only(f.snapshot()), shards_only(before.clone()));
    // Heal also puts back the manifest copies the lost location held (sealed anew, so only
    // their names are compared): recovery from b works again.
    let manifests_only = |m: BTreeMap<PathBuf, Vec<u8>>| {
        m.into_keys()
            .filter(|p| p.components().any(|c| c.as_os_str() == "manifests"))
            .collect::<Vec<_>>()
    };
    assert_eq!(manifests_only(f.snapshot()), manifests_only(before));
    for (r, data) in &objects {
        assert_eq!(&f.get(r).await, data);
    }
}

#[tokio::test]
async fn heal_clears_the_degraded_mark_of_a_write_that_missed_a_location() {
    let f = Fixture::new();
    f.bucket("docs").await;
    let data = content(3 * CHUNK + 1, 21);
    let r = f.put("docs", "k", &data).await;
    // As the writer records it when location b (shards 1 and 4) was down during the PUT.
    let mut degraded = r.clone();
    degraded.parts[0].missing_shards = vec![1, 4];
    let meta = &f.app().meta;
    assert!(meta.update_object_if_current(&degraded).await.unwrap());
    for shard in [1, 4] {
        std::fs::remove_file(f.shard_file(&r, shard)).unwrap();
    }
    assert_eq!(f.get(&degraded).await, data, "readable while degraded");

    let s = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Heal, true))
        .await
        .unwrap();
    assert_eq!((s.missing, s.repaired, s.unrepairable), (2, 2, 0));
    let now = meta.get_object("docs", "k").await.unwrap().unwrap();
    assert!(!now.is_degraded(), "{:?}", now.parts[0].missing_shards);
    for shard in [1, 4] {
        assert!(f.shard_file(&r, shard).exists());
    }
    assert_eq!(f.get(&now).await, data);
}

#[tokio::test]
async fn too_many_losses_are_unrepairable_and_exit_nonzero() {
    let f = Fixture::new();
    f.bucket("docs").await;
    let r = f.put("docs", "k", &content(CHUNK + 5, 4)).await;
    for shard in [0, 2, 4] {
        std::fs::remove_file(f.shard_file(&r, shard)).unwrap();
    }
    let s = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Heal, true))
        .await
        .unwrap();
    assert_eq!((s.missing, s.repaired, s.unrepairable), (3, 0, 3));
    assert_eq!((s.objects_at_risk, s.objects_unreadable), (1, 1));
    assert_eq!(s.exit_code(), jobs::EXIT_PROBLEMS);
    // Nothing half-written appeared.
    assert!(!f.shard_file(&r, 0).exists());
}

#[tokio::test]
async fn scrub_resumes_from_saved_progress() {
    let f = Fixture::new();
    f.bucket("a1").await;
    f.bucket("b2").await;
    for i in 0..3 {
        f.put("a1", &format!("k{i}"), &content(100 + i, i as u8))
            .await;
        f.put("b2", &format!("k{i}"), &content(200 + i, i as u8))
            .await;
    }
    let mut opts = scrub_opts(ScrubJob::Scrub, true);
    opts.max_objects = Some(4);
    let first = jobs::scrub::run(&f.env(), &opts).await.unwrap();
    assert_eq!(first.objects, 4);
    assert!(!first.pass_complete);
    let saved = jobs::scrub::load_progress(&f.data, "scrub");
    assert_eq!(saved.after, Some(("b2".to_string(), "k0".to_string())));
    assert!(saved.pass_started_ms.is_some());

    let second = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Scrub, true))
        .await
        .unwrap();
    assert_eq!(
        second.resumed_after,
        Some(("b2".to_string(), "k0".to_string()))
    );
    assert_eq!(second.objects, 2);
    assert!(second.pass_complete);
    let reset = jobs::scrub::load_progress(&f.data, "scrub");
    assert_eq!(reset.after, None);
    assert!(reset.last_complete_ms.is_some());

    // A full pass after a reset sees everything again.
    let third = jobs::scrub::run(&f.env(), &scrub_opts(ScrubJob::Scrub, true))
        .await
        .unwrap();
    assert_eq!((third.objects, third.resumed_after), (6, None));
}

#[tokio::test]
async fn rate_limit_paces_reads() {
    let f = Fixture::new();
    f.bucket("docs").await;
    f.put("docs", "k", &content(6 * CHUNK, 5)).await;
    let mut opts = scrub_opts(ScrubJob::Scrub, false);
    // About 590 KB of shard files at 1 MB/s: at least half a second.
    opts.rate_bytes_per_sec = Some(1e6);
    let t = std::time::Instant::now();
    let s = jobs::scrub::run(&f.env(), &opts).await.unwrap();
    assert!(s.bytes_read > 500_000, "{}", s.bytes_read);
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn gc_deletes_only_old_unreferenced_blobs_and_processes_the_queue() {
    let f = Fixture::new();
    f.bucket("docs").await;
    let old = Duration::from_secs(3 * 24 * 3600);
    let kept = f.put("docs", "kept", &content(CHUNK + 1, 6)).await;
    let (_, stray_old) = f.write_blob(&content(300, 7)).await;
    let (_, stray_young) = f.write_blob(&content(300, 8)).await;
    for r in [&kept, &stray_old] {
        for i in 0..6 {
            age(&f.shard_file(r, i), old);
        }
    }
    // Overwrite: the first version's blob is queued as an orphan (left for gc here).
    let first = f.put("docs", "over", &content(500, 9)).await;
    let second = f.put("docs", "over", &content(600, 10)).await;
    assert_eq!(
        f.app()
            .meta
            .pending_orphans(10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
    // An old and a young tombstone.
    let gone = f.put("docs", "gone", b"x").await;
    f.delete("docs", "gone").await;
    f.app()
        .engine
        .write_tombstones(&first.version_id, jobs::now_ms() - 3 * DAY_MS)
        .await;
    // An expired multipart upload with one part.
    let (version, mut part_rec) = f.write_blob(&content(1000, 11)).await;
    f.app()
        .meta
        .create_upload(&MultipartUpload {
            upload_id: "up1".into(),
            bucket: "docs".into(),
            key: "mp".into(),
            version_id: version.version_id.clone(),
            initiated_ms: jobs::now_ms() - 8 * DAY_MS,
            headers: vec![],
            user_meta: vec![],
            checksum_algorithm: None,
            wrapped_dek: version.wrapped_dek.clone(),
            key_id: version.key_id.clone(),
            retention: None,
            legal_hold: false,
            tags: Vec::new(),
        })
        .await
        .unwrap();
    part_rec.key = "mp".into();
    f.app()
        .meta
        .put_part(&UploadedPart {
            upload_id: "up1".into(),
            part: part_rec.parts[0].clone(),
            last_modified_ms: jobs::now_ms(),
        })
        .await
        .unwrap();

    let mut opts = GcOptions::from_config(&f.app().config.jobs, CancellationToken::new());
    opts.grace = Duration::from_secs(24 * 3600);
    let s = jobs::gc::run(&f.env(), &opts).await.unwrap();
    assert_eq!(s.uploads_aborted, 1);
    assert_eq!(
        s.orphan_blobs_deleted, 3,
        "the overwritten and the deleted version, the upload part"
    );
    assert_eq!(s.orphan_entries_left, 0);
    assert_eq!(s.unreferenced_blobs_deleted, 3, "one blob dir per location");
    assert_eq!(s.exit_code(), 0, "{}", s.text());
    assert!(
        f.app()
            .meta
            .pending_orphans(10)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
    assert!(f.app().meta.get_upload("up1").await.unwrap().is_none());

    let exists = |r: &ObjectRecord| {
        (0..6)
            .map(|i| f.shard_file(r, i).exists())
            .collect::<Vec<_>>()
    };
    assert_eq!(exists(&kept), vec![true; 6]);
    assert_eq!(exists(&second), vec![true; 6]);
    assert_eq!(exists(&stray_young), vec![true; 6]);
    assert_eq!(exists(&stray_old), vec![false; 6]);
    assert_eq!(exists(&first), vec![false; 6]);
    assert_eq!(exists(&part_rec), vec![false; 6]);
    assert_eq!(exists(&gone), vec![false; 6]);
    // The old tombstone went from all three locations; the young one stays.
    assert_eq!(s.tombstones_deleted, 3);
    for loc in ["a", "b", "c"] {
        let m = f.loc(loc).join("manifests");
        assert!(!m.join(&first.version_id).exists());
        assert!(m.join(&gone.version_id).exists());
        assert!(m.join(&kept.version_id).exists());
        assert!(m.join(&second.version_id).exists());
    }
    assert_eq!(f.get(&kept).await, content(CHUNK + 1, 6));
}

#[tokio::test]
async fn recover_index_rebuilds_buckets_and_objects() {
    let mut f = Fixture::new();
    f.bucket("docs").await;
    f.bucket("photos").await;
    let mut expected = BTreeMap::new();
    for (bucket, key, len) in [
        ("docs", "a.txt", 10),
        ("docs", "dir/b.bin", 3 * CHUNK + 5),
        ("photos", "p.jpg", CHUNK),
        ("docs", "empty", 0),
    ] {
        let data = content(len, len as u8);
        let r = f.put(bucket, key, &data).await;
        expected.insert((bucket.to_string(), key.to_string()), (r, data));
    }
    // Overwritten: the newer version wins. Deleted: stays deleted.
    let new_data = content(777, 99);
    let newer = f.put("docs", "a.txt", &new_data).await;
    expected.insert(("docs".into(), "a.txt".into()), (newer, new_data));
    f.put("docs", "deleted", b"bye").await;
    f.delete("docs", "deleted").await;

    // Lose the index.
    f.app = None;
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(f.data.join(format!("meta.sqlite{ext}")));
    }
    assert!(jobs::recover::prepare_data_dir(&f.data, false).is_ok());
    f.reopen();
    // The location that answers first has lost everything: b is used.
    std::fs::remove_dir_all(f.loc("a")).unwrap();
    let s = jobs::recover::run(&f.env(), Some("b")).await.unwrap();
    assert_eq!((s.buckets, s.objects, s.unreadable), (2, 4, 0));
    assert_eq!(s.tombstones, 2);
    assert_eq!(s.exit_code(), 0);

    let mut got = BTreeMap::new();
    for b in f.app().meta.list_buckets().await.unwrap() {
        let page = f
            .app()
            .meta
            .list_objects(
                &b.name,
                &ListQuery {
                    prefix: String::new(),
                    after: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        for r in page {
            got.insert((r.bucket.clone(), r.key.clone()), r);
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (slot, (record, data)) in &expected {
        assert_eq!(&got[slot], record);
        // Location a is gone, the rest still reads byte-exact.
        assert_eq!(&f.get(&got[slot]).await, data);
    }

    // A second recover is refused while the index exists, unless forced.
    assert!(jobs::recover::prepare_data_dir(&f.data, false).is_err());
    let aside = jobs::recover::prepare_data_dir(&f.data, true)
        .unwrap()
        .unwrap();
    assert!(aside.exists());
    assert!(!f.data.join("meta.sqlite").exists());
}

#[test]
fn cli_scrub_exit_code_and_summary() {
    let f = Fixture::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(async {
        f.bucket("docs").await;
        f.put("docs", "one", &content(2 * CHUNK, 1)).await;
        f.put("docs", "two", &content(10, 2)).await
    });
    let victim = f.shard_file(&r, 2);
    let Fixture {
        _dir, data, config, ..
    } = f;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_chunkworks"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .env("CHUNKWORKS_LOG", "warn")
            .env_remove("CHUNKWORKS_MASTER_KEY")
            .output()
            .unwrap()
    };
    let ok = run(&["scrub"]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains("objects 2,"), "{out}");
    assert!(out.contains("healthy 12, missing 0, corrupt 0"), "{out}");

    std::fs::remove_file(&victim).unwrap();
    let bad = run(&["scrub", "--no-repair"]);
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(2), "{out}");
    assert!(out.contains("missing 1"), "{out}");
    assert!(out.contains("AT RISK docs/two"), "{out}");
    assert!(!victim.exists());

    let fixed = run(&["scrub"]);
    let out = String::from_utf8_lossy(&fixed.stdout);
    assert_eq!(fixed.status.code(), Some(0), "{out}");
    assert!(out.contains("repaired 1"), "{out}");
    assert!(victim.exists());

    // A data dir without a master key is refused, nothing created.
    let empty = tempfile::tempdir().unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_chunkworks"))
        .args(["scrub", "--data-dir"])
        .arg(empty.path())
        .env_remove("CHUNKWORKS_MASTER_KEY")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}
