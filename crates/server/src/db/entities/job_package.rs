//! Per-package lines of a job: what was requested and, once finished, what happened.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_packages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub job_id: i64,
    pub manager: String,
    pub name: String,
    pub requested_version: Option<String>,
    pub installed_version: Option<String>,
    /// `pending` until the result arrives, then `installed`, `failed` or `not_attempted`.
    pub outcome: String,
    pub message: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
