//! Number of pending updates of a host per manager, status and security flag, kept in step
//! with `host_updates` so that list pages can count their total without reading every update.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "host_update_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub host_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub manager: String,
    /// `available`, `held`, `deferred` or `kept_back`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub security: bool,
    /// Rows of `host_updates` with these four values, at least 1.
    pub updates: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
