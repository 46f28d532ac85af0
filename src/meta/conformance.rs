//! Behaviour every [`MetaStore`] must show, as plain async functions over `&dyn MetaStore`
//! (in the manner of `object_store`'s `integration` module). A backend's test file calls
//! [`run_all`] on a fresh store; each function panics with a description on the first deviation.
//!
//! The functions share one store: each uses its own bucket names, keys, upload ids and blob ids
//! (prefixed with the test's name), only looks at the orphan-queue entries it created, and
//! forgets them before returning, so they can run in any order on the same store. They expect
//! no bucket of theirs to exist beforehand.

use std::collections::BTreeSet;

use super::{
    Bucket, Checksum, CorsRule, DeleteMarker, ListQuery, LockChange, MetaError, MetaStore,
    MultipartUpload, ObjectRecord, OrphanBlob, Orphans, Retention, RetentionMode, ShardRef,
    StoredPart, UploadListQuery, UploadedPart, VersionEntry, VersionListQuery, Versioning,
    WriteCondition,
};

/// Runs every conformance test in turn.
pub async fn run_all(store: &dyn MetaStore) {
    bucket_lifecycle(store).await;
    bucket_update(store).await;
    object_put_get_replace(store).await;
    object_delete(store).await;
    list_objects_order_and_prefixes(store).await;
    list_objects_pagination(store).await;
    multipart_complete(store).await;
    multipart_abort(store).await;
    list_uploads_order_and_markers(store).await;
    orphan_queue(store).await;
    versions_and_delete_markers(store).await;
    suspended_null_versions(store).await;
    object_lock_rules(store).await;
    conditional_writes(store).await;
}

// ----- builders -------------------------------------------------------------------------------

fn bucket(name: &str) -> Bucket {
    Bucket::new(name, 1_700_000_000_000)
}

fn shards(blob_id: &str) -> Vec<ShardRef> {
    // Vary the layout with the blob id so a mix-up between blobs shows.
    let n = 2 + blob_id.len() % 4;
    (0..n)
        .map(|i| ShardRef {
            index: i as u8,
            location: format!("loc-{}", (i + blob_id.len()) % 3),
        })
        .collect()
}

/// A stored part with every field filled in, derived from its blob id.
pub fn stored_part(part_number: u32, blob_id: &str) -> StoredPart {
    StoredPart {
        part_number,
        blob_id: blob_id.to_owned(),
        size: 1000 + u64::from(part_number),
        md5_hex: format!("{:032x}", blob_id.len() * 7919 + part_number as usize),
        k: 4,
        m: 2,
        chunk_size: 4 << 20,
        shards: shards(blob_id),
        checksum: part_number.is_multiple_of(2).then(|| Checksum {
            algorithm: "CRC32C".to_owned(),
            value: "AAAAAA==".to_owned(),
            kind: "COMPOSITE".to_owned(),
        }),
        missing_shards: if part_number == 3 { vec![1] } else { vec![] },
    }
}

