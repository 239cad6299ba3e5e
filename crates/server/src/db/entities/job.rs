//! Install jobs and their lifecycle.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub host_id: i64,
    /// The `sysmanage_protocol::InstallRequest` as JSON.
    pub request: String,
    /// `queued`, `sent`, `running`, `succeeded`, `failed` or `expired`.
    pub state: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub expires_at: i64,
    pub reboot_required: bool,
    pub output_tail: Option<String>,
    pub failure_kind: Option<String>,
    pub failure_message: Option<String>,
    /// Normalized key of `request` (see `crate::jobs::request_key`). A unique index allows one
    /// queued, sent or running job per host and key. NULL on some jobs created before the column
    /// existed (see the migration `m20261204_000004_job_request_key`).
    pub request_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
