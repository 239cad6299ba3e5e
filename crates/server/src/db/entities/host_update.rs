//! Pending updates of a host, replaced as a whole on every report from its agent.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_updates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub host_id: i64,
    pub manager: String,
    pub name: String,
    /// Empty when the manager has no notion of architecture.
    pub architecture: String,
    pub current_version: Option<String>,
    pub new_version: String,
    pub origin: Option<String>,
    pub security: bool,
    /// `available`, `held`, `deferred` or `kept_back`.
    pub status: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