/// An object record whose parts are `blob_ids` (numbered from 1).
pub fn object(bucket: &str, key: &str, version: &str, blob_ids: &[&str]) -> ObjectRecord {
    let parts: Vec<StoredPart> = blob_ids
        .iter()
        .enumerate()
        .map(|(i, b)| stored_part(i as u32 + 1, b))
        .collect();
    ObjectRecord {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: version.to_owned(),
        size: parts.iter().map(|p| p.size).sum(),
        etag: format!("{:032x}-{}", version.len(), parts.len()),
        last_modified_ms: 1_700_000_000_123,
        headers: vec![
            (
                "content-type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            ),
            ("cache-control".to_owned(), "no-cache".to_owned()),
        ],
        user_meta: vec![("owner".to_owned(), format!("ünïcode {version}"))],
        checksum: Some(Checksum {
            algorithm: "SHA256".to_owned(),
            value: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".to_owned(),
            kind: "FULL_OBJECT".to_owned(),
        }),
        wrapped_dek: format!("wrapped-{version}"),
        key_id: "master-1".to_owned(),
        multipart_count: if parts.len() > 1 {
            parts.len() as u32
        } else {
            0
        },
        tags: Vec::new(),
        parts,
        versioned: false,
        retention: None,
        legal_hold: false,
    }
}

fn upload(upload_id: &str, bucket: &str, key: &str, initiated_ms: i64) -> MultipartUpload {
    MultipartUpload {
        upload_id: upload_id.to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: format!("v-{upload_id}"),
        initiated_ms,
        headers: vec![("content-type".to_owned(), "application/pdf".to_owned())],
        user_meta: vec![("case".to_owned(), "2024-17".to_owned())],
        checksum_algorithm: Some("CRC32".to_owned()),
        wrapped_dek: format!("dek-{upload_id}"),
        key_id: "master-1".to_owned(),
        retention: None,
        legal_hold: false,
        tags: Vec::new(),
    }
}

fn uploaded(upload_id: &str, part_number: u32, blob_id: &str, at: i64) -> UploadedPart {
    UploadedPart {
        upload_id: upload_id.to_owned(),
        part: stored_part(part_number, blob_id),
        last_modified_ms: at,
    }
}

fn orphan_of(part: &StoredPart) -> OrphanBlob {
    OrphanBlob {
        blob_id: part.blob_id.clone(),
        part_number: part.part_number,
        shards: part.shards.clone(),
    }
}

fn blobs(orphans: &Orphans) -> Vec<&str> {
    orphans
        .entries
        .iter()
        .map(|(_, b)| b.blob_id.as_str())
        .collect()
}

fn keys(records: &[ObjectRecord]) -> Vec<&str> {
    records.iter().map(|r| r.key.as_str()).collect()
}

fn is<T: std::fmt::Debug>(
    result: Result<T, MetaError>,
    expected: fn(&MetaError) -> bool,
    what: &str,
) {
    match result {
        Err(e) if expected(&e) => {}
        other => panic!("{what}: unexpected result {other:?}"),
    }
}

/// Checks that `orphans` are in the queue with the same ids and contents, then forgets them
/// and checks they are gone.
async fn check_queued_and_forget(store: &dyn MetaStore, orphans: &Orphans) {
    let pending = store
        .pending_orphans(usize::MAX)
        .await
        .expect("pending_orphans");
    for entry in &orphans.entries {
        assert!(
            pending.entries.contains(entry),
            "orphan {entry:?} returned but not queued"
        );
    }
    let ids: Vec<i64> = orphans.entries.iter().map(|(id, _)| *id).collect();
    store.forget_orphans(&ids).await.expect("forget_orphans");
    let pending = store
        .pending_orphans(usize::MAX)
        .await
        .expect("pending_orphans");
    for (id, _) in &pending.entries {
        assert!(!ids.contains(id), "orphan {id} still queued after forget");
    }
}

// ----- buckets --------------------------------------------------------------------------------

pub async fn bucket_lifecycle(store: &dyn MetaStore) {
    let ours = |b: &Bucket| b.name.starts_with("cf-bucket-");
    for name in ["cf-bucket-b", "cf-bucket-a", "cf-bucket-c"] {
        store
            .create_bucket(&bucket(name))
            .await
            .expect("create_bucket");
    }
    is(
        store.create_bucket(&bucket("cf-bucket-a")).await,
        |e| matches!(e, MetaError::BucketExists),
        "create existing bucket",
    );
    let got = store.get_bucket("cf-bucket-a").await.expect("get_bucket");
    assert_eq!(got, Some(bucket("cf-bucket-a")));
    assert_eq!(
        store.get_bucket("cf-bucket-zz").await.expect("get_bucket"),
        None
    );
    // Names are exact: no case folding, no prefix matching.
    assert_eq!(
        store.get_bucket("CF-BUCKET-A").await.expect("get_bucket"),
        None
    );
    assert_eq!(
        store.get_bucket("cf-bucket-").await.expect("get_bucket"),
        None
    );

    let listed: Vec<Bucket> = store
        .list_buckets()
        .await
        .expect("list_buckets")
        .into_iter()
        .filter(ours)
        .collect();
    assert_eq!(
        listed,
        vec![
            bucket("cf-bucket-a"),
            bucket("cf-bucket-b"),
            bucket("cf-bucket-c")
        ]
    );

    is(
        store.delete_bucket("cf-bucket-zz").await,
        |e| matches!(e, MetaError::NoSuchBucket),
        "delete missing bucket",
    );

    // Not empty while an object remains.
    store
        .put_object(&object("cf-bucket-a", "k", "v1", &["cf-bucket-blob-1"]))
        .await
        .expect("put_object");
    is(
        store.delete_bucket("cf-bucket-a").await,
        |e| matches!(e, MetaError::BucketNotEmpty),
        "delete bucket holding an object",
    );
    assert!(
        store
            .get_object("cf-bucket-a", "k")
            .await
            .expect("get")
            .is_some()
    );
    let gone = store
        .delete_object("cf-bucket-a", "k")
        .await
        .expect("delete_object");
    check_queued_and_forget(store, &gone).await;

    // Not empty while an upload remains.
    store
        .create_upload(&upload("cf-bucket-up-1", "cf-bucket-b", "k", 1))
        .await
        .expect("create_upload");
    is(
        store.delete_bucket("cf-bucket-b").await,
        |e| matches!(e, MetaError::BucketNotEmpty),
        "delete bucket holding an upload",
    );
    assert!(
        store
            .get_upload("cf-bucket-up-1")
            .await
            .expect("get")
            .is_some()
    );
    let aborted = store
        .abort_upload("cf-bucket-up-1")
        .await
        .expect("abort_upload");
    assert!(aborted.entries.is_empty());

    for name in ["cf-bucket-a", "cf-bucket-b", "cf-bucket-c"] {
        store.delete_bucket(name).await.expect("delete_bucket");
        assert_eq!(store.get_bucket(name).await.expect("get_bucket"), None);
    }
    is(
        store.delete_bucket("cf-bucket-a").await,
        |e| matches!(e, MetaError::NoSuchBucket),
        "delete bucket twice",
    );
    let left: Vec<Bucket> = store
        .list_buckets()
        .await
        .expect("list_buckets")
        .into_iter()
        .filter(ours)
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The name can be taken again.
    store
        .create_bucket(&bucket("cf-bucket-a"))
        .await
        .expect("recreate");
    store.delete_bucket("cf-bucket-a").await.expect("delete");
}

// ----- objects --------------------------------------------------------------------------------

/// `update_bucket` edits tags and CORS rules, keeps name and creation time, and refuses an
/// unknown bucket.
pub async fn bucket_update(store: &dyn MetaStore) {
    let b = "cf-bucket-update";
    store.create_bucket(&bucket(b)).await.expect("create");
    let tags = vec![("team".to_owned(), "records".to_owned())];
    let rules = vec![CorsRule {
        allowed_origins: vec!["https://*.example.nl".into()],
        allowed_methods: vec!["GET".into()],
        ..CorsRule::default()
    }];
    let (t, r) = (tags.clone(), rules.clone());
    let updated = store
        .update_bucket(
            b,
            Box::new(move |bk| {
                bk.tags = t;
                bk.created_ms = 1;
                bk.name = "renamed".into();
            }),
        )
        .await
        .expect("update tags");
    assert_eq!(updated.tags, tags);
    store
        .update_bucket(b, Box::new(move |bk| bk.cors = Some(r)))
        .await
        .expect("update cors");
    let got = store.get_bucket(b).await.expect("get").expect("exists");
    assert_eq!(got.tags, tags, "tags kept by a CORS change");
    assert_eq!(got.cors, Some(rules), "CORS stored");
    assert_eq!(got.created_ms, bucket(b).created_ms, "creation time kept");
    assert_eq!(got.name, b, "name kept");
    store
        .update_bucket(
            b,
            Box::new(|bk| {
                bk.tags.clear();
                bk.cors = None;
            }),
        )
        .await
        .expect("clear");
    let got = store.get_bucket(b).await.expect("get").expect("exists");
    assert!(
        got.tags.is_empty() && got.cors.is_none(),
        "cleared: {got:?}"
    );
    assert!(matches!(
        store
            .update_bucket("cf-bucket-update-none", Box::new(|_| {}))
            .await,
        Err(MetaError::NoSuchBucket)
    ));
    store.delete_bucket(b).await.expect("delete");
}

pub async fn object_put_get_replace(store: &dyn MetaStore) {
    let b = "cf-object-put";
    let v1 = object(b, "docs/a.txt", "v1", &["cf-put-blob-1"]);
    is(
        store.put_object(&v1).await,
        |e| matches!(e, MetaError::NoSuchBucket),
        "put into missing bucket",
    );
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    store
        .create_bucket(&bucket("cf-object-put-other"))
        .await
        .expect("create_bucket");

    let orphans = store.put_object(&v1).await.expect("put v1");
    assert!(
        orphans.entries.is_empty() && orphans.replaced_version.is_none(),
        "fresh key orphans nothing: {orphans:?}"
    );
    assert_eq!(
        store.get_object(b, "docs/a.txt").await.expect("get"),
        Some(v1.clone())
    );
    assert_eq!(store.get_object(b, "docs/a.tx").await.expect("get"), None);
    assert_eq!(store.get_object(b, "docs/A.txt").await.expect("get"), None);
    assert_eq!(
        store
            .get_object("cf-object-put-other", "docs/a.txt")
            .await
            .expect("get"),
        None,
        "objects are per bucket"
    );

    // Replace with a two-part version: the old blob is queued, with its shard map.
    let v2 = object(b, "docs/a.txt", "v2", &["cf-put-blob-2a", "cf-put-blob-2b"]);
    let orphans = store.put_object(&v2).await.expect("put v2");
    assert_eq!(orphans.entries.len(), 1, "{orphans:?}");
    // A conditional manifest rewrite applies to the current version only.
    let mut healed = v2.clone();
    healed.parts[0].missing_shards.clear();
    healed
        .user_meta
        .push(("healed".to_owned(), "yes".to_owned()));
    assert!(
        !store
            .update_object_if_current(&v1)
            .await
            .expect("update stale")
    );
    assert_eq!(
        store.get_object(b, "docs/a.txt").await.expect("get"),
        Some(v2.clone())
    );
    assert!(
        store
            .update_object_if_current(&healed)
            .await
            .expect("update current")
    );
    assert_eq!(
        store.get_object(b, "docs/a.txt").await.expect("get"),
        Some(healed.clone())
    );
    assert!(store.update_object_if_current(&v2).await.expect("restore"));
    // A field edit in a transaction: applies to the current version only, keeps identity.
    let tags = vec![("k".to_owned(), "v".to_owned())];
    let t = tags.clone();
    let edited = store
        .update_object_version(
            b,
            "docs/a.txt",
            &v2.version_id,
            Box::new(move |r| {
                r.tags = t;
                r.key = "elsewhere".into();
                r.version_id = "forged".into();
            }),
        )
        .await
        .expect("edit current")
        .expect("current version edited");
    assert_eq!(
        edited,
        ObjectRecord {
            tags: tags.clone(),
            ..v2.clone()
        }
    );
    assert_eq!(
        store.get_object(b, "docs/a.txt").await.expect("get"),
        Some(edited.clone())
    );
    assert_eq!(
        store
            .update_object_version(
                b,
                "docs/a.txt",
                &v1.version_id,
                Box::new(|r| r.tags.clear())
            )
            .await
            .expect("edit stale"),
        None
    );
    assert_eq!(
        store
            .update_object_version(b, "docs/none", "v2", Box::new(|r| r.tags.clear()))
            .await
            .expect("edit missing"),
        None
    );
    assert!(store.update_object_if_current(&v2).await.expect("restore"));
    assert_eq!(
        orphans.replaced_version.as_deref(),
        Some(v1.version_id.as_str())
    );
    assert_eq!(orphans.entries[0].1, orphan_of(&v1.parts[0]));
    assert_eq!(
        store.get_object(b, "docs/a.txt").await.expect("get"),
        Some(v2.clone())
    );
    check_queued_and_forget(store, &orphans).await;

    // Replace with a version that keeps one blob (a metadata rewrite): only the dropped blob
    // is queued, never one the new record still references.
    let mut v3 = object(b, "docs/a.txt", "v3", &["cf-put-blob-2a"]);
    v3.user_meta = vec![("owner".to_owned(), "someone else".to_owned())];
    let orphans = store.put_object(&v3).await.expect("put v3");
    assert_eq!(blobs(&orphans), vec!["cf-put-blob-2b"]);
    assert_eq!(orphans.entries[0].1, orphan_of(&v2.parts[1]));
    assert_eq!(
        store.get_object(b, "docs/a.txt").await.expect("get"),
        Some(v3.clone())
    );
    check_queued_and_forget(store, &orphans).await;

    // Same key in another bucket is independent.
    let other = object(
        "cf-object-put-other",
        "docs/a.txt",
        "vo",
        &["cf-put-blob-o"],
    );
    assert!(
        store
            .put_object(&other)
            .await
            .expect("put other")
            .entries
            .is_empty()
    );
    assert_eq!(
        store.get_object(b, "docs/a.txt").await.expect("get"),
        Some(v3.clone())
    );

    for (bk, key) in [(b, "docs/a.txt"), ("cf-object-put-other", "docs/a.txt")] {
        let gone = store.delete_object(bk, key).await.expect("delete");
        check_queued_and_forget(store, &gone).await;
    }
    store.delete_bucket(b).await.expect("delete_bucket");
    store
        .delete_bucket("cf-object-put-other")
        .await
        .expect("delete_bucket");
}

pub async fn object_delete(store: &dyn MetaStore) {
    let b = "cf-object-delete";
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    let rec = object(
        b,
        "x/y",
        "v1",
        &["cf-del-blob-1", "cf-del-blob-2", "cf-del-blob-3"],
    );
    store.put_object(&rec).await.expect("put");
    store
        .put_object(&object(b, "x/y2", "v1", &["cf-del-blob-keep"]))
        .await
        .expect("put");

    let orphans = store.delete_object(b, "x/y").await.expect("delete");
    assert_eq!(
        orphans.replaced_version.as_deref(),
        Some(rec.version_id.as_str())
    );
    let expected: Vec<OrphanBlob> = rec.parts.iter().map(orphan_of).collect();
    let got: Vec<OrphanBlob> = orphans.entries.iter().map(|(_, o)| o.clone()).collect();
    assert_eq!(got, expected);
    let ids: BTreeSet<i64> = orphans.entries.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 3, "distinct queue ids: {orphans:?}");
    assert_eq!(store.get_object(b, "x/y").await.expect("get"), None);
    assert!(
        store.get_object(b, "x/y2").await.expect("get").is_some(),
        "neighbour kept"
    );
    check_queued_and_forget(store, &orphans).await;

    // Idempotent: deleting again (or a key never written) queues nothing and succeeds.
    let again = store.delete_object(b, "x/y").await.expect("delete again");
    assert!(
        again.entries.is_empty() && again.replaced_version.is_none(),
        "{again:?}"
    );
    let never = store
        .delete_object(b, "never-written")
        .await
        .expect("delete missing");
    assert!(never.entries.is_empty(), "{never:?}");

    let gone = store.delete_object(b, "x/y2").await.expect("delete");
    assert_eq!(blobs(&gone), vec!["cf-del-blob-keep"]);
    check_queued_and_forget(store, &gone).await;
    store.delete_bucket(b).await.expect("delete_bucket");
}

