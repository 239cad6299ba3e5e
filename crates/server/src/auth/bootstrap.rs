//! Creation of the first administrator on a database without users.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ActiveValue, EntityTrait, PaginatorTrait, SqlErr};

use crate::auth::password;
use crate::db::entities::user;
use crate::state::AppState;
use crate::users;

/// Creates `security.admin_userid` as an active administrator when the users table is empty.
///
/// The password is `admin_password` (from `SYSMANAGE_ADMIN_PASSWORD`), or else a random
/// 24-character password that is printed once to standard output, never to the log. When users
/// exist, nothing happens and nothing is printed.
pub async fn bootstrap_admin(
    state: &AppState,
    admin_password: Option<String>,
) -> anyhow::Result<()> {
    let existing = user::Entity::find().count(&state.db).await?;
    if existing > 0 {
        return Ok(());
    }

    let userid = state.config.security.admin_userid.clone();
    let (password, generated) = match admin_password {
        Some(password) => {
            users::validate_password(&password)
                .map_err(|message| anyhow::anyhow!("SYSMANAGE_ADMIN_PASSWORD {message}"))?;
            (password, false)
        }
        None => (generate_password()?, true),
    };
    let password_hash = password::hash(password.clone()).await?;
    let now = state.clock.now_ms();
    let inserted = user::Entity::insert(user::ActiveModel {
        id: ActiveValue::NotSet,
        userid: ActiveValue::Set(userid.clone()),
        password_hash: ActiveValue::Set(password_hash),
        is_admin: ActiveValue::Set(true),
        active: ActiveValue::Set(true),
        created_at: ActiveValue::Set(now),
        updated_at: ActiveValue::Set(now),
    })
    .exec(&state.db)
    .await;
    match inserted {
        Ok(_) => {}
        // Another server process sharing the database created the user first.
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            tracing::info!(
                userid,
                "first administrator was created by another server process"
            );
            return Ok(());
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("failed to create administrator '{userid}'"));
        }
    }

    tracing::info!(
        userid,
        generated_password = generated,
        "created the first administrator"
    );
    if generated {
        println!("Created administrator '{userid}' with password {password}");
        println!(
            "This password is shown only once: log in and change it with POST /account/password \
             (or the Change password button of the web UI)."
        );
    }
    Ok(())
}

/// Returns a random password of 24 base64url characters (144 bits).
fn generate_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes)
        .map_err(|error| anyhow::anyhow!("failed to get random bytes: {error}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
