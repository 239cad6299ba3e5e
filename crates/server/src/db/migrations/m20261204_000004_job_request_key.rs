//! `jobs.request_key` and a unique index that allows one unfinished job per host and request.
//!
//! Two identical install requests for one host (such as two `all` requests, which both run
//! `apt-get dist-upgrade`) must not both be queued. A check in the handler followed by an insert
//! would let two concurrent requests both pass the check. The partial unique index
//! `idx_jobs_open_request` over `(host_id, request_key)`, limited to queued, sent and running
//! jobs, makes the database reject the second one on SQLite and PostgreSQL alike, and a job
//! leaves the index when it finishes or expires. This was chosen over locking the host row,
//! because such a lock would also block the agent's own writes to that row.
//!
//! `up` fills `request_key` of the jobs that are still open, oldest first. A job identical to an
//! older open one of the same host, which the server accepted before this migration, keeps a
//! NULL key, so that the index can be created. It still runs, and it blocks no new job.

use std::collections::HashSet;

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;
use sysmanage_protocol::InstallRequest;

use crate::jobs::request_key;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    HostId,
    Request,
    State,
    RequestKey,
}

/// States of a job that has not finished, as in `crate::jobs::job_state::OPEN` when this
/// migration was written.
const OPEN_STATES: [&str; 3] = ["queued", "sent", "running"];

/// Name of the partial unique index.
const INDEX: &str = "idx_jobs_open_request";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(string_null(Jobs::RequestKey))
                    .to_owned(),
            )
            .await?;
        fill_open_request_keys(manager.get_connection()).await?;
        // sea-query builds no partial index, and this statement reads the same on both backends.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE UNIQUE INDEX {INDEX} ON jobs (host_id, request_key) \
                 WHERE state IN ('queued', 'sent', 'running')"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Jobs::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::RequestKey)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

/// Sets `request_key` on every open job, except on a job identical to an older open job of the
/// same host. A request that no longer parses keeps a NULL key.
async fn fill_open_request_keys(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let open_jobs = Query::select()
        .columns([Jobs::Id, Jobs::HostId, Jobs::Request])
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::State).is_in(OPEN_STATES))
        .order_by(Jobs::Id, Order::Asc)
        .to_owned();
    let rows = db.query_all(&open_jobs).await?;
    let mut seen = HashSet::new();
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let host_id: i64 = row.try_get("", "host_id")?;
        let request: String = row.try_get("", "request")?;
        let Ok(request) = serde_json::from_str::<InstallRequest>(&request) else {
            continue;
        };
        let key = request_key(&request);
        if !seen.insert((host_id, key.clone())) {
            continue;
        }
        let update = Query::update()
            .table(Jobs::Table)
            .value(Jobs::RequestKey, key)
            .and_where(Expr::col(Jobs::Id).eq(id))
            .to_owned();
        db.execute(&update).await?;
    }
    Ok(())
}