/// Keys chosen to catch collation, LIKE-wildcard and prefix-bound mistakes.
const LIST_KEYS: &[&str] = &[
    "A",
    "B",
    "a",
    "a%",
    "a%b",
    "a/",
    "a/b",
    "a/c/d",
    "a0",
    "aXb",
    "a_",
    "a_b",
    "ab",
    "a\u{7f}",
    "a\u{80}",
    "a\u{10FFFF}",
    "b",
    "z",
    "\u{7f}",
    "\u{7f}x",
    "\u{80}",
    "é",
    "ü/1",
    "\u{D7FF}x",
    "\u{E000}",
    "日本/1",
    "日本/2",
    "日本語",
    "日札",
    "\u{FFFF}",
    "\u{10000}",
    "\u{10FFFF}",
    "\u{10FFFF}a",
    "%",
    "_",
    "*",
    "?",
    "\\",
    "[a]",
    "'quote\"",
    " space",
];

fn expected_keys(prefix: &str, after: Option<&str>) -> Vec<&'static str> {
    // Rust's `str` ordering is byte order of the UTF-8 encoding: the S3 order.
    let mut keys: Vec<&'static str> = LIST_KEYS
        .iter()
        .copied()
        .filter(|k| k.starts_with(prefix) && after.is_none_or(|a| *k > a))
        .collect();
    keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    keys
}

