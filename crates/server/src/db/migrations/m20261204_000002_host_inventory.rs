//! Host inventory and the latest resource snapshot: four nullable columns on `hosts`.
//!
//! `inventory` and `resources` hold the JSON of the protocol's `HostInventory` and
//! `ResourceSnapshot`; `inventory_updated_at` and `resources_at` are Unix milliseconds. `down`
//! drops the columns with `ALTER TABLE ... DROP COLUMN`, which SQLite supports since 3.35 (sqlx
//! bundles SQLite 3.54 through libsqlite3-sys 0.40). SQLite refuses to drop an indexed or
//! constrained column, and none of these is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer_null, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Hosts {
    Table,
    Inventory,
    InventoryUpdatedAt,
    Resources,
    ResourcesAt,
}

/// The new columns, in the order `up` adds them. SQLite takes one column per `ALTER TABLE`.
const COLUMNS: [Hosts; 4] = [
    Hosts::Inventory,
    Hosts::InventoryUpdatedAt,
    Hosts::Resources,
    Hosts::ResourcesAt,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            let definition = match column {
                Hosts::Inventory | Hosts::Resources => text_null(column),
                _ => big_integer_null(column),
            };
            manager
                .alter_table(
                    Table::alter()
                        .table(Hosts::Table)
                        .add_column(definition)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS.into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Hosts::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
