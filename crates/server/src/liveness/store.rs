//! Database side of liveness: loading on start, status transitions, and batched writes of
//! last-seen times and resource snapshots.

use std::fmt::Write as _;

use sea_orm::sea_query::{CaseStatement, Condition, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect,
};

use super::{HostStatus, TimedResources, Transition};
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
    // In chunks, because one INSERT of every event of a mass disconnect can exceed SQLite's
    // limit on bound variables per statement.
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<_> = events.by_ref().take(FLUSH_CHUNK).collect();
        host_event::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}

/// Writes `last_seen_at` and the resource snapshots of many hosts in one transaction, one
/// `UPDATE ... CASE` statement per chunk of each. Both lists must be sorted by host id so that
/// concurrent server processes lock rows in the same order.
pub(super) async fn write_flush(
    db: &DatabaseConnection,
    last_seen: &[(i64, i64)],
    resources: &[(i64, TimedResources)],
) -> Result<(), DbErr> {
    let txn = crate::transaction::begin_write(db).await?;
    for chunk in last_seen.chunks(FLUSH_CHUNK) {
        txn.execute_unprepared(&last_seen_statement(chunk)).await?;
    }
    for chunk in resources.chunks(FLUSH_CHUNK) {
        write_resources(&txn, chunk).await?;
    }
    txn.commit().await
}

/// Writes `resources` and `resources_at` of each host in one `UPDATE`, with the JSON as bound
/// values. A stored snapshot is never replaced by an older one, in case another server process
/// wrote a newer one.
async fn write_resources(
    db: &impl ConnectionTrait,
    hosts: &[(i64, TimedResources)],
) -> Result<(), DbErr> {
    let mut json_case = CaseStatement::new();
    let mut at_case = CaseStatement::new();
    for (host_id, resources) in hosts {
        // Serializing a struct of numbers cannot fail.
        let json = serde_json::to_string(&resources.snapshot).unwrap_or_default();
        let newer = || {
            Condition::all().add(host::Column::Id.eq(*host_id)).add(
                Condition::any()
                    .add(host::Column::ResourcesAt.is_null())
                    .add(host::Column::ResourcesAt.lt(resources.at_ms)),
            )
        };
        json_case = json_case.case(newer(), Expr::value(json));
        at_case = at_case.case(newer(), Expr::value(resources.at_ms));
    }
    json_case = json_case.finally(Expr::col(host::Column::Resources));
    at_case = at_case.finally(Expr::col(host::Column::ResourcesAt));
    host::Entity::update_many()
        .col_expr(host::Column::Resources, json_case.into())
        .col_expr(host::Column::ResourcesAt, at_case.into())
        .filter(host::Column::Id.is_in(hosts.iter().map(|(host_id, _)| *host_id)))
        .exec(db)
        .await?;
    Ok(())
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
    use sea_orm::PaginatorTrait;

    use super::*;

    #[tokio::test]
    async fn mass_transition_writes_every_event() {
        use sea_orm_migration::MigratorTrait;

        let directory = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            directory.path().join("db.sqlite").display()
        );
        let db = crate::db::connect(&url, 2).await.unwrap();
        crate::db::Migrator::up(&db, None).await.unwrap();

        // Enough hosts that one INSERT of all events would need more than SQLite's maximum of
        // 32,766 bound variables.
        let hosts = 9_000_i64;
        let values: Vec<String> = (1..=hosts)
            .map(|id| {
                format!(
                    "({id}, 'h{id}', 'h{id}', 'Debian', '12', '6.1', 'x86_64', '1', 'key{id}', \
                     'approved', 'up', 0, false, 0)"
                )
            })
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO hosts (id, hostname, fqdn, os_name, os_version, kernel, architecture, \
             agent_version, public_key, approval, status, status_changed_at, reboot_required, \
             created_at) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();

        let transitions: Vec<Transition> = (1..=hosts)
            .map(|host_id| Transition {
                host_id,
                from: HostStatus::Up,
                to: HostStatus::Down,
                at_ms: 1_000,
                reason: "no heartbeat for 90 s".to_owned(),
            })
            .collect();
        write_transitions(&db, &transitions).await.unwrap();

        let events = host_event::Entity::find().count(&db).await.unwrap();
        assert_eq!(events, hosts as u64);
        let down = host::Entity::find()
            .filter(host::Column::Status.eq("down"))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(down, hosts as u64);
    }

    #[test]
    fn statement_lists_every_host() {
        let sql = last_seen_statement(&[(1, 100), (2, 200)]);
        assert!(sql.contains("WHEN 1 THEN"), "{sql}");
        assert!(sql.contains("WHEN 2 THEN"), "{sql}");
        assert!(sql.ends_with("WHERE id IN (1,2)"), "{sql}");
    }
}