async fn list(
    store: &dyn MetaStore,
    bucket: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Vec<ObjectRecord> {
    let query = ListQuery {
        prefix: prefix.to_owned(),
        after: after.map(str::to_owned),
        limit,
    };
    store
        .list_objects(bucket, &query)
        .await
        .expect("list_objects")
}

async fn fill_list_bucket(store: &dyn MetaStore, b: &str) {
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    // Insert in a scrambled order so the store has to sort.
    let mut order: Vec<usize> = (0..LIST_KEYS.len()).collect();
    order.sort_by_key(|i| (i * 17) % LIST_KEYS.len());
    for i in order {
        let key = LIST_KEYS[i];
        let rec = object(b, key, &format!("v{i}"), &[&format!("{b}-blob-{i}")]);
        store.put_object(&rec).await.expect("put_object");
    }
}

async fn empty_list_bucket(store: &dyn MetaStore, b: &str) {
    for key in LIST_KEYS {
        let gone = store.delete_object(b, key).await.expect("delete");
        assert_eq!(gone.entries.len(), 1);
        check_queued_and_forget(store, &gone).await;
    }
    store.delete_bucket(b).await.expect("delete_bucket");
}

pub async fn list_objects_order_and_prefixes(store: &dyn MetaStore) {
    let b = "cf-list-order";
    fill_list_bucket(store, b).await;
    // A neighbour bucket with overlapping keys must not leak into the listing.
    let nb = "cf-list-order-neighbour";
    store
        .create_bucket(&bucket(nb))
        .await
        .expect("create_bucket");
    store
        .put_object(&object(nb, "a/zz-neighbour", "v", &["cf-list-nb-blob"]))
        .await
        .expect("put");

    let all = list(store, b, "", None, 1000).await;
    assert_eq!(keys(&all), expected_keys("", None));
    // Records come back whole.
    let i = LIST_KEYS.iter().position(|k| *k == "日本語").expect("key");
    let rec = all.iter().find(|r| r.key == "日本語").expect("listed");
    assert_eq!(
        rec,
        &object(b, "日本語", &format!("v{i}"), &[&format!("{b}-blob-{i}")])
    );

    // Spot checks written out by hand, independent of the helper.
    assert_eq!(
        keys(&list(store, b, "a%", None, 100).await),
        vec!["a%", "a%b"]
    );
    assert_eq!(
        keys(&list(store, b, "a_", None, 100).await),
        vec!["a_", "a_b"]
    );
    assert_eq!(
        keys(&list(store, b, "a/", None, 100).await),
        vec!["a/", "a/b", "a/c/d"]
    );
    assert_eq!(keys(&list(store, b, "%", None, 100).await), vec!["%"]);
    assert_eq!(keys(&list(store, b, "_", None, 100).await), vec!["_"]);
    assert_eq!(keys(&list(store, b, "*", None, 100).await), vec!["*"]);
    assert_eq!(keys(&list(store, b, "[", None, 100).await), vec!["[a]"]);
    assert_eq!(keys(&list(store, b, "\\", None, 100).await), vec!["\\"]);
    assert_eq!(keys(&list(store, b, "A", None, 100).await), vec!["A"]);
    assert_eq!(
        keys(&list(store, b, "日本", None, 100).await),
        vec!["日本/1", "日本/2", "日本語"]
    );
    assert_eq!(
        keys(&list(store, b, "\u{7f}", None, 100).await),
        vec!["\u{7f}", "\u{7f}x"]
    );
    assert_eq!(
        keys(&list(store, b, "\u{D7FF}", None, 100).await),
        vec!["\u{D7FF}x"]
    );
    assert_eq!(
        keys(&list(store, b, "\u{10FFFF}", None, 100).await),
        vec!["\u{10FFFF}", "\u{10FFFF}a"]
    );
    assert_eq!(
        keys(&list(store, b, "a", None, 100).await),
        vec![
            "a",
            "a%",
            "a%b",
            "a/",
            "a/b",
            "a/c/d",
            "a0",
            "aXb",
            "a_",
            "a_b",
            "ab",
            "a\u{7f}",
            "a\u{80}",
            "a\u{10FFFF}"
        ]
    );
    // Byte order, not code-point-agnostic or case-insensitive order.
    assert_eq!(
        keys(&list(store, b, "", Some("z"), 100).await),
        vec![
            "\u{7f}",
            "\u{7f}x",
            "\u{80}",
            "é",
            "ü/1",
            "日本/1",
            "日本/2",
            "日本語",
            "日札",
            "\u{D7FF}x",
            "\u{E000}",
            "\u{FFFF}",
            "\u{10000}",
            "\u{10FFFF}",
            "\u{10FFFF}a"
        ]
    );
    assert!(list(store, b, "nope", None, 100).await.is_empty());
    assert!(list(store, b, "a/b/", None, 100).await.is_empty());
    assert!(
        list(store, "cf-list-no-such-bucket", "", None, 100)
            .await
            .is_empty()
    );

    // Every prefix of every key gives exactly the keys starting with it.
    let mut prefixes: BTreeSet<String> = BTreeSet::new();
    for key in LIST_KEYS {
        for (i, _) in key.char_indices().skip(1) {
            prefixes.insert(key[..i].to_owned());
        }
        prefixes.insert((*key).to_owned());
    }
    for prefix in &prefixes {
        let got = list(store, b, prefix, None, 1000).await;
        assert_eq!(keys(&got), expected_keys(prefix, None), "prefix {prefix:?}");
    }

    let gone = store
        .delete_object(nb, "a/zz-neighbour")
        .await
        .expect("delete");
    check_queued_and_forget(store, &gone).await;
    store.delete_bucket(nb).await.expect("delete_bucket");
    empty_list_bucket(store, b).await;
}

pub async fn list_objects_pagination(store: &dyn MetaStore) {
    let b = "cf-list-pages";
    fill_list_bucket(store, b).await;

    assert!(list(store, b, "", None, 0).await.is_empty(), "limit 0");
    assert_eq!(
        keys(&list(store, b, "", None, 3).await),
        expected_keys("", None)[..3]
    );

    // `after` is exclusive, need not be an existing key, and combines with the prefix.
    assert_eq!(
        keys(&list(store, b, "a", Some("a/b"), 3).await),
        vec!["a/c/d", "a0", "aXb"]
    );
    assert_eq!(
        keys(&list(store, b, "a", Some("a/a"), 2).await),
        vec!["a/b", "a/c/d"]
    );
    assert_eq!(
        keys(&list(store, b, "a/", Some("0"), 10).await),
        vec!["a/", "a/b", "a/c/d"]
    );
    assert!(
        list(store, b, "a/", Some("a0"), 10).await.is_empty(),
        "after beyond prefix"
    );
    assert_eq!(
        keys(&list(store, b, "", Some(""), 2).await),
        expected_keys("", None)[..2]
    );
    assert!(
        list(store, b, "", Some("\u{10FFFF}a"), 10).await.is_empty(),
        "after the last"
    );
    assert_eq!(
        keys(&list(store, b, "日", Some("日本/1"), 10).await),
        vec!["日本/2", "日本語", "日札"]
    );

    // Paging with limit n and after = last key reproduces the full listing.
    for (prefix, page) in [
        ("", 1),
        ("", 4),
        ("", 7),
        ("a", 2),
        ("日本", 1),
        ("\u{7f}", 1),
    ] {
        let mut got: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let batch = list(store, b, prefix, after.as_deref(), page).await;
            assert!(
                batch.len() <= page,
                "page of {page} returned {}",
                batch.len()
            );
            let Some(last) = batch.last() else { break };
            after = Some(last.key.clone());
            got.extend(batch.iter().map(|r| r.key.clone()));
        }
        assert_eq!(
            got,
            expected_keys(prefix, None),
            "prefix {prefix:?} pages of {page}"
        );
    }

    empty_list_bucket(store, b).await;
}

// ----- multipart ------------------------------------------------------------------------------

