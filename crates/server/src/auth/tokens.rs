//! One-use bearer tokens with rotation.
//!
//! A token is 32 random bytes in base64url without padding, and the database stores only its
//! hex SHA-256. Each token is valid for one request: the request consumes it with one
//! conditional UPDATE, and the response carries a successor in the same chain. A chain is
//! the login's token and every token issued in its place. Presenting a used token again
//! revokes the whole chain. So when a token is stolen and both the owner and the thief use
//! it, the chain dies for both of them.
//! The deny-list is the `auth_tokens` table itself, so server processes that share one database
//! agree on it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
};
use sha2::{Digest, Sha256};

use crate::db::entities::{auth_token, user};
use crate::state::AppState;

/// Length of a token in base64url characters (32 bytes without padding).
const TOKEN_CHARS: usize = 43;

/// Time between two runs of the expired-token purge.
pub const PURGE_INTERVAL: Duration = Duration::from_mins(5);

/// Extra time, in milliseconds, that a row is kept after its expiry on top of the idle timeout.
const PURGE_MARGIN_MS: i64 = 60 * 60 * 1000;

/// Why a presented token was rejected. Every case gets a 403 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not 32 bytes of base64url.
    Malformed,
    /// No row with this hash: never issued, or purged.
    Unknown,
    /// Unused, but its idle timeout passed.
    Expired,
    /// Its chain was revoked by a logout, a password change, a deactivation or a replay.
    Revoked,
    /// Already used once. The chain is revoked as a consequence.
    Reused { user_id: i64, chain_id: String },
}

/// A token accepted for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub user_id: i64,
    pub chain_id: String,
}

/// Generates a new random token.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("failed to get random bytes: {error}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Returns the hex SHA-256 of `token`, the form in which tokens are stored.
#[must_use]
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn is_well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|bytes| bytes.len() == 32)
}

