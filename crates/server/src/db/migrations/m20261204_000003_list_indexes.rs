//! Indexes in the order of the update lists, and `host_update_counts`, the number of pending
//! updates per host, manager, status and security flag.
//!
//! The update lists sort security updates first, then by host, manager, name and architecture,
//! which together are unique. `idx_host_updates_list_order` has that order for the whole fleet.
//! `idx_host_updates_host_order` and `idx_host_updates_name_order` start with the host and the
//! package name, so that a list filtered by one of them reads only the matching rows, already
//! in order. Without them PostgreSQL, lacking column statistics, can walk the fleet-wide index
//! through every host to find the few rows of one.
//!
//! `host_update_counts` lets a list count its `total` from a few rows per host instead of
//! every row of `host_updates`. The update ingest rewrites a host's rows of one manager in the
//! transaction that replaces that manager's updates, and `up` fills the table from the updates
//! already stored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, string};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Hosts {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy, PartialEq, Eq)]
enum HostUpdates {
    Table,
    HostId,
    Manager,
    Name,
    Architecture,
    Security,
}

#[derive(DeriveIden)]
enum HostUpdateCounts {
    Table,
    HostId,
    Manager,
    Status,
    Security,
    Updates,
}

/// The indexes on `host_updates` that `up` creates: name, leading column (none for the
/// fleet-wide order), then `security` descending and the rest of host, manager, name and
/// architecture.
const INDEXES: [(&str, Option<HostUpdates>); 3] = [
    ("idx_host_updates_list_order", None),
    ("idx_host_updates_host_order", Some(HostUpdates::HostId)),
    ("idx_host_updates_name_order", Some(HostUpdates::Name)),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, leading) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(HostUpdates::Table);
            if let Some(leading) = leading {
                index.col(leading);
            }
            index.col((HostUpdates::Security, IndexOrder::Desc));
            for column in [
                HostUpdates::HostId,
                HostUpdates::Manager,
                HostUpdates::Name,
                HostUpdates::Architecture,
            ] {
                if Some(column) != leading {
                    index.col(column);
                }
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(HostUpdateCounts::Table)
                    .col(big_integer(HostUpdateCounts::HostId))
                    .col(string(HostUpdateCounts::Manager))
                    .col(string(HostUpdateCounts::Status))
                    .col(boolean(HostUpdateCounts::Security))
                    .col(big_integer(HostUpdateCounts::Updates))
                    .primary_key(
                        Index::create()
                            .col(HostUpdateCounts::HostId)
                            .col(HostUpdateCounts::Manager)
                            .col(HostUpdateCounts::Status)
                            .col(HostUpdateCounts::Security),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(HostUpdateCounts::Table, HostUpdateCounts::HostId)
                            .to(Hosts::Table, Hosts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO host_update_counts (host_id, manager, status, security, updates) \
                 SELECT host_id, manager, status, security, COUNT(*) FROM host_updates \
                 GROUP BY host_id, manager, status, security",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HostUpdateCounts::Table).to_owned())
            .await?;
        for (name, _) in INDEXES.into_iter().rev() {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(HostUpdates::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