pub async fn multipart_complete(store: &dyn MetaStore) {
    let b = "cf-mpu-complete";
    let up = upload("cf-mpu-c-1", b, "big/file.bin", 1_000);
    is(
        store.create_upload(&up).await,
        |e| matches!(e, MetaError::NoSuchBucket),
        "create upload in missing bucket",
    );
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    store.create_upload(&up).await.expect("create_upload");
    assert_eq!(
        store.get_upload("cf-mpu-c-1").await.expect("get"),
        Some(up.clone())
    );
    assert_eq!(store.get_upload("cf-mpu-c-none").await.expect("get"), None);

    // An existing object at the key, to be replaced on completion.
    let old = object(b, "big/file.bin", "old", &["cf-mpu-c-old"]);
    store.put_object(&old).await.expect("put old");

    let p1 = uploaded("cf-mpu-c-1", 1, "cf-mpu-c-p1", 10);
    let p2 = uploaded("cf-mpu-c-1", 2, "cf-mpu-c-p2", 11);
    let p3 = uploaded("cf-mpu-c-1", 3, "cf-mpu-c-p3", 12);
    let p5 = uploaded("cf-mpu-c-1", 5, "cf-mpu-c-p5", 13);
    for p in [&p3, &p1, &p5, &p2] {
        let o = store.put_part(p).await.expect("put_part");
        assert!(o.entries.is_empty(), "new part orphans nothing: {o:?}");
    }

    // Re-uploading part 2 under a new blob queues the old blob.
    let p2b = uploaded("cf-mpu-c-1", 2, "cf-mpu-c-p2-again", 20);
    let o = store.put_part(&p2b).await.expect("replace part 2");
    assert_eq!(o.entries.len(), 1, "{o:?}");
    assert_eq!(o.entries[0].1, orphan_of(&p2.part));
    check_queued_and_forget(store, &o).await;

    // Re-recording part 3 with the same blob id replaces the record but queues nothing.
    let p3b = uploaded("cf-mpu-c-1", 3, "cf-mpu-c-p3", 21);
    let o = store.put_part(&p3b).await.expect("re-record part 3");
    assert!(o.entries.is_empty(), "same blob is not an orphan: {o:?}");

    assert_eq!(
        store
            .list_parts("cf-mpu-c-1", 0, 100)
            .await
            .expect("list_parts"),
        vec![p1.clone(), p2b.clone(), p3b.clone(), p5.clone()]
    );
    assert_eq!(
        store
            .list_parts("cf-mpu-c-1", 1, 2)
            .await
            .expect("list_parts"),
        vec![p2b.clone(), p3b.clone()]
    );
    assert_eq!(
        store
            .list_parts("cf-mpu-c-1", 3, 100)
            .await
            .expect("list_parts"),
        vec![p5.clone()]
    );
    assert!(
        store
            .list_parts("cf-mpu-c-1", 5, 100)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .list_parts("cf-mpu-c-1", 0, 0)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .list_parts("cf-mpu-c-none", 0, 100)
            .await
            .expect("list")
            .is_empty()
    );

    // Not visible as an object before completion.
    assert_eq!(
        store.get_object(b, "big/file.bin").await.expect("get"),
        Some(old.clone())
    );

    // Complete with parts 1, 2 (re-uploaded) and 3; part 5 is left out.
    let mut rec = object(b, "big/file.bin", "v-cf-mpu-c-1", &[]);
    rec.parts = vec![p1.part.clone(), p2b.part.clone(), p3b.part.clone()];
    rec.multipart_count = 3;
    rec.size = rec.parts.iter().map(|p| p.size).sum();
    let o = store
        .complete_upload("cf-mpu-c-1", &rec)
        .await
        .expect("complete");
    let mut got: Vec<OrphanBlob> = o.entries.iter().map(|(_, b)| b.clone()).collect();
    got.sort_by(|a, b| a.blob_id.cmp(&b.blob_id));
    assert_eq!(got, vec![orphan_of(&old.parts[0]), orphan_of(&p5.part)]);
    check_queued_and_forget(store, &o).await;

    assert_eq!(
        store.get_object(b, "big/file.bin").await.expect("get"),
        Some(rec.clone())
    );
    assert_eq!(store.get_upload("cf-mpu-c-1").await.expect("get"), None);
    assert!(
        store
            .list_parts("cf-mpu-c-1", 0, 100)
            .await
            .expect("list")
            .is_empty()
    );
    let listed = store
        .list_uploads(
            b,
            &UploadListQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("list_uploads");
    assert!(listed.is_empty(), "{listed:?}");

    // The upload is gone for every multipart operation.
    is(
        store
            .put_part(&uploaded("cf-mpu-c-1", 6, "cf-mpu-c-late", 30))
            .await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "put_part after complete",
    );
    is(
        store.complete_upload("cf-mpu-c-1", &rec).await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "complete twice",
    );
    is(
        store.abort_upload("cf-mpu-c-1").await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "abort after complete",
    );
    // The failed calls changed nothing.
    assert_eq!(
        store.get_object(b, "big/file.bin").await.expect("get"),
        Some(rec.clone())
    );

    // A fresh key: completing queues nothing when every part is used.
    let up2 = upload("cf-mpu-c-2", b, "fresh", 2_000);
    store.create_upload(&up2).await.expect("create_upload");
    let q1 = uploaded("cf-mpu-c-2", 1, "cf-mpu-c2-p1", 40);
    store.put_part(&q1).await.expect("put_part");
    let mut rec2 = object(b, "fresh", "v-cf-mpu-c-2", &[]);
    rec2.parts = vec![q1.part.clone()];
    let o = store
        .complete_upload("cf-mpu-c-2", &rec2)
        .await
        .expect("complete");
    assert!(o.entries.is_empty(), "{o:?}");
    assert_eq!(store.get_object(b, "fresh").await.expect("get"), Some(rec2));

    for key in ["big/file.bin", "fresh"] {
        let gone = store.delete_object(b, key).await.expect("delete");
        check_queued_and_forget(store, &gone).await;
    }
    store.delete_bucket(b).await.expect("delete_bucket");
}

pub async fn multipart_abort(store: &dyn MetaStore) {
    let b = "cf-mpu-abort";
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    is(
        store.abort_upload("cf-mpu-a-none").await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "abort unknown upload",
    );
    is(
        store
            .put_part(&uploaded("cf-mpu-a-none", 1, "cf-mpu-a-x", 1))
            .await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "put_part on unknown upload",
    );
    is(
        store
            .complete_upload("cf-mpu-a-none", &object(b, "k", "v", &["cf-mpu-a-x"]))
            .await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "complete unknown upload",
    );
    assert_eq!(store.get_object(b, "k").await.expect("get"), None);

    let up = upload("cf-mpu-a-1", b, "k", 5);
    store.create_upload(&up).await.expect("create_upload");
    let parts = [
        uploaded("cf-mpu-a-1", 1, "cf-mpu-a-p1", 1),
        uploaded("cf-mpu-a-1", 2, "cf-mpu-a-p2", 2),
        uploaded("cf-mpu-a-1", 10000, "cf-mpu-a-p10000", 3),
    ];
    for p in &parts {
        store.put_part(p).await.expect("put_part");
    }
    let o = store.abort_upload("cf-mpu-a-1").await.expect("abort");
    let mut got: Vec<OrphanBlob> = o.entries.iter().map(|(_, b)| b.clone()).collect();
    got.sort_by_key(|b| b.part_number);
    let expected: Vec<OrphanBlob> = parts.iter().map(|p| orphan_of(&p.part)).collect();
    assert_eq!(got, expected);
    check_queued_and_forget(store, &o).await;

    assert_eq!(store.get_upload("cf-mpu-a-1").await.expect("get"), None);
    assert!(
        store
            .list_parts("cf-mpu-a-1", 0, 100)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store.get_object(b, "k").await.expect("get"),
        None,
        "abort creates nothing"
    );
    is(
        store.abort_upload("cf-mpu-a-1").await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "abort twice",
    );
    is(
        store
            .put_part(&uploaded("cf-mpu-a-1", 3, "cf-mpu-a-late", 9))
            .await,
        |e| matches!(e, MetaError::NoSuchUpload),
        "put_part after abort",
    );
    // Bucket is empty again.
    store.delete_bucket(b).await.expect("delete_bucket");
}

pub async fn list_uploads_order_and_markers(store: &dyn MetaStore) {
    let b = "cf-mpu-list";
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    store
        .create_bucket(&bucket("cf-mpu-list-other"))
        .await
        .expect("create_bucket");
    // (upload id, key, initiated). Within a key: initiated first, then upload id.
    let specs = [
        ("u-3", "k1", 300),
        ("u-1", "k1", 100),
        ("u-9", "k1", 100),
        ("u-2", "k1", 200),
        ("u-5", "k1/x", 50),
        ("u-4", "k2", 10),
        ("u-8", "a%", 10),
        ("u-7", "日本", 10),
        ("u-6", "k1%", 10),
    ];
    for (id, key, at) in specs {
        store
            .create_upload(&upload(id, b, key, at))
            .await
            .expect("create_upload");
    }
    store
        .create_upload(&upload("u-other", "cf-mpu-list-other", "k1", 1))
        .await
        .expect("create_upload");

    let ids =
        |v: Vec<MultipartUpload>| -> Vec<String> { v.into_iter().map(|u| u.upload_id).collect() };
    let q = |prefix: &str, after: Option<(&str, &str)>, limit: usize| UploadListQuery {
        prefix: prefix.to_owned(),
        after: after.map(|(k, u)| (k.to_owned(), u.to_owned())),
        limit,
    };
    let all = store
        .list_uploads(b, &q("", None, 100))
        .await
        .expect("list_uploads");
    assert_eq!(
        all[0],
        upload("u-8", b, "a%", 10),
        "records come back whole"
    );
    assert_eq!(
        ids(all),
        vec![
            "u-8", "u-1", "u-9", "u-2", "u-3", "u-6", "u-5", "u-4", "u-7"
        ]
    );
    let l = |query: UploadListQuery| async move {
        ids(store.list_uploads(b, &query).await.expect("list_uploads"))
    };
    assert_eq!(
        l(q("k1", None, 100)).await,
        vec!["u-1", "u-9", "u-2", "u-3", "u-6", "u-5"]
    );
    assert_eq!(l(q("k1/", None, 100)).await, vec!["u-5"]);
    assert_eq!(l(q("k1%", None, 100)).await, vec!["u-6"]);
    assert_eq!(l(q("a", None, 100)).await, vec!["u-8"]);
    assert_eq!(l(q("日", None, 100)).await, vec!["u-7"]);
    assert!(l(q("zz", None, 100)).await.is_empty());
    assert!(l(q("", None, 0)).await.is_empty());
    assert_eq!(l(q("", None, 2)).await, vec!["u-8", "u-1"]);

    // Markers: resume after the marker upload's position within its key.
    assert_eq!(
        l(q("", Some(("k1", "u-1")), 3)).await,
        vec!["u-9", "u-2", "u-3"]
    );
    assert_eq!(l(q("", Some(("k1", "u-9")), 2)).await, vec!["u-2", "u-3"]);
    assert_eq!(
        l(q("k1", Some(("k1", "u-3")), 100)).await,
        vec!["u-6", "u-5"]
    );
    // Empty upload id: skip the whole key.
    assert_eq!(
        l(q("", Some(("k1", "")), 100)).await,
        vec!["u-6", "u-5", "u-4", "u-7"]
    );
    assert_eq!(
        l(q("k1", Some(("k1/x", "")), 100)).await,
        Vec::<String>::new()
    );
    // A key marker that is no key: everything after it.
    assert_eq!(
        l(q("", Some(("k0", "")), 100)).await,
        vec!["u-1", "u-9", "u-2", "u-3", "u-6", "u-5", "u-4", "u-7"]
    );

    // Paging by (key, upload id) of the last entry reproduces the full listing.
    for page in 1..=4 {
        let mut got: Vec<String> = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let query = UploadListQuery {
                prefix: String::new(),
                after: after.clone(),
                limit: page,
            };
            let batch = store.list_uploads(b, &query).await.expect("list_uploads");
            assert!(batch.len() <= page);
            let Some(last) = batch.last() else { break };
            after = Some((last.key.clone(), last.upload_id.clone()));
            got.extend(batch.into_iter().map(|u| u.upload_id));
        }
        assert_eq!(
            got,
            vec![
                "u-8", "u-1", "u-9", "u-2", "u-3", "u-6", "u-5", "u-4", "u-7"
            ],
            "pages of {page}"
        );
    }

    for (id, _, _) in specs {
        store.abort_upload(id).await.expect("abort");
    }
    store.abort_upload("u-other").await.expect("abort");
    store.delete_bucket(b).await.expect("delete_bucket");
    store
        .delete_bucket("cf-mpu-list-other")
        .await
        .expect("delete_bucket");
}

