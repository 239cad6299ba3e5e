//! Password hashing with Argon2id (the `argon2` crate's default parameters) in PHC strings.
//!
//! Hashing and verifying take tens of milliseconds of CPU, so they run on the blocking pool.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hash that unknown user ids are verified against, so that a login for an unknown user takes
/// as long as one for a known user. `None` only if hashing failed.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_blocking("sysmanage dummy password for timing").ok());

/// Hashes `password` with Argon2id and a random 16-byte salt.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .context("password hashing task failed")?
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|error| anyhow::anyhow!("failed to get random bytes: {error}"))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|error| anyhow::anyhow!("failed to encode password salt: {error}"))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("failed to hash password: {error}"))?;
    Ok(hash.to_string())
}

/// Returns whether `password` matches the PHC string `hash`. An unreadable hash is an error.
pub async fn verify(password: String, hash: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
        .await
        .context("password verification task failed")?
}

fn verify_blocking(password: &str, hash: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(hash)
        .map_err(|error| anyhow::anyhow!("stored password hash is not a PHC string: {error}"))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Spends the time of one verification without a user, for logins with an unknown user id.
pub async fn verify_dummy(password: String) {
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(hash) = DUMMY_HASH.as_deref() {
            let _ = verify_blocking(&password, hash);
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let hash = hash("a long enough password".to_owned()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            verify("a long enough password".to_owned(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!verify("another password".to_owned(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn same_password_gets_different_salts() {
        let first = hash("password1".to_owned()).await.unwrap();
        let second = hash("password1".to_owned()).await.unwrap();
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn unreadable_hash_is_error() {
        assert!(
            verify("x".to_owned(), "not a hash".to_owned())
                .await
                .is_err()
        );
    }
}
