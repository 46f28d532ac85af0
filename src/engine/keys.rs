//! Key material on disk under the data dir: the master key and the generated access key pair.
//! Both files are created once with mode 0600 and never logged.
//! Owns: file formats and first-start generation. Must not touch: networking, request handling.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::crypto::MasterKey;

pub const MASTER_KEY_FILE: &str = "master.key";
pub const CREDENTIALS_FILE: &str = "credentials.toml";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} is malformed: {message}")]
    Malformed { path: String, message: String },
}

#[derive(Serialize, Deserialize)]
struct MasterKeyFile {
    id: String,
    /// Hex of the 32 key bytes.
    key: String,
}

/// An access key pair. `Debug` never shows the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessKeyPair {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for AccessKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyPair")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> KeyFileError {
    KeyFileError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `contents` to a new file with mode 0600; fails if it exists.
fn write_secret_file(path: &Path, contents: &str) -> Result<(), KeyFileError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

/// Loads the master key from `env_hex` (64 hex chars, id "env") if given, else from
/// `<data_dir>/master.key`, creating it on first start. Returns the key and whether it was new.
pub fn load_or_create_master_key(
    data_dir: &Path,
    env_hex: Option<&str>,
) -> Result<(MasterKey, bool), KeyFileError> {
    if let Some(hex_key) = env_hex {
        let key = parse_key_hex(hex_key.trim()).ok_or_else(|| KeyFileError::Malformed {
            path: "CHUNKWORKS_MASTER_KEY".into(),
            message: "expected 64 hex characters".into(),
        })?;
        return Ok((MasterKey::new("env", key), false));
    }
    let path = data_dir.join(MASTER_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        let file: MasterKeyFile = toml::from_str(&text).map_err(|e| KeyFileError::Malformed {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let key = parse_key_hex(&file.key).ok_or_else(|| KeyFileError::Malformed {
            path: path.display().to_string(),
            message: "key must be 64 hex characters".into(),
        })?;
        return Ok((MasterKey::new(file.id, key), false));
    }
    let key = MasterKey::generate();
    let file = MasterKeyFile {
        id: key.id().to_string(),
        key: hex::encode(key.expose_bytes()),
    };
    let text = format!(
        "# Chunk Works master key. Without it no object can be read. Back it up offline.\n{}",
        toml::to_string(&file).expect("serialisable")
    );
    write_secret_file(&path, &text)?;
    Ok((key, true))
}

fn parse_key_hex(s: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(s).ok()?;
    bytes.try_into().ok()
}

/// The access key pair: from the environment if both variables are set, else from
/// `<data_dir>/credentials.toml`, generated on first start. Returns the pair and whether it
/// was generated now.
pub fn load_or_create_credentials(
    data_dir: &Path,
    env_access: Option<String>,
    env_secret: Option<String>,
) -> Result<(AccessKeyPair, bool), KeyFileError> {
    if let (Some(access_key), Some(secret_key)) = (env_access, env_secret) {
        return Ok((
            AccessKeyPair {
                access_key,
                secret_key,
            },
            false,
        ));
    }
    let path = data_dir.join(CREDENTIALS_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        let pair: AccessKeyPair = toml::from_str(&text).map_err(|e| KeyFileError::Malformed {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        return Ok((pair, false));
    }
    let pair = generate_pair();
    write_secret_file(&path, &toml::to_string(&pair).expect("serialisable"))?;
    Ok((pair, true))
}

fn generate_pair() -> AccessKeyPair {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let mut raw = [0u8; 16];
    rng.fill_bytes(&mut raw);
    let access_key: String = "CW"
        .chars()
        .chain(raw.iter().map(|b| ALNUM[*b as usize % ALNUM.len()] as char))
        .collect();
    let mut secret = [0u8; 30];
    rng.fill_bytes(&mut secret);
    use base64::Engine as _;
    let secret_key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    AccessKeyPair {
        access_key,
        secret_key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_file_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = load_or_create_credentials(dir.path(), None, None).unwrap();
        assert!(created);
        let mode = std::fs::metadata(dir.path().join(CREDENTIALS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = load_or_create_credentials(dir.path(), None, None).unwrap();
        assert!(!created);
        assert_eq!(first.secret_key, again.secret_key);
        assert!(!format!("{first:?}").contains(&first.secret_key));
    }

    #[test]
    fn env_credentials_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let (pair, created) =
            load_or_create_credentials(dir.path(), Some("AK".into()), Some("SK".into())).unwrap();
        assert!(!created);
        assert_eq!(
            (pair.access_key.as_str(), pair.secret_key.as_str()),
            ("AK", "SK")
        );
        assert!(!dir.path().join(CREDENTIALS_FILE).exists());
    }
}
