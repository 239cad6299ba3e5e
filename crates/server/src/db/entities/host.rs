//! Hosts known to the server, identified by their agent's Ed25519 public key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hosts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub hostname: String,
    pub fqdn: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub architecture: String,
    pub machine_id: Option<String>,
    pub agent_version: String,
    /// Base64 of the agent's 32-byte Ed25519 public key, unique.
    pub public_key: String,
    /// `pending`, `approved` or `rejected`.
    pub approval: String,
    /// Set on a pending registration whose hostname an existing host with another key already has.
    pub conflict_with_host_id: Option<i64>,
    /// `up`, `down` or `unknown` (never connected since registration).
    pub status: String,
    pub last_seen_at: Option<i64>,
    pub status_changed_at: i64,
    pub reboot_required: bool,
    pub updates_checked_at: Option<i64>,
    /// Errors of the last scan, one line per manager that failed.
    pub update_error: Option<String>,
    pub created_at: i64,
    pub approved_at: Option<i64>,
    /// JSON of the last `HostInventory` the agent sent while approved.
    pub inventory: Option<String>,
    pub inventory_updated_at: Option<i64>,
    /// JSON of the last `ResourceSnapshot` written by a liveness flush.
    pub resources: Option<String>,
    /// Server time the snapshot arrived, not the time of the flush.
    pub resources_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
