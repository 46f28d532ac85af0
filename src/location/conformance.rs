//! The location conformance suite (object_store's `integration.rs` idea): public async
//! functions over `&dyn Location` that every backend's tests run (`tests/locations.rs`).
//! Each function works under its own `base` prefix and panics with the location's name on a
//! failure. [`run_all`] runs all of them under a fresh random prefix.
//!
//! Test-only code, compiled always (it is small and has no dependencies of its own) so that
//! integration tests can call it.

use std::ops::Range;

use bytes::Bytes;

use super::{Location, LocationError};

/// Size of the streamed blob in [`large_streamed_blob`].
pub const LARGE_BLOB: usize = 20 * 1024 * 1024;
/// Size of each `write` call in [`large_streamed_blob`].
pub const WRITE_SIZE: usize = 1024 * 1024;

/// Deterministic, non-repeating test bytes (xorshift): a misplaced range shows.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Runs every check under `conformance/<random>/` and removes what it wrote.
pub async fn run_all(location: &dyn Location) {
    let base = format!("conformance/{}", uuid::Uuid::new_v4().simple());
    put_get_head_delete(location, &base).await;
    ranges(location, &base).await;
    missing_blob(location, &base).await;
    overwrite(location, &base).await;
    delete_missing_blob(location, &base).await;
    list(location, &base).await;
    engine_names(location, &base).await;
    abort_leaves_nothing(location, &base).await;
    concurrent_writers(location, &base, 8).await;
    large_streamed_blob(location, &base).await;
    cleanup(location, &base).await;
}

fn who(location: &dyn Location) -> &str {
    location.name()
}

pub async fn put_get_head_delete(location: &dyn Location, base: &str) {
    let path = format!("{base}/basic/blob");
    let data = Bytes::from(pattern(10_000, 1));
    location.put(&path, data.clone()).await.unwrap();
    assert_eq!(
        location.get(&path).await.unwrap(),
        data,
        "{}",
        who(location)
    );
    assert_eq!(location.head(&path).await.unwrap(), 10_000);
    // An empty blob is a blob.
    let empty = format!("{base}/basic/empty");
    location.put(&empty, Bytes::new()).await.unwrap();
    assert_eq!(location.head(&empty).await.unwrap(), 0);
    assert!(location.get(&empty).await.unwrap().is_empty());
    location.delete(&path).await.unwrap();
    location.delete(&empty).await.unwrap();
    assert!(
        matches!(location.head(&path).await, Err(LocationError::NotFound(_))),
        "{}: deleted blob still there",
        who(location)
    );
}

pub async fn ranges(location: &dyn Location, base: &str) {
    let path = format!("{base}/ranges/blob");
    let data = pattern(100_000, 2);
    location
        .put(&path, Bytes::from(data.clone()))
        .await
        .unwrap();
    let cases: [Range<u64>; 5] = [0..1, 0..100_000, 1234..56_789, 99_999..100_000, 500..500];
    for range in cases {
        let want = &data[range.start as usize..range.end as usize];
        if !range.is_empty() {
            let got = location.get_range(&path, range.clone()).await.unwrap();
            assert_eq!(&got[..], want, "{}: get_range {range:?}", who(location));
        }
        let got = location
            .read_range_into(&path, range.clone(), b"xy".to_vec())
            .await
            .unwrap();
        assert_eq!(
            &got[..2],
            b"xy",
            "{}: read_range_into keeps the head",
            who(location)
        );
        assert_eq!(
            &got[2..],
            want,
            "{}: read_range_into {range:?}",
            who(location)
        );
    }
    let err = location
        .read_range_into(&format!("{base}/ranges/nope"), 0..10, Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, LocationError::NotFound(_)), "{err}");
    // Past the end: `Invalid` (an answer about the blob, so a health decorator stays up).
    for range in [99_000..100_001, 100_000..100_032, 200_000..200_010] {
        let err = location
            .read_range_into(&path, range.clone(), Vec::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, LocationError::Invalid { .. }),
            "{}: read_range_into {range:?}: {err}",
            who(location)
        );
        // get_range may hand back the bytes there are (S3 semantics) or refuse.
        match location.get_range(&path, range.clone()).await {
            Ok(got) => assert!(got.len() < (range.end - range.start) as usize),
            Err(err) => assert!(
                !err.is_location_failure(),
                "{}: get_range {range:?}: {err}",
                who(location)
            ),
        }
    }
    assert!(location.is_available(), "{}", who(location));
    location.delete(&path).await.unwrap();
}

pub async fn missing_blob(location: &dyn Location, base: &str) {
    let path = format!("{base}/missing/none");
    for (what, result) in [
        ("get", location.get(&path).await.map(|_| ())),
        (
            "get_range",
            location.get_range(&path, 0..4).await.map(|_| ()),
        ),
        ("head", location.head(&path).await.map(|_| ())),
    ] {
        assert!(
            matches!(result, Err(LocationError::NotFound(_))),
            "{}: {what} of a missing blob: {result:?}",
            who(location)
        );
    }
}

pub async fn overwrite(location: &dyn Location, base: &str) {
    let path = format!("{base}/overwrite/blob");
    location
        .put(&path, Bytes::from(pattern(5000, 3)))
        .await
        .unwrap();
    let second = Bytes::from(pattern(300, 4));
    location.put(&path, second.clone()).await.unwrap();
    assert_eq!(location.get(&path).await.unwrap(), second);
    // A streamed write replaces a blob, too.
    let third = Bytes::from(pattern(7000, 5));
    let mut writer = location.begin_write(&path).await.unwrap();
    writer.write(third.slice(..3000)).await.unwrap();
    writer.write(third.slice(3000..)).await.unwrap();
    writer.finish().await.unwrap();
    assert_eq!(location.get(&path).await.unwrap(), third);
    location.delete(&path).await.unwrap();
}

