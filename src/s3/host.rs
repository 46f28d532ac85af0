//! Addressing: path-style (`/bucket/key`) and virtual-hosted-style (`bucket.<base domain>`),
//! and the S3 naming rules for buckets and keys.

use super::error::{S3Error, S3ErrorCode, S3Result};

/// Longest key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Bucket and key a request addresses, percent-decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// Splits the request's host and path into bucket and key.
pub fn resolve(host: Option<&str>, raw_path: &str, base_domains: &[String]) -> S3Result<Target> {
    let path = percent_encoding::percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "the request path is not valid UTF-8",
            )
        })?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    if let Some(bucket) = host.and_then(|h| virtual_host_bucket(h, base_domains)) {
        let key = (!path.is_empty()).then(|| path.to_string());
        return Ok(Target {
            bucket: Some(bucket),
            key,
        });
    }
    if path.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
        });
    }
    Ok(match path.split_once('/') {
        None => Target {
            bucket: Some(path.to_string()),
            key: None,
        },
        Some((bucket, key)) => Target {
            bucket: Some(bucket.to_string()),
            key: (!key.is_empty()).then(|| key.to_string()),
        },
    })
}

fn virtual_host_bucket(host: &str, base_domains: &[String]) -> Option<String> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host = host.to_ascii_lowercase();
    base_domains.iter().find_map(|base| {
        let base = base.trim_matches('.').to_ascii_lowercase();
        host.strip_suffix(&base)
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|b| !b.is_empty())
            .map(str::to_string)
    })
}

/// The S3 bucket naming rules (general purpose buckets).
pub fn check_bucket_name(name: &str) -> S3Result<()> {
    let bytes = name.as_bytes();
    let valid_chars = bytes
        .iter()
        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    let ends_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    let looks_like_ip =
        name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok());
    let reserved = name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3");
    if (3..=63).contains(&name.len())
        && valid_chars
        && ends_ok
        && !name.contains("..")
        && !looks_like_ip
        && !reserved
    {
        Ok(())
    } else {
        Err(S3Error::new(
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.",
        ))
    }
}

pub fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(S3Error::new(
            S3ErrorCode::KeyTooLongError,
            "Your key is too long",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style() {
        let t = resolve(Some("localhost:9000"), "/bkt/a/b%20c//d", &[]).unwrap();
        assert_eq!(
            t,
            Target {
                bucket: Some("bkt".into()),
                key: Some("a/b c//d".into())
            }
        );
        assert_eq!(
            resolve(None, "/", &[]).unwrap(),
            Target {
                bucket: None,
                key: None
            }
        );
        assert_eq!(
            resolve(None, "/bkt/", &[]).unwrap(),
            Target {
                bucket: Some("bkt".into()),
                key: None
            }
        );
    }

    #[test]
    fn virtual_hosted() {
        let base = vec!["s3.example.test".to_string()];
        let t = resolve(Some("bkt.s3.example.test:9000"), "/x/y", &base).unwrap();
        assert_eq!(
            t,
            Target {
                bucket: Some("bkt".into()),
                key: Some("x/y".into())
            }
        );
        let t = resolve(Some("s3.example.test"), "/bkt/k", &base).unwrap();
        assert_eq!(
            t,
            Target {
                bucket: Some("bkt".into()),
                key: Some("k".into())
            }
        );
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a".repeat(63).as_str()] {
            assert!(check_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
