//! `POST /account/password`: any signed-in user changes their own password.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue, EntityTrait};
use serde::Deserialize;

use super::{CurrentUser, password, tokens};
use crate::client_address::ClientAddress;
use crate::db::entities::user;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;
use crate::users::validate_password;

/// Body of `POST /account/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /account/password`: checks the current password, stores the new one, ends every
/// other session of the user and clears the failed-login counter of the user id. The session of
/// this request stays open. 204 on success; 422
/// naming `current_password` when it is wrong, or `new_password` when it is too short or long;
/// 429 after too many wrong passwords, counted with failed logins.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(current): Extension<CurrentUser>,
    ClientAddress {
        client: address, ..
    }: ClientAddress,
    ApiJson(request): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    validate_password(&request.new_password)
        .map_err(|message| ApiError::invalid("new_password", message))?;
    let attempt = state
        .login_limiter
        .begin(&current.userid, address, state.clock.now_ms())?;

    let stored = user::Entity::find_by_id(current.user_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::Forbidden)?;
    if !password::verify(request.current_password, stored.password_hash.clone()).await? {
        attempt.failed(state.clock.now_ms());
        tracing::info!(
            user_id = current.user_id,
            client_address = %address,
            "password change rejected: wrong current password"
        );
        return Err(ApiError::invalid(
            "current_password",
            "does not match your password; enter the password you log in with",
        ));
    }
    let password_hash = password::hash(request.new_password).await?;

    let now = state.clock.now_ms();
    let transaction = crate::transaction::begin_write(&state.db).await?;
    let mut changes: user::ActiveModel = stored.into();
    changes.password_hash = ActiveValue::Set(password_hash);
    changes.updated_at = ActiveValue::Set(now);
    changes.update(&transaction).await?;
    let revoked =
        tokens::revoke_user_except_chain(&transaction, current.user_id, &current.chain_id, now)
            .await?;
    transaction.commit().await?;
    attempt.succeeded();
    tracing::info!(
        user_id = current.user_id,
        userid = %current.userid,
        revoked_tokens = revoked,
        "password changed by its user"
    );
    Ok(StatusCode::NO_CONTENT)
}
