//! Write transactions that take SQLite's write lock up front.
//!
//! A deferred SQLite transaction that reads first and writes later fails at once with
//! `SQLITE_BUSY` in WAL mode when another connection wrote in between, without waiting for the
//! busy timeout. `BEGIN IMMEDIATE` takes the write lock at the start, so concurrent writers wait
//! for each other instead. PostgreSQL ignores the option.

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Begins a transaction that is going to write.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
