//! The users API: accounts of administrators and read-only operators who log in to the REST API.
//!
//! Who may do what: administrators may do everything, and other users may only read (GET). The
//! token middleware enforces the read-only rule for every privileged route, and these handlers
//! check it again with [`crate::auth::CurrentUser::require_admin`].

mod handlers;

use axum::Router;
use axum::routing::get;
use serde::Serialize;

use crate::db::entities::user;
use crate::state::AppState;

/// Maximum length of a user id, in characters.
pub const MAX_USERID_CHARS: usize = 255;
/// Minimum length of a password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Maximum length of a password, in characters. Bounds the work of hashing one request.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Routes of the users API, all privileged.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(handlers::list).post(handlers::create))
        .route(
            "/users/{id}",
            get(handlers::get)
                .put(handlers::update)
                .delete(handlers::delete),
        )
}

/// Checks a user id: 1 to 255 characters, none of them whitespace, control characters or
/// invisible formatting characters.
pub fn validate_userid(userid: &str) -> Result<(), String> {
    let length = userid.chars().count();
    if length == 0 {
        return Err("must not be empty".to_owned());
    }
    if length > MAX_USERID_CHARS {
        return Err(format!(
            "must be at most {MAX_USERID_CHARS} characters long, not {length}"
        ));
    }
    if userid
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c))
    {
        return Err(
            "must not contain whitespace, control characters or invisible formatting \
             characters (such as U+202E, which reverses the text after it)"
                .to_owned(),
        );
    }
    Ok(())
}

/// Returns whether `c` is an invisible formatting character that can make one user id look like
/// another: zero-width characters, bidirectional marks, embeddings, overrides and isolates, the
/// word joiner and invisible operators, and the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
    )
}

/// Checks a new password: 8 to 1024 characters.
pub fn validate_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(format!(
            "must be at least {MIN_PASSWORD_CHARS} characters long"
        ));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!(
            "must be at most {MAX_PASSWORD_CHARS} characters long"
        ));
    }
    Ok(())
}

/// A user as the API returns it. The password hash is never part of it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: i64,
    pub userid: String,
    pub is_admin: bool,
    pub active: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<user::Model> for UserView {
    fn from(user: user::Model) -> Self {
        Self {
            id: user.id,
            userid: user.userid,
            is_admin: user.is_admin,
            active: user.active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userid_rules() {
        assert!(validate_userid("alice").is_ok());
        assert!(validate_userid("ops.team-1@example.org").is_ok());
        assert!(validate_userid(&"é".repeat(MAX_USERID_CHARS)).is_ok());
        assert!(validate_userid("").is_err());
        assert!(validate_userid(&"a".repeat(MAX_USERID_CHARS + 1)).is_err());
        assert!(validate_userid("two words").is_err());
        assert!(validate_userid("zo\u{eb}").is_ok());
        assert!(validate_userid("zo\u{eb}\u{202e}").is_err());
        assert!(validate_userid("ad\u{200b}min").is_err());
        assert!(validate_userid("\u{feff}admin").is_err());
        assert!(validate_userid("tab\there").is_err());
        assert!(validate_userid("bell\u{7}").is_err());
        assert!(validate_userid("nbsp\u{a0}").is_err());
    }

    #[test]
    fn password_rules() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }
}
