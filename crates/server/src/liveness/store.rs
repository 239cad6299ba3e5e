//! Database side of liveness: loading on start, status transitions and batched last-seen writes.

use std::fmt::Write as _;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect,
};

use super::{HostStatus, Transition};
use crate::db::entities::{host, host_event};

/// Hosts per `UPDATE` statement of a flush, so that one statement stays a few kilobytes long.
const FLUSH_CHUNK: usize = 500;

/// Returns `(id, status, last_seen_at)` of every approved host.
pub(super) async fn load_approved(
    db: &DatabaseConnection,
) -> Result<Vec<(i64, HostStatus, Option<i64>)>, DbErr> {
    let rows: Vec<(i64, String, Option<i64>)> = host::Entity::find()
        .select_only()
        .column(host::Column::Id)
        .column(host::Column::Status)
        .column(host::Column::LastSeenAt)
        .filter(host::Column::Approval.eq("approved"))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, status, last_seen)| (id, HostStatus::parse(&status), last_seen))
        .collect())
}

/// Writes the new status of each host and one `host_events` row per transition, in one
/// transaction. Hosts that are no longer approved are skipped.
pub(super) async fn write_transitions(
    db: &DatabaseConnection,
    transitions: &[Transition],
) -> Result<(), DbErr> {
    let txn = crate::transaction::begin_write(db).await?;
    let mut events = Vec::with_capacity(transitions.len());
    for transition in transitions {
        let updated = host::Entity::update_many()
            .col_expr(host::Column::Status, Expr::value(transition.to.as_str()))
            .col_expr(host::Column::StatusChangedAt, Expr::value(transition.at_ms))
            .filter(host::Column::Id.eq(transition.host_id))
            .filter(host::Column::Approval.eq("approved"))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 1 {
            events.push(host_event::ActiveModel {
                host_id: Set(transition.host_id),
                kind: Set(transition.to.as_str().to_owned()),
                at: Set(transition.at_ms),
                detail: Set(Some(transition.reason.clone())),
                ..Default::default()
            });
        }
    }
    if !events.is_empty() {
        host_event::Entity::insert_many(events)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}

/// Writes `last_seen_at` of many hosts in one transaction, one `UPDATE ... CASE` statement per
/// chunk. `hosts` must be sorted by id so that concurrent server processes lock rows in the same
/// order.
pub(super) async fn write_last_seen(
    db: &DatabaseConnection,
    hosts: &[(i64, i64)],
) -> Result<(), DbErr> {
    let txn = crate::transaction::begin_write(db).await?;
    for chunk in hosts.chunks(FLUSH_CHUNK) {
        txn.execute_unprepared(&last_seen_statement(chunk)).await?;
    }
    txn.commit().await
}

/// Builds `UPDATE hosts SET last_seen_at = CASE id WHEN .. THEN .. END WHERE id IN (..)`.
/// Only integers are interpolated, so the text needs no escaping. A stored time is never moved
/// backwards, in case another server process wrote a newer one.
fn last_seen_statement(hosts: &[(i64, i64)]) -> String {
    let mut sql = String::from("UPDATE hosts SET last_seen_at = CASE id");
    for (host_id, seen) in hosts {
        let _ = write!(
            sql,
            " WHEN {host_id} THEN (CASE WHEN last_seen_at IS NULL OR last_seen_at < {seen} \
             THEN {seen} ELSE last_seen_at END)"
        );
    }
    sql.push_str(" ELSE last_seen_at END WHERE id IN (");
    let ids: Vec<String> = hosts
        .iter()
        .map(|(host_id, _)| host_id.to_string())
        .collect();
    sql.push_str(&ids.join(","));
    sql.push(')');
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_lists_every_host() {
        let sql = last_seen_statement(&[(1, 100), (2, 200)]);
        assert!(sql.contains("WHEN 1 THEN"), "{sql}");
        assert!(sql.contains("WHEN 2 THEN"), "{sql}");
        assert!(sql.ends_with("WHERE id IN (1,2)"), "{sql}");
    }
}
