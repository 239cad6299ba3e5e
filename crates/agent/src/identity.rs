//! The agent's Ed25519 key pair: created on first start, loaded afterwards.
//!
//! The private key is stored as its 32 raw seed bytes in `state_dir/agent.key` with mode 0600.
//! It never leaves the machine and is never logged; the server identifies the agent by its public key.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

/// File name of the private key inside the state directory.
pub const KEY_FILE_NAME: &str = "agent.key";

/// Error loading or creating the key pair.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("failed to create state directory {path}: {source}")]
    CreateDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to read private key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to write private key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "private key file {path} has mode {mode:o}, readable by group or others: \
         run `chmod 600 {path}` after checking who could have read it"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("private key file {path} is malformed: expected 32 bytes, found {length}")]
    Malformed { path: PathBuf, length: usize },
    #[error("failed to get random bytes for a new key: {0}")]
    Random(String),
}

/// The agent's signing key.
pub struct Identity {
    signing_key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Identity")
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the key from `state_dir/agent.key`, or creates it (and the directory, mode 0700).
    pub fn load_or_create(state_dir: &Path) -> Result<Self, IdentityError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| IdentityError::CreateDirectory {
                path: state_dir.to_path_buf(),
                source,
            })?;
        let path = state_dir.join(KEY_FILE_NAME);
        if path.exists() {
            Self::load(&path)
        } else {
            Self::create(&path)
        }
    }

    fn load(path: &Path) -> Result<Self, IdentityError> {
        let read_error = |source| IdentityError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mode = fs::metadata(path).map_err(read_error)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(IdentityError::Permissions {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
        let bytes = fs::read(path).map_err(read_error)?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| IdentityError::Malformed {
                path: path.to_path_buf(),
                length: bytes.len(),
            })?;
        Ok(Self {
            signing_key: SigningKey::from_bytes(&seed),
        })
    }

    fn create(path: &Path) -> Result<Self, IdentityError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| IdentityError::Random(error.to_string()))?;
        let write_error = |source| IdentityError::Write {
            path: path.to_path_buf(),
            source,
        };
        // create_new with mode 0600: the file is never readable by others, not even briefly,
        // and an existing file is never overwritten.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(write_error)?;
        file.write_all(&seed).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        tracing::info!(path = %path.display(), "created agent key pair");
        Ok(Self {
            signing_key: SigningKey::from_bytes(&seed),
        })
    }

    /// Returns the 32 raw bytes of the public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.signing_key.verifying_key().to_bytes()
    }

    /// Returns the public key as standard base64, as sent in `Hello`.
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(self.public_key_bytes())
    }

    /// Returns the SHA-256 of the raw public key as lower-case hex pairs separated by colons.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.public_key_bytes());
        digest
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Signs a challenge nonce and returns the signature as standard base64.
    pub fn sign_challenge(&self, nonce: &[u8]) -> String {
        let message = sysmanage_protocol::signed_challenge_bytes(nonce, &self.public_key_bytes());
        BASE64.encode(self.signing_key.sign(&message).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    #[test]
    fn created_once_then_loaded() {
        let directory = tempfile::tempdir().unwrap();
        let state_dir = directory.path().join("state");
        let first = Identity::load_or_create(&state_dir).unwrap();
        let second = Identity::load_or_create(&state_dir).unwrap();
        assert_eq!(first.public_key_bytes(), second.public_key_bytes());

        let key_mode = fs::metadata(state_dir.join(KEY_FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(key_mode & 0o777, 0o600);
        let dir_mode = fs::metadata(&state_dir).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    #[test]
    fn readable_key_rejected() {
        let directory = tempfile::tempdir().unwrap();
        Identity::load_or_create(directory.path()).unwrap();
        let path = directory.path().join(KEY_FILE_NAME);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let error = Identity::load_or_create(directory.path()).unwrap_err();
        assert!(
            matches!(error, IdentityError::Permissions { mode: 0o644, .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn malformed_key_rejected() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(KEY_FILE_NAME);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        file.write_all(b"not a key").unwrap();
        let error = Identity::load_or_create(directory.path()).unwrap_err();
        assert!(
            matches!(error, IdentityError::Malformed { length: 9, .. }),
            "{error}"
        );
    }

    #[test]
    fn signature_verifies_over_protocol_bytes() {
        let directory = tempfile::tempdir().unwrap();
        let identity = Identity::load_or_create(directory.path()).unwrap();
        let nonce = [7u8; sysmanage_protocol::NONCE_LEN];
        let signature = BASE64.decode(identity.sign_challenge(&nonce)).unwrap();
        let signature = Signature::from_slice(&signature).unwrap();
        let public_key = BASE64.decode(identity.public_key_base64()).unwrap();
        let verifying_key = VerifyingKey::from_bytes(&public_key.try_into().unwrap()).unwrap();
        let message =
            sysmanage_protocol::signed_challenge_bytes(&nonce, &identity.public_key_bytes());
        assert!(verifying_key.verify(&message, &signature).is_ok());
        let other =
            sysmanage_protocol::signed_challenge_bytes(&[8u8; 32], &identity.public_key_bytes());
        assert!(verifying_key.verify(&other, &signature).is_err());
    }

    #[test]
    fn debug_hides_private_key() {
        let directory = tempfile::tempdir().unwrap();
        let identity = Identity::load_or_create(directory.path()).unwrap();
        let seed = fs::read(directory.path().join(KEY_FILE_NAME)).unwrap();
        let debug = format!("{identity:?}");
        assert!(!debug.contains(&BASE64.encode(&seed)), "{debug}");
        assert!(!debug.contains(&hex::encode(&seed)), "{debug}");
        assert_eq!(identity.fingerprint().len(), 32 * 3 - 1);
    }
}
