//! Remote locations: a URL (`s3://bucket/path`, `az://container/path`, `gs://bucket/path`) plus
//! an options map, built the way `object_store::parse_url_opts` builds them (plus a short retry
//! policy, see [`retry_config`]). Option keys are object_store's own
//! (`aws_endpoint`, `aws_region`, `azure_storage_account_name`, `google_service_account`, the
//! client options `timeout`, `connect_timeout`, ...).
//!
//! `parse_url_opts` ignores keys it does not know, so [`check_options`] checks them first: a
//! misspelt option is a config error at startup, not a silently anonymous client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStoreScheme;
use url::Url;

use super::object_store_backend::backend_error;
use super::{LocationResult, ObjectStoreLocation};

/// Connect timeout set when the options don't name one.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The URL without query and fragment (an Azure SAS token may sit in the query): for messages.
fn display_url(url: &Url) -> &str {
    &url[..url::Position::AfterPath]
}

fn parse(url: &str) -> Result<(Url, ObjectStoreScheme), String> {
    let parsed = Url::parse(url).map_err(|e| format!("location URL is not a URL: {e}"))?;
    let (scheme, _) = ObjectStoreScheme::parse(&parsed).map_err(|_| {
        format!(
            "{}: unknown location URL scheme (use s3://, az://, gs://, file:// or a path)",
            display_url(&parsed)
        )
    })?;
    Ok((parsed, scheme))
}

/// Checks that `url` names a supported remote store and that every option key is one that
/// store understands. Errors name the URL (without query) and the key, never a value.
pub fn check_options<'a>(url: &str, keys: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    use object_store::aws::AmazonS3ConfigKey;
    use object_store::azure::AzureConfigKey;
    use object_store::gcp::GoogleConfigKey;

    let (parsed, scheme) = parse(url)?;
    let known: fn(&str) -> bool = match scheme {
        ObjectStoreScheme::AmazonS3 => |k| k.parse::<AmazonS3ConfigKey>().is_ok(),
        ObjectStoreScheme::MicrosoftAzure => |k| k.parse::<AzureConfigKey>().is_ok(),
        ObjectStoreScheme::GoogleCloudStorage => |k| k.parse::<GoogleConfigKey>().is_ok(),
        _ => {
            return Err(format!(
                "{}: scheme {:?} is not a supported remote location (use s3://, az://, gs://)",
                display_url(&parsed),
                parsed.scheme()
            ));
        }
    };
    if let Some(key) = keys
        .into_iter()
        .find(|key| !known(&key.to_ascii_lowercase()))
    {
        return Err(format!(
            "{}: unknown option {key:?} for this store (see object_store's config keys)",
            display_url(&parsed)
        ));
    }
    Ok(())
}

/// True when `options` sets the client option `name` (bare or with a store prefix).
fn has_client_option(options: &BTreeMap<String, String>, name: &str) -> bool {
    options.keys().any(|k| {
        let k = k.to_ascii_lowercase();
        ["aws_", "azure_", "google_", ""]
            .iter()
            .any(|p| k.strip_prefix(p) == Some(name))
    })
}

/// Opens a remote location. `options` are object_store config keys with their (resolved)
/// values; `request_timeout` becomes the HTTP client's per-request `timeout` unless the options
/// set one. The URL's path inside the bucket, then `prefix`, form the key prefix.
pub fn open(
    name: &str,
    url: &str,
    options: &BTreeMap<String, String>,
    prefix: &str,
    request_timeout: Duration,
) -> LocationResult<ObjectStoreLocation> {
    check_options(url, options.keys().map(String::as_str)).map_err(|m| backend_error(name, m))?;
    let (parsed, _) = parse(url).map_err(|m| backend_error(name, m))?;
    let mut options = options.clone();
    if !has_client_option(&options, "timeout") {
        options.insert(
            "timeout".into(),
            format!("{}ms", request_timeout.as_millis()),
        );
    }
    if !has_client_option(&options, "connect_timeout") {
        let connect = DEFAULT_CONNECT_TIMEOUT.min(request_timeout);
        options.insert(
            "connect_timeout".into(),
            format!("{}ms", connect.as_millis()),
        );
    }
    let (store, url_path) = build_store(&parsed, options, request_timeout)
        .map_err(|e| backend_error(name, format!("{}: {e}", display_url(&parsed))))?;
    let key_prefix = [url_path.as_ref(), prefix.trim_matches('/')]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    Ok(ObjectStoreLocation::new(
        name,
        Arc::from(store),
        &key_prefix,
    ))
}

