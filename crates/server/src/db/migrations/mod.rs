//! Embedded schema migrations, applied in order. A released migration is never edited: a schema
//! change is a new file here and a new entry in [`Migrator::migrations`]. See
//! docs/database.md for the steps.

use sea_orm_migration::prelude::*;

mod m20261204_000001_initial;
mod m20261204_000002_host_inventory;
mod m20261204_000003_list_indexes;
mod m20261204_000004_job_request_key;
mod m20261205_000005_hosts_fillfactor;

/// All migrations of the server, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_initial::Migration),
            Box::new(m20261204_000002_host_inventory::Migration),
            Box::new(m20261204_000003_list_indexes::Migration),
            Box::new(m20261204_000004_job_request_key::Migration),
            Box::new(m20261205_000005_hosts_fillfactor::Migration),
        ]
    }
}
