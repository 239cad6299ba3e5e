//! Handlers of `/users` and `/users/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde::Deserialize;

use super::{UserView, validate_password, validate_userid};
use crate::auth::{CurrentUser, password, tokens};
use crate::db::entities::user;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

/// Body of `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub userid: String,
    pub password: String,
    /// Default: false.
    pub is_admin: Option<bool>,
    /// Default: true.
    pub active: Option<bool>,
}

/// Body of `PUT /users/{id}`. Absent and `null` fields keep their value, and at least one
/// field must be set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub password: Option<String>,
    pub is_admin: Option<bool>,
    pub active: Option<bool>,
}

impl UpdateUser {
    fn sets_no_field(&self) -> bool {
        self.password.is_none() && self.is_admin.is_none() && self.active.is_none()
    }
}

/// `GET /users`: every user, ordered by id.
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<UserView>>> {
    let users = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .all(&state.db)
        .await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// `GET /users/{id}`.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    let user = find(&state.db, id).await?;
    Ok(Json(user.into()))
}

/// `POST /users`: creates a user. 409 when the user id is taken.
pub async fn create(
    State(state): State<AppState>,
    Extension(current): Extension<CurrentUser>,
    ApiJson(request): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    current.require_admin()?;
    validate_userid(&request.userid).map_err(|message| ApiError::invalid("userid", message))?;
    validate_password(&request.password)
        .map_err(|message| ApiError::invalid("password", message))?;

    let taken = user::Entity::find()
        .filter(user::Column::Userid.eq(&request.userid))
        .one(&state.db)
        .await?
        .is_some();
    if taken {
        return Err(userid_taken(&request.userid));
    }

    let password_hash = password::hash(request.password).await?;
    let now = state.clock.now_ms();
    let created = user::ActiveModel {
        id: ActiveValue::NotSet,
        userid: ActiveValue::Set(request.userid.clone()),
        password_hash: ActiveValue::Set(password_hash),
        is_admin: ActiveValue::Set(request.is_admin.unwrap_or(false)),
        active: ActiveValue::Set(request.active.unwrap_or(true)),
        created_at: ActiveValue::Set(now),
        updated_at: ActiveValue::Set(now),
    }
    .insert(&state.db)
    .await
    .map_err(|error| match error.sql_err() {
        // A concurrent request created the same user id after the check above.
        Some(SqlErr::UniqueConstraintViolation(_)) => userid_taken(&request.userid),
        _ => ApiError::from(error),
    })?;

    tracing::info!(
        user_id = created.id,
        userid = %created.userid,
        is_admin = created.is_admin,
        active = created.active,
        by = %current.userid,
        "user created"
    );
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// `PUT /users/{id}`: changes the password, `is_admin` or `active`.
///
/// A body that sets no field is a 422 naming the fields. A body whose `is_admin` and `active`
/// equal the stored values, without a password, writes nothing and keeps `updated_at`. A
/// password always counts as a change, even the current one, and gets a new salted hash. A
/// new password or a deactivation revokes all the user's tokens, and a new password also
/// clears the failed-login counter of the user id. The last active administrator cannot be
/// demoted or deactivated (409).
pub async fn update(
    State(state): State<AppState>,
    Extension(current): Extension<CurrentUser>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    current.require_admin()?;
    if request.sets_no_field() {
        return Err(ApiError::invalid(
            "body",
            "the body sets no field; send at least one of password, is_admin, active",
        ));
    }
    if let Some(password) = &request.password {
        validate_password(password).map_err(|message| ApiError::invalid("password", message))?;
    }
    let password_hash = match request.password {
        Some(password) => Some(password::hash(password).await?),
        None => None,
    };

    let transaction = begin_write(&state).await?;
    let user = find(&transaction, id).await?;
    let changes_admin_or_active = request
        .is_admin
        .is_some_and(|is_admin| is_admin != user.is_admin)
        || request.active.is_some_and(|active| active != user.active);
    if password_hash.is_none() && !changes_admin_or_active {
        transaction.commit().await?;
        tracing::debug!(user_id = user.id, by = %current.userid, "user update changed nothing");
        return Ok(Json(user.into()));
    }
    let demote = user.is_admin && request.is_admin == Some(false);
    let deactivate = user.active && request.active == Some(false);
    if user.is_admin && user.active && (demote || deactivate) {
        let action = if demote { "demote" } else { "deactivate" };
        ensure_other_active_admin(&transaction, &user, action).await?;
    }

    let now = state.clock.now_ms();
    let password_changed = password_hash.is_some();
    let mut changes: user::ActiveModel = user.into();
    if let Some(password_hash) = password_hash {
        changes.password_hash = ActiveValue::Set(password_hash);
    }
    if let Some(is_admin) = request.is_admin {
        changes.is_admin = ActiveValue::Set(is_admin);
    }
    if let Some(active) = request.active {
        changes.active = ActiveValue::Set(active);
    }
    changes.updated_at = ActiveValue::Set(now);
    let updated = changes.update(&transaction).await?;

    let mut revoked = 0;
    if password_changed || deactivate {
        revoked = tokens::revoke_user(&transaction, id, now).await?;
    }
    transaction.commit().await?;
    if password_changed {
        state.login_limiter.record_success(&updated.userid);
    }

    tracing::info!(
        user_id = updated.id,
        userid = %updated.userid,
        is_admin = updated.is_admin,
        active = updated.active,
        password_changed,
        revoked_tokens = revoked,
        by = %current.userid,
        "user updated"
    );
    Ok(Json(updated.into()))
}

/// `DELETE /users/{id}`: deletes a user and, by the foreign key, their tokens. The last active
/// administrator cannot be deleted (409).
pub async fn delete(
    State(state): State<AppState>,
    Extension(current): Extension<CurrentUser>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    current.require_admin()?;
    let transaction = begin_write(&state).await?;
    let user = find(&transaction, id).await?;
    if user.is_admin && user.active {
        ensure_other_active_admin(&transaction, &user, "delete").await?;
    }
    user::Entity::delete_by_id(id).exec(&transaction).await?;
    transaction.commit().await?;

    tracing::info!(user_id = id, userid = %user.userid, by = %current.userid, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn find(db: &impl ConnectionTrait, id: i64) -> ApiResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id}")))
}

fn userid_taken(userid: &str) -> ApiError {
    ApiError::Conflict(format!("user id '{userid}' already exists"))
}

/// Starts a transaction that takes the write lock at once on SQLite, so that the admin check
/// and the change that follows it cannot interleave with another writer.
async fn begin_write(state: &AppState) -> ApiResult<sea_orm::DatabaseTransaction> {
    Ok(state
        .db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?)
}

/// Returns 409 unless an active administrator other than `user` exists.
///
/// On PostgreSQL the active administrators are locked with `FOR UPDATE`, so that two requests
/// demoting two different administrators cannot both pass this check. SQLite has no row locks,
/// and [`begin_write`] serializes the writers instead.
async fn ensure_other_active_admin(
    transaction: &impl ConnectionTrait,
    user: &user::Model,
    action: &str,
) -> ApiResult<()> {
    let admins = user::Entity::find()
        .filter(user::Column::IsAdmin.eq(true))
        .filter(user::Column::Active.eq(true))
        .lock_exclusive()
        .all(transaction)
        .await?;
    if admins.iter().any(|admin| admin.id != user.id) {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "cannot {action} '{}': it is the last active administrator; make another user an \
         active administrator first",
        user.userid
    )))
}