pub async fn delete_missing_blob(location: &dyn Location, base: &str) {
    location
        .delete(&format!("{base}/delete/never-written"))
        .await
        .unwrap_or_else(|e| panic!("{}: deleting a missing blob: {e}", who(location)));
}

pub async fn list(location: &dyn Location, base: &str) {
    let dir = format!("{base}/list");
    let names = ["a/1.0", "a/1.1", "b/2.0", "c"];
    for (i, name) in names.iter().enumerate() {
        location
            .put(&format!("{dir}/{name}"), Bytes::from(vec![7u8; i + 1]))
            .await
            .unwrap();
    }
    // A sibling that shares the textual prefix must not show up.
    location
        .put(&format!("{base}/listed/x"), Bytes::from_static(b"x"))
        .await
        .unwrap();
    let mut got = location.list(&format!("{dir}/")).await.unwrap();
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let want: Vec<(String, u64)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("{dir}/{n}"), i as u64 + 1))
        .collect();
    let got: Vec<(String, u64)> = got.into_iter().map(|b| (b.path, b.size)).collect();
    assert_eq!(got, want, "{}: list", who(location));
    let sub = location.list(&format!("{dir}/a/")).await.unwrap();
    assert_eq!(
        sub.len(),
        2,
        "{}: list of a sub-prefix: {sub:?}",
        who(location)
    );
    let none = location.list(&format!("{base}/list-empty/")).await.unwrap();
    assert!(none.is_empty(), "{none:?}");
    for name in names {
        location.delete(&format!("{dir}/{name}")).await.unwrap();
    }
    location.delete(&format!("{base}/listed/x")).await.unwrap();
    assert!(location.list(&format!("{dir}/")).await.unwrap().is_empty());
}

/// The names the engine writes: `shards/<32 hex>/<part>.<shard>`, `manifests/<32 hex>`.
pub async fn engine_names(location: &dyn Location, base: &str) {
    let id = "0123456789abcdef0123456789abcdef";
    let paths = [
        format!("{base}/shards/{id}/1.0"),
        format!("{base}/shards/{id}/10000.255"),
        format!("{base}/manifests/{id}"),
    ];
    for (i, path) in paths.iter().enumerate() {
        location
            .put(path, Bytes::from(pattern(100 + i, 6)))
            .await
            .unwrap();
        assert_eq!(location.get(path).await.unwrap().len(), 100 + i);
    }
    let listed = location
        .list(&format!("{base}/shards/{id}/"))
        .await
        .unwrap();
    let mut listed: Vec<String> = listed.into_iter().map(|b| b.path).collect();
    listed.sort();
    assert_eq!(listed, paths[..2].to_vec(), "{}", who(location));
    for path in &paths {
        location.delete(path).await.unwrap();
    }
}

pub async fn abort_leaves_nothing(location: &dyn Location, base: &str) {
    let path = format!("{base}/abort/blob");
    let mut writer = location.begin_write(&path).await.unwrap();
    writer
        .write(Bytes::from(pattern(WRITE_SIZE, 7)))
        .await
        .unwrap();
    writer.abort().await.unwrap();
    assert!(
        matches!(location.head(&path).await, Err(LocationError::NotFound(_))),
        "{}: aborted blob is visible",
        who(location)
    );
    let listed = location.list(&format!("{base}/abort/")).await.unwrap();
    assert!(listed.is_empty(), "{}: {listed:?}", who(location));
}

pub async fn concurrent_writers(location: &dyn Location, base: &str, writers: usize) {
    let tasks = (0..writers).map(|i| async move {
        let path = format!("{base}/concurrent/{i}");
        let data = pattern(300_000 + i * 1000, 100 + i as u64);
        let mut writer = location.begin_write(&path).await.unwrap();
        for piece in data.chunks(64 * 1024) {
            writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        writer.finish().await.unwrap();
        (path, data)
    });
    let written = futures::future::join_all(tasks).await;
    for (path, data) in written {
        let got = location.get(&path).await.unwrap();
        assert!(got == data, "{}: {path} differs", who(location));
        location.delete(&path).await.unwrap();
    }
}

/// [`LARGE_BLOB`] bytes through `begin_write` in [`WRITE_SIZE`] writes, read back exactly.
pub async fn large_streamed_blob(location: &dyn Location, base: &str) {
    let path = format!("{base}/large/blob");
    let data = Bytes::from(pattern(LARGE_BLOB, 8));
    let mut writer = location.begin_write(&path).await.unwrap();
    let mut offset = 0;
    while offset < data.len() {
        let end = (offset + WRITE_SIZE).min(data.len());
        writer.write(data.slice(offset..end)).await.unwrap();
        offset = end;
    }
    writer.finish().await.unwrap();
    assert_eq!(location.head(&path).await.unwrap(), LARGE_BLOB as u64);
    let got = location.get(&path).await.unwrap();
    assert!(got == data, "{}: large blob differs", who(location));
    let tail = location
        .read_range_into(
            &path,
            (LARGE_BLOB - 1000) as u64..LARGE_BLOB as u64,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(&tail[..], &data[LARGE_BLOB - 1000..]);
    location.delete(&path).await.unwrap();
}

/// Removes everything under `base`.
pub async fn cleanup(location: &dyn Location, base: &str) {
    for blob in location.list(&format!("{base}/")).await.unwrap() {
        location.delete(&blob.path).await.unwrap();
    }
}