// ----- orphan queue ---------------------------------------------------------------------------

pub async fn orphan_queue(store: &dyn MetaStore) {
    let b = "cf-orphans";
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    let before: BTreeSet<i64> = store
        .pending_orphans(usize::MAX)
        .await
        .expect("pending")
        .entries
        .iter()
        .map(|(id, _)| *id)
        .collect();

    // Queue blobs in a known order: three generations of one key, then a delete.
    let mut queued: Vec<(i64, OrphanBlob)> = Vec::new();
    let gens = [
        object(b, "k", "g1", &["cf-orph-1"]),
        object(b, "k", "g2", &["cf-orph-2a", "cf-orph-2b"]),
        object(b, "k", "g3", &["cf-orph-3"]),
    ];
    for rec in &gens {
        queued.extend(store.put_object(rec).await.expect("put").entries);
    }
    queued.extend(store.delete_object(b, "k").await.expect("delete").entries);
    let blob_order: Vec<&str> = queued.iter().map(|(_, b)| b.blob_id.as_str()).collect();
    assert_eq!(
        blob_order,
        vec!["cf-orph-1", "cf-orph-2a", "cf-orph-2b", "cf-orph-3"]
    );
    for w in queued.windows(2) {
        assert!(w[0].0 < w[1].0, "later orphans get later ids: {queued:?}");
    }

    // pending_orphans: oldest first; ours appear in queue order with their contents.
    let pending = store.pending_orphans(usize::MAX).await.expect("pending");
    let ours: Vec<(i64, OrphanBlob)> = pending
        .entries
        .iter()
        .filter(|(id, _)| !before.contains(id))
        .cloned()
        .collect();
    assert_eq!(ours, queued);
    let all_ids: Vec<i64> = pending.entries.iter().map(|(id, _)| *id).collect();
    let mut sorted = all_ids.clone();
    sorted.sort_unstable();
    assert_eq!(all_ids, sorted, "oldest (lowest id) first");
    let limited = store.pending_orphans(2).await.expect("pending");
    assert_eq!(limited.entries.len(), 2.min(pending.entries.len()));
    assert_eq!(
        limited.entries[..],
        pending.entries[..limited.entries.len()]
    );
    assert!(
        store
            .pending_orphans(0)
            .await
            .expect("pending")
            .entries
            .is_empty()
    );

    // forget_orphans: removes exactly the given ids; unknown ids and empty lists are fine.
    store.forget_orphans(&[]).await.expect("forget nothing");
    store
        .forget_orphans(&[queued[1].0, queued[3].0, i64::MAX - 7])
        .await
        .expect("forget");
    let left: Vec<(i64, OrphanBlob)> = store
        .pending_orphans(usize::MAX)
        .await
        .expect("pending")
        .entries
        .into_iter()
        .filter(|(id, _)| !before.contains(id))
        .collect();
    assert_eq!(left, vec![queued[0].clone(), queued[2].clone()]);
    store
        .forget_orphans(&[queued[1].0])
        .await
        .expect("forget again");
    store
        .forget_orphans(&[queued[0].0, queued[2].0])
        .await
        .expect("forget");
    let left = store.pending_orphans(usize::MAX).await.expect("pending");
    assert!(
        left.entries.iter().all(|(id, _)| before.contains(id)),
        "{left:?}"
    );

    // New entries never reuse a forgotten id.
    let rec = object(b, "k2", "g1", &["cf-orph-new"]);
    store.put_object(&rec).await.expect("put");
    let gone = store.delete_object(b, "k2").await.expect("delete");
    assert_eq!(gone.entries.len(), 1);
    assert!(gone.entries[0].0 > queued[3].0, "ids only grow: {gone:?}");
    check_queued_and_forget(store, &gone).await;
    store.delete_bucket(b).await.expect("delete_bucket");
}

