//! Issued API tokens. Only the SHA-256 of a token is stored. A row with `used_at` set is on the
//! deny-list; a row with `revoked_at` set was revoked with its whole chain.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// Identifier shared by a login's token and every token issued in its place.
    pub chain_id: String,
    pub user_id: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
