//! The SQLite metadata store against the shared conformance suite, in memory and on disk, plus
//! what only a file can show: data survives closing and reopening.

use std::sync::Arc;

use chunkworks::meta::conformance::{self, object, stored_part};
use chunkworks::meta::sqlite::SqliteStore;
use chunkworks::meta::{
    Bucket, ListQuery, MetaError, MetaStore, MultipartUpload, OrphanBlob, UploadListQuery,
    UploadedPart,
};

#[tokio::test]
async fn conformance_in_memory() {
    let store = SqliteStore::open_in_memory().expect("open in memory");
    conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("meta.db")).expect("open file");
    conformance::run_all(&store).await;
}

fn upload(id: &str) -> MultipartUpload {
    MultipartUpload {
        upload_id: id.to_owned(),
        bucket: "keep".to_owned(),
        key: "pending/upload".to_owned(),
        version_id: "v-up".to_owned(),
        initiated_ms: 42,
        headers: vec![],
        user_meta: vec![("x".to_owned(), "y".to_owned())],
        checksum_algorithm: None,
        wrapped_dek: "dek".to_owned(),
        key_id: "k1".to_owned(),
        retention: None,
        legal_hold: false,
        tags: Vec::new(),
    }
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Parent directories are created on open.
    let path = dir.path().join("nested").join("deeper").join("meta.db");
    let bucket = Bucket::new("keep".to_owned(), 7);
    let v1 = object("keep", "dir/ключ %_", "v1", &["blob-1"]);
    let v2 = object("keep", "dir/ключ %_", "v2", &["blob-2a", "blob-2b"]);
    let part = UploadedPart {
        upload_id: "up-1".to_owned(),
        part: stored_part(3, "blob-part-3"),
        last_modified_ms: 99,
    };
    let orphan_ids: Vec<i64>;
    {
        let store = SqliteStore::open(&path).expect("open");
        store.create_bucket(&bucket).await.expect("create_bucket");
        store.put_object(&v1).await.expect("put v1");
        let orphans = store.put_object(&v2).await.expect("put v2");
        orphan_ids = orphans.entries.iter().map(|(id, _)| *id).collect();
        assert_eq!(orphan_ids.len(), 1);
        store
            .create_upload(&upload("up-1"))
            .await
            .expect("create_upload");
        store.put_part(&part).await.expect("put_part");
    }
    assert!(path.exists(), "database file created at {}", path.display());

    for _ in 0..2 {
        // Reopening runs no migration twice and loses nothing.
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            store.list_buckets().await.expect("list"),
            vec![bucket.clone()]
        );
        assert_eq!(
            store.get_object("keep", "dir/ключ %_").await.expect("get"),
            Some(v2.clone())
        );
        let listed = store
            .list_objects(
                "keep",
                &ListQuery {
                    prefix: "dir/".to_owned(),
                    after: None,
                    limit: 10,
                },
            )
            .await
            .expect("list_objects");
        assert_eq!(listed, vec![v2.clone()]);
        assert_eq!(
            store.get_upload("up-1").await.expect("get_upload"),
            Some(upload("up-1"))
        );
        assert_eq!(
            store.list_parts("up-1", 0, 10).await.expect("list_parts"),
            vec![part.clone()]
        );
        let uploads = store
            .list_uploads(
                "keep",
                &UploadListQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .expect("list_uploads");
        assert_eq!(uploads, vec![upload("up-1")]);
        let pending = store.pending_orphans(10).await.expect("pending");
        assert_eq!(
            pending.entries,
            vec![(
                orphan_ids[0],
                OrphanBlob {
                    blob_id: "blob-1".to_owned(),
                    part_number: 1,
                    shards: v1.parts[0].shards.clone(),
                }
            )]
        );
        assert!(matches!(
            store.delete_bucket("keep").await,
            Err(MetaError::BucketNotEmpty)
        ));
    }

    // Changes made after a reopen persist too.
    {
        let store = SqliteStore::open(&path).expect("reopen");
        store.forget_orphans(&orphan_ids).await.expect("forget");
        store.abort_upload("up-1").await.expect("abort");
        store
            .delete_object("keep", "dir/ключ %_")
            .await
            .expect("delete");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        store.get_object("keep", "dir/ключ %_").await.expect("get"),
        None
    );
    assert_eq!(store.get_upload("up-1").await.expect("get"), None);
    let pending = store.pending_orphans(10).await.expect("pending");
    let blobs: Vec<&str> = pending
        .entries
        .iter()
        .map(|(_, b)| b.blob_id.as_str())
        .collect();
    assert_eq!(blobs, vec!["blob-part-3", "blob-2a", "blob-2b"]);
    assert!(pending.entries.iter().all(|(id, _)| *id > orphan_ids[0]));
}

#[tokio::test]
async fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.db");
    drop(SqliteStore::open(&path).expect("open"));
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", 9999)
            .expect("bump");
    }
    match SqliteStore::open(&path) {
        Err(MetaError::Internal(msg)) => assert!(msg.contains("9999"), "{msg}"),
        other => panic!("expected a schema-version error, got {other:?}"),
    }
}

#[tokio::test]
async fn file_is_wal_with_full_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.db");
    let store = SqliteStore::open(&path).expect("open");
    store
        .create_bucket(&Bucket::new("b".to_owned(), 1))
        .await
        .expect("create");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    drop(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_queue_every_orphan_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("meta.db")).expect("open"));
    store
        .create_bucket(&Bucket::new("race".to_owned(), 1))
        .await
        .expect("create");
    // 8 tasks overwrite the same key 10 times each: 80 versions, 79 orphans in total.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut queued = Vec::new();
            for i in 0..10 {
                let blob = format!("race-{t}-{i}");
                let rec = object("race", "hot", &blob, &[&blob]);
                queued.extend(store.put_object(&rec).await.expect("put").entries);
            }
            queued
        }));
    }
    let mut queued = Vec::new();
    for task in tasks {
        queued.extend(task.await.expect("task"));
    }
    assert_eq!(queued.len(), 79);
    let current = store
        .get_object("race", "hot")
        .await
        .expect("get")
        .expect("exists");
    let mut blobs: Vec<String> = queued.iter().map(|(_, b)| b.blob_id.clone()).collect();
    blobs.push(current.parts[0].blob_id.clone());
    blobs.sort();
    blobs.dedup();
    assert_eq!(
        blobs.len(),
        80,
        "every version is either current or queued exactly once"
    );
    let pending = store.pending_orphans(1000).await.expect("pending");
    assert_eq!(pending.entries.len(), 79);
}