/// Returns a new chain identifier, for a login.
#[must_use]
pub fn new_chain_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Issues a token in `chain_id` for `user_id` that expires `lifetime_ms` after `now_ms`.
pub async fn issue(
    db: &impl ConnectionTrait,
    user_id: i64,
    chain_id: &str,
    now_ms: i64,
    lifetime_ms: i64,
) -> anyhow::Result<String> {
    let token = generate()?;
    auth_token::Entity::insert(auth_token::ActiveModel {
        id: ActiveValue::NotSet,
        token_hash: ActiveValue::Set(hash(&token)),
        chain_id: ActiveValue::Set(chain_id.to_owned()),
        user_id: ActiveValue::Set(user_id),
        issued_at: ActiveValue::Set(now_ms),
        expires_at: ActiveValue::Set(now_ms.saturating_add(lifetime_ms)),
        used_at: ActiveValue::Set(None),
        revoked_at: ActiveValue::Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// Consumes `token` at `now_ms`: marks it used if it is unused, unrevoked, unexpired and no
/// token of its chain is revoked.
///
/// The check and the mark are one conditional UPDATE, so of several concurrent requests with
/// the same token exactly one succeeds. A token that was already used revokes its whole chain.
pub async fn consume(
    db: &impl ConnectionTrait,
    token: &str,
    now_ms: i64,
) -> Result<Result<Consumed, Rejection>, DbErr> {
    if !is_well_formed(token) {
        return Ok(Err(Rejection::Malformed));
    }
    let token_hash = hash(token);

    // A revoked row anywhere in the chain kills the chain, even for a successor that was
    // inserted after the revoking UPDATE ran.
    let other = Alias::new("other");
    let revoked_in_chain = Query::select()
        .expr(Expr::val(1))
        .from_as(auth_token::Entity, other.clone())
        .and_where(
            Expr::col((other.clone(), auth_token::Column::ChainId))
                .equals((auth_token::Entity, auth_token::Column::ChainId)),
        )
        .and_where(Expr::col((other, auth_token::Column::RevokedAt)).is_not_null())
        .to_owned();
    let result = auth_token::Entity::update_many()
        .col_expr(auth_token::Column::UsedAt, Expr::val(now_ms))
        .filter(auth_token::Column::TokenHash.eq(&token_hash))
        .filter(auth_token::Column::UsedAt.is_null())
        .filter(auth_token::Column::RevokedAt.is_null())
        .filter(auth_token::Column::ExpiresAt.gt(now_ms))
        .filter(Expr::exists(revoked_in_chain).not())
        .exec(db)
        .await?;

    let row = auth_token::Entity::find()
        .filter(auth_token::Column::TokenHash.eq(&token_hash))
        .one(db)
        .await?;
    let Some(row) = row else {
        return Ok(Err(Rejection::Unknown));
    };
    if result.rows_affected == 1 {
        return Ok(Ok(Consumed {
            user_id: row.user_id,
            chain_id: row.chain_id,
        }));
    }

    if row.revoked_at.is_some() {
        return Ok(Err(Rejection::Revoked));
    }
    if row.used_at.is_some() {
        let revoked = revoke_chain(db, &row.chain_id, now_ms).await?;
        tracing::warn!(
            user_id = row.user_id,
            chain_id = %row.chain_id,
            revoked,
            "used token presented again; revoked its chain"
        );
        return Ok(Err(Rejection::Reused {
            user_id: row.user_id,
            chain_id: row.chain_id,
        }));
    }
    if row.expires_at <= now_ms {
        return Ok(Err(Rejection::Expired));
    }
    // Unused and unexpired, so another token of the chain is revoked: finish the revocation.
    revoke_chain(db, &row.chain_id, now_ms).await?;
    Ok(Err(Rejection::Revoked))
}

/// Revokes every token of `chain_id`. Returns how many tokens were newly revoked.
pub async fn revoke_chain(
    db: &impl ConnectionTrait,
    chain_id: &str,
    now_ms: i64,
) -> Result<u64, DbErr> {
    let result = auth_token::Entity::update_many()
        .col_expr(auth_token::Column::RevokedAt, Expr::val(now_ms))
        .filter(auth_token::Column::ChainId.eq(chain_id))
        .filter(auth_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Revokes every token of `user_id`, so that all their sessions end. Returns how many tokens
/// were newly revoked.
pub async fn revoke_user(
    db: &impl ConnectionTrait,
    user_id: i64,
    now_ms: i64,
) -> Result<u64, DbErr> {
    let result = auth_token::Entity::update_many()
        .col_expr(auth_token::Column::RevokedAt, Expr::val(now_ms))
        .filter(auth_token::Column::UserId.eq(user_id))
        .filter(auth_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Revokes every token of `user_id` outside `chain_id`, so that every other session of the user
/// ends. Returns how many tokens were newly revoked.
pub async fn revoke_user_except_chain(
    db: &impl ConnectionTrait,
    user_id: i64,
    chain_id: &str,
    now_ms: i64,
) -> Result<u64, DbErr> {
    let result = auth_token::Entity::update_many()
        .col_expr(auth_token::Column::RevokedAt, Expr::val(now_ms))
        .filter(auth_token::Column::UserId.eq(user_id))
        .filter(auth_token::Column::ChainId.ne(chain_id))
        .filter(auth_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Issues the next token of a chain after a request, unless the chain ended during it: a
/// revoked token in the chain, or a user who is gone or inactive, means no successor.
pub async fn issue_successor(
    db: &impl ConnectionTrait,
    consumed: &Consumed,
    now_ms: i64,
    lifetime_ms: i64,
) -> anyhow::Result<Option<String>> {
    let active = user::Entity::find_by_id(consumed.user_id)
        .one(db)
        .await?
        .is_some_and(|user| user.active);
    if !active {
        return Ok(None);
    }
    let revoked = auth_token::Entity::find()
        .filter(auth_token::Column::ChainId.eq(&consumed.chain_id))
        .filter(auth_token::Column::RevokedAt.is_not_null())
        .count(db)
        .await?;
    if revoked > 0 {
        return Ok(None);
    }
    issue(
        db,
        consumed.user_id,
        &consumed.chain_id,
        now_ms,
        lifetime_ms,
    )
    .await
    .map(Some)
}

/// Returns whether the session of `chain_id` is still open at `now_ms`: its user exists and is
/// active, no token of the chain is revoked, and its newest token has not passed its idle
/// timeout. A token in use by a request counts until its own expiry, so the check does not
/// fail in the moment between a request consuming a token and its successor being issued.
pub async fn session_is_open(
    db: &impl ConnectionTrait,
    user_id: i64,
    chain_id: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    let active = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .is_some_and(|user| user.active);
    if !active {
        return Ok(false);
    }
    let revoked = auth_token::Entity::find()
        .filter(auth_token::Column::ChainId.eq(chain_id))
        .filter(auth_token::Column::RevokedAt.is_not_null())
        .count(db)
        .await?;
    if revoked > 0 {
        return Ok(false);
    }
    let unexpired = auth_token::Entity::find()
        .filter(auth_token::Column::ChainId.eq(chain_id))
        .filter(auth_token::Column::ExpiresAt.gt(now_ms))
        .count(db)
        .await?;
    Ok(unexpired > 0)
}

/// Deletes tokens that expired more than the idle timeout plus one hour before `now_ms`.
///
/// By then every successor of such a token has expired too, because a successor is issued at
/// most at its predecessor's expiry and lives for one idle timeout. So deleting a revoked row
/// never revives a chain. Returns how many rows were deleted.
pub async fn purge_expired(
    db: &impl ConnectionTrait,
    now_ms: i64,
    idle_timeout_ms: i64,
) -> Result<u64, DbErr> {
    let cutoff = now_ms
        .saturating_sub(idle_timeout_ms)
        .saturating_sub(PURGE_MARGIN_MS);
    let result = auth_token::Entity::delete_many()
        .filter(auth_token::Column::ExpiresAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Starts the background task that runs [`purge_expired`] every [`PURGE_INTERVAL`].
pub fn spawn_token_purge(state: AppState) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(PURGE_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let idle_timeout_ms = state.config.security.idle_timeout_ms();
            match purge_expired(&state.db, state.clock.now_ms(), idle_timeout_ms).await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "purged expired tokens"),
                Err(error) => {
                    tracing::warn!(%error, "failed to purge expired tokens; retrying later");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let first = generate().unwrap();
        let second = generate().unwrap();
        assert_eq!(first.len(), TOKEN_CHARS);
        assert!(is_well_formed(&first));
        assert_ne!(first, second);
    }

    #[test]
    fn malformed_tokens_are_detected() {
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&"+".repeat(TOKEN_CHARS)));
        assert!(!is_well_formed(&"A".repeat(TOKEN_CHARS + 1)));
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