// ----- versions ---------------------------------------------------------------------------------

fn versioned(bucket: &str, key: &str, version: &str, blob: &str) -> ObjectRecord {
    let mut r = object(bucket, key, version, &[blob]);
    r.versioned = true;
    r
}

fn marker(bucket: &str, key: &str, version: &str, versioned: bool) -> DeleteMarker {
    DeleteMarker {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: version.to_owned(),
        versioned,
        last_modified_ms: 1_700_000_000_999,
    }
}

/// (key, S3 version id, is marker, is latest) of a whole version listing.
async fn all_versions(store: &dyn MetaStore, b: &str) -> Vec<(String, String, bool, bool)> {
    store
        .list_versions(
            b,
            &VersionListQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("list_versions")
        .into_iter()
        .map(|v| {
            (
                v.entry.key().to_owned(),
                v.entry.s3_version_id().to_owned(),
                matches!(v.entry, VersionEntry::DeleteMarker(_)),
                v.is_latest,
            )
        })
        .collect()
}

fn row(key: &str, v: &str, marker: bool, latest: bool) -> (String, String, bool, bool) {
    (key.to_owned(), v.to_owned(), marker, latest)
}

/// Enabled versioning: puts keep older versions, a delete adds a marker, deleting versions by
/// id promotes the next newest; listings order keys, then newest first, and resume at markers.
pub async fn versions_and_delete_markers(store: &dyn MetaStore) {
    let b = "conf-versions";
    store.create_bucket(&bucket(b)).await.unwrap();
    store
        .set_bucket_versioning(b, Versioning::Enabled)
        .await
        .unwrap();
    let v1 = versioned(b, "k", "a1a1", "vb-1");
    let v2 = versioned(b, "k", "a2a2", "vb-2");
    assert_eq!(store.put_object(&v1).await.unwrap(), Orphans::default());
    assert_eq!(
        store.put_object(&v2).await.unwrap(),
        Orphans::default(),
        "a versioned put orphans nothing"
    );
    store
        .put_object(&versioned(b, "z", "z1z1", "vb-z"))
        .await
        .unwrap();
    assert_eq!(store.get_object(b, "k").await.unwrap(), Some(v2.clone()));
    assert_eq!(
        store.get_version(b, "k", "a1a1").await.unwrap(),
        Some(VersionEntry::Object(Box::new(v1.clone())))
    );
    let o = store
        .put_delete_marker(&marker(b, "k", "m1m1", true))
        .await
        .unwrap();
    assert_eq!(o, Orphans::default());
    assert_eq!(
        store.get_object(b, "k").await.unwrap(),
        None,
        "hidden by the marker"
    );
    assert_eq!(
        all_versions(store, b).await,
        vec![
            row("k", "m1m1", true, true),
            row("k", "a2a2", false, false),
            row("k", "a1a1", false, false),
            row("z", "z1z1", false, true),
        ]
    );
    // resume after the middle version of k
    let page = store
        .list_versions(
            b,
            &VersionListQuery {
                after_key: Some("k".into()),
                after_version: Some("a2a2".into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = page.iter().map(|v| v.entry.s3_version_id()).collect();
    assert_eq!(ids, ["a1a1", "z1z1"]);
    // removing the marker makes v2 current again; removing v2 then makes v1 current
    let (gone, o) = store.delete_version(b, "k", "m1m1", false).await.unwrap();
    assert!(matches!(gone, Some(VersionEntry::DeleteMarker(_))));
    assert_eq!(o, Orphans::default());
    assert_eq!(store.get_object(b, "k").await.unwrap(), Some(v2.clone()));
    let (gone, o) = store.delete_version(b, "k", "a2a2", false).await.unwrap();
    assert_eq!(gone, Some(VersionEntry::Object(Box::new(v2.clone()))));
    assert_eq!(o.replaced_version.as_deref(), Some("a2a2"));
    let queued: Vec<&str> = o.entries.iter().map(|(_, e)| e.blob_id.as_str()).collect();
    assert_eq!(queued, ["vb-2"]);
    check_queued_and_forget(store, &o).await;
    assert_eq!(store.get_object(b, "k").await.unwrap(), Some(v1.clone()));
    // a missing version is not an error
    let (gone, o) = store.delete_version(b, "k", "ffff", false).await.unwrap();
    assert_eq!((gone, o), (None, Orphans::default()));
    assert!(matches!(
        store.delete_bucket(b).await,
        Err(MetaError::BucketNotEmpty)
    ));
    for (key, v) in [("k", "a1a1"), ("z", "z1z1")] {
        let (_, o) = store.delete_version(b, key, v, false).await.unwrap();
        check_queued_and_forget(store, &o).await;
    }
    assert!(all_versions(store, b).await.is_empty());
    store.delete_bucket(b).await.unwrap();
}

/// Suspended versioning: null versions and null markers replace the null version; versioned
/// ones stay.
pub async fn suspended_null_versions(store: &dyn MetaStore) {
    let b = "conf-suspended";
    store.create_bucket(&bucket(b)).await.unwrap();
    store
        .set_bucket_versioning(b, Versioning::Enabled)
        .await
        .unwrap();
    store
        .put_object(&versioned(b, "k", "b1b1", "sb-1"))
        .await
        .unwrap();
    store
        .set_bucket_versioning(b, Versioning::Suspended)
        .await
        .unwrap();
    let n1 = object(b, "k", "n1", &["sb-n1"]);
    let n2 = object(b, "k", "n2", &["sb-n2"]);
    assert_eq!(store.put_object(&n1).await.unwrap(), Orphans::default());
    let o = store.put_object(&n2).await.unwrap();
    assert_eq!(
        o.replaced_version.as_deref(),
        Some("n1"),
        "the null version is replaced"
    );
    check_queued_and_forget(store, &o).await;
    assert_eq!(
        all_versions(store, b).await,
        vec![
            row("k", "null", false, true),
            row("k", "b1b1", false, false)
        ]
    );
    let o = store
        .put_delete_marker(&marker(b, "k", "nm", false))
        .await
        .unwrap();
    assert_eq!(o.replaced_version.as_deref(), Some("n2"));
    check_queued_and_forget(store, &o).await;
    assert_eq!(
        all_versions(store, b).await,
        vec![row("k", "null", true, true), row("k", "b1b1", false, false)]
    );
    for v in ["null", "b1b1"] {
        let (_, o) = store.delete_version(b, "k", v, false).await.unwrap();
        check_queued_and_forget(store, &o).await;
    }
    store.delete_bucket(b).await.unwrap();
}

/// Object Lock: locked versions cannot be deleted; compliance only extends; governance
/// yields to the bypass; a legal hold blocks even the bypass.
pub async fn object_lock_rules(store: &dyn MetaStore) {
    let b = "conf-lock";
    store.create_bucket(&bucket(b)).await.unwrap();
    store
        .set_bucket_object_lock(b, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        store.get_bucket(b).await.unwrap().unwrap().versioning,
        Versioning::Enabled
    );
    assert!(matches!(
        store.set_bucket_versioning(b, Versioning::Suspended).await,
        Err(MetaError::InvalidBucketState(_))
    ));
    let far = 4_000_000_000_000; // year 2096
    let mut c = versioned(b, "c", "c1c1", "lb-c");
    c.retention = Some(Retention {
        mode: RetentionMode::Compliance,
        retain_until_ms: far,
    });
    let mut g = versioned(b, "g", "g1g1", "lb-g");
    g.retention = Some(Retention {
        mode: RetentionMode::Governance,
        retain_until_ms: far,
    });
    store.put_object(&c).await.unwrap();
    store.put_object(&g).await.unwrap();
    for bypass in [false, true] {
        assert!(matches!(
            store.delete_version(b, "c", "c1c1", bypass).await,
            Err(MetaError::ObjectLocked(_))
        ));
    }
    let shorten = |mode, until, bypass| LockChange::Retention {
        retention: Some(Retention {
            mode,
            retain_until_ms: until,
        }),
        bypass_governance: bypass,
    };
    assert!(matches!(
        store
            .update_version_lock(
                b,
                "c",
                "c1c1",
                &shorten(RetentionMode::Compliance, far - 1, true)
            )
            .await,
        Err(MetaError::ObjectLocked(_))
    ));
    let extended = store
        .update_version_lock(
            b,
            "c",
            "c1c1",
            &shorten(RetentionMode::Compliance, far + 1, false),
        )
        .await
        .unwrap();
    assert_eq!(extended.retention.unwrap().retain_until_ms, far + 1);
    // governance: held, then bypassed
    assert!(matches!(
        store.delete_version(b, "g", "g1g1", false).await,
        Err(MetaError::ObjectLocked(_))
    ));
    store
        .update_version_lock(b, "g", "g1g1", &LockChange::LegalHold(true))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_version(b, "g", "g1g1", true).await,
        Err(MetaError::ObjectLocked(_))
    ));
    store
        .update_version_lock(b, "g", "g1g1", &LockChange::LegalHold(false))
        .await
        .unwrap();
    let (gone, o) = store.delete_version(b, "g", "g1g1", true).await.unwrap();
    assert!(gone.is_some());
    check_queued_and_forget(store, &o).await;
    assert!(matches!(
        store
            .update_version_lock(b, "c", "ffff", &LockChange::LegalHold(true))
            .await,
        Err(MetaError::NoSuchVersion)
    ));
    // the compliance version stays (and so does this bucket)
    assert!(store.get_version(b, "c", "c1c1").await.unwrap().is_some());
}

/// `put_object_if` / `complete_upload_if`: the condition is checked against the current version
/// inside the commit; a failed condition changes nothing and queues nothing.
pub async fn conditional_writes(store: &dyn MetaStore) {
    let b = "cf-cond";
    store
        .create_bucket(&bucket(b))
        .await
        .expect("create_bucket");
    let first = object(b, "k", "cf-cond-v1", &["cf-cond-b1"]);
    let absent = WriteCondition::IfAbsent;

    let o = store
        .put_object_if(&first, &absent)
        .await
        .expect("IfAbsent on a missing key commits");
    assert!(
        o.entries.is_empty() && o.replaced_version.is_none(),
        "{o:?}"
    );

    let second = object(b, "k", "cf-cond-v2", &["cf-cond-b2"]);
    is(
        store.put_object_if(&second, &absent).await,
        |e| matches!(e, MetaError::PreconditionFailed),
        "IfAbsent on an existing key",
    );
    is(
        store
            .put_object_if(&second, &WriteCondition::IfEtagMatches("nope".into()))
            .await,
        |e| matches!(e, MetaError::PreconditionFailed),
        "IfEtagMatches with another etag",
    );
    let missing = object(b, "missing", "cf-cond-v3", &["cf-cond-b3"]);
    is(
        store
            .put_object_if(&missing, &WriteCondition::IfEtagMatches(first.etag.clone()))
            .await,
        |e| matches!(e, MetaError::NoSuchKey),
        "IfEtagMatches on a missing key",
    );
    assert_eq!(store.get_object(b, "missing").await.expect("get"), None);
    assert_eq!(
        store.get_object(b, "k").await.expect("get"),
        Some(first.clone()),
        "failed conditions leave the object alone"
    );

    let o = store
        .put_object_if(&second, &WriteCondition::IfEtagMatches(first.etag.clone()))
        .await
        .expect("IfEtagMatches with the current etag commits");
    assert_eq!(blobs(&o), ["cf-cond-b1"]);
    assert_eq!(o.replaced_version.as_deref(), Some("cf-cond-v1"));
    check_queued_and_forget(store, &o).await;

    // CompleteMultipartUpload under a failing condition keeps the upload and its parts.
    let up = upload("cf-cond-up", b, "k", 5);
    store.create_upload(&up).await.expect("create_upload");
    let part = uploaded("cf-cond-up", 1, "cf-cond-p1", 6);
    store.put_part(&part).await.expect("put_part");
    let mut done = object(b, "k", "v-cf-cond-up", &["cf-cond-p1"]);
    done.parts = vec![part.part.clone()];
    is(
        store.complete_upload_if("cf-cond-up", &done, &absent).await,
        |e| matches!(e, MetaError::PreconditionFailed),
        "complete with IfAbsent on an existing key",
    );
    assert!(store.get_upload("cf-cond-up").await.expect("get").is_some());
    assert_eq!(
        store
            .list_parts("cf-cond-up", 0, 10)
            .await
            .expect("parts")
            .len(),
        1
    );
    let o = store
        .complete_upload_if(
            "cf-cond-up",
            &done,
            &WriteCondition::IfEtagMatches(second.etag.clone()),
        )
        .await
        .expect("complete with the current etag");
    assert_eq!(blobs(&o), ["cf-cond-b2"]);
    check_queued_and_forget(store, &o).await;
    assert_eq!(store.get_object(b, "k").await.expect("get"), Some(done));

    let o = store.delete_object(b, "k").await.expect("delete");
    check_queued_and_forget(store, &o).await;
    store.delete_bucket(b).await.expect("delete_bucket");
}