/// object_store's own retries, kept short: its default (10 retries over up to 3 minutes)
/// would hide a refused or failing location behind `request_timeout` on every call, so reads
/// would wait for the hedge delay and writes for the whole timeout before the health layer
/// (which owns retrying a location: down, backoff, probe) even hears of it. A few quick
/// retries still ride out a provider's occasional 503 SlowDown or a dropped connection.
fn retry_config(request_timeout: Duration) -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: request_timeout,
    }
}

/// What `object_store::parse_url_opts` does (builder from the URL, then every option) plus the
/// retry settings, which that function cannot take. Returns the store and the URL's path
/// inside the bucket.
fn build_store(
    url: &Url,
    options: BTreeMap<String, String>,
    request_timeout: Duration,
) -> object_store::Result<(Box<dyn object_store::ObjectStore>, object_store::path::Path)> {
    use object_store::aws::AmazonS3Builder;
    use object_store::azure::MicrosoftAzureBuilder;
    use object_store::gcp::GoogleCloudStorageBuilder;

    macro_rules! configured {
        ($builder:expr) => {{
            let builder = options
                .iter()
                .fold($builder.with_url(url.as_str()), |b, (k, v)| {
                    // check_options has refused unknown keys already
                    match k.to_ascii_lowercase().parse() {
                        Ok(key) => b.with_config(key, v),
                        Err(_) => b,
                    }
                });
            Box::new(builder.with_retry(retry_config(request_timeout)).build()?)
                as Box<dyn object_store::ObjectStore>
        }};
    }
    let (scheme, path) = ObjectStoreScheme::parse(url)?;
    let path = object_store::path::Path::parse(path)?;
    let store = match scheme {
        ObjectStoreScheme::AmazonS3 => configured!(AmazonS3Builder::new()),
        ObjectStoreScheme::MicrosoftAzure => configured!(MicrosoftAzureBuilder::new()),
        ObjectStoreScheme::GoogleCloudStorage => configured!(GoogleCloudStorageBuilder::new()),
        other => {
            return Err(object_store::Error::NotSupported {
                source: format!("{other:?} is not a remote location scheme").into(),
            });
        }
    };
    Ok((store, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_per_store() {
        assert!(check_options("s3://bucket", ["aws_endpoint", "aws_region", "timeout"]).is_ok());
        assert!(check_options("s3://bucket/p", ["AWS_ALLOW_HTTP"]).is_ok());
        assert!(check_options("az://container", ["azure_storage_account_name"]).is_ok());
        assert!(check_options("gs://bucket", ["google_service_account"]).is_ok());
        let err = check_options("s3://bucket", ["aws_endpiont"]).unwrap_err();
        assert!(err.contains("aws_endpiont"), "{err}");
        let err = check_options("gs://bucket", ["aws_region"]).unwrap_err();
        assert!(err.contains("aws_region"), "{err}");
        for url in [
            "ftp://host/x",
            "memory:///",
            "https://example.com/x",
            "nope",
        ] {
            assert!(check_options(url, []).is_err(), "{url}");
        }
    }

    #[test]
    fn messages_leave_out_the_query() {
        let err = check_options("ftp://host/x?sig=SECRET", []).unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
    }

    #[test]
    fn key_prefix_is_url_path_then_prefix() {
        let options = BTreeMap::from([
            ("aws_endpoint".to_string(), "http://127.0.0.1:1".to_string()),
            ("aws_region".to_string(), "us-east-1".to_string()),
            ("aws_allow_http".to_string(), "true".to_string()),
            ("aws_access_key_id".to_string(), "AKID".to_string()),
            ("aws_secret_access_key".to_string(), "TOPSECRET".to_string()),
        ]);
        let location = open(
            "r",
            "s3://bucket/base/dir",
            &options,
            "/more/",
            Duration::from_secs(3),
        )
        .unwrap();
        let debug = format!("{location:?}");
        assert!(debug.contains("base/dir/more"), "{debug}");
        assert!(!debug.contains("TOPSECRET"), "{debug}");
    }
}
