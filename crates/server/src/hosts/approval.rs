//! Approval, rejection and deletion of hosts by an administrator, with notification of the
//! connected agent.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect,
};
use sysmanage_protocol::{Approval, ServerMessage};

use super::{parse_approval, record_event};
use crate::db::entities::{host, host_event, host_update, host_update_count, job, job_package};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Event};
use crate::state::AppState;

async fn load(txn: &DatabaseTransaction, host_id: i64) -> ApiResult<host::Model> {
    host::Entity::find_by_id(host_id)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("host {host_id}")))
}

async fn set_approval(
    txn: &DatabaseTransaction,
    model: host::Model,
    approval: Approval,
    now: i64,
    detail: &str,
) -> ApiResult<host::Model> {
    let host_id = model.id;
    let mut active: host::ActiveModel = model.into();
    active.approval = Set(approval.as_str().to_owned());
    if approval == Approval::Approved {
        active.approved_at = Set(Some(now));
        active.conflict_with_host_id = Set(None);
    }
    let updated = active.update(txn).await?;
    record_event(txn, host_id, approval.as_str(), now, Some(detail)).await?;
    Ok(updated)
}

/// Tells the agent, the liveness tracker and the web UI about a committed approval change.
async fn announce(state: &AppState, host_id: i64, approval: Approval) {
    state
        .liveness
        .set_approved(host_id, approval == Approval::Approved);
    // A host that is not connected learns its approval from `Welcome` on its next connection.
    if let Err(error) = state
        .agents
        .send(host_id, ServerMessage::ApprovalChanged { approval })
        .await
        && error != crate::agents::SendError::NotConnected
    {
        tracing::warn!(host_id, %error, "failed to notify the agent of its approval change");
    }
    events::publish(
        state,
        Event::HostApproval {
            host_id,
            approval: approval.as_str().to_owned(),
        },
    );
}

/// Approves a host. When another approved host has the same hostname, the approval needs
/// `replace`, which rejects that host in the same transaction; without it the call fails with a
/// conflict that names the other host. Approving an approved host changes nothing.
pub(super) async fn approve(
    state: &AppState,
    host_id: i64,
    replace: bool,
    actor: &str,
) -> ApiResult<host::Model> {
    let now = state.clock.now_ms();
    let txn = crate::transaction::begin_write(&state.db).await?;
    let model = load(&txn, host_id).await?;
    if parse_approval(&model.approval) == Approval::Approved {
        return Ok(model);
    }

    let approved_namesakes = host::Entity::find()
        .filter(host::Column::Hostname.eq(&model.hostname))
        .filter(host::Column::Approval.eq(Approval::Approved.as_str()))
        .filter(host::Column::Id.ne(host_id))
        .all(&txn)
        .await?;
    if !approved_namesakes.is_empty() && !replace {
        let ids: Vec<String> = approved_namesakes
            .iter()
            .map(|other| other.id.to_string())
            .collect();
        return Err(ApiError::Conflict(format!(
            "hostname {:?} belongs to approved host {} with another key; send \
             {{\"replace\": true}} to approve host {host_id} and reject host {}",
            model.hostname,
            ids.join(", "),
            ids.join(", ")
        )));
    }

    let mut replaced = Vec::with_capacity(approved_namesakes.len());
    for other in approved_namesakes {
        let other_id = other.id;
        let detail = format!("replaced by host {host_id} by {actor}");
        set_approval(&txn, other, Approval::Rejected, now, &detail).await?;
        replaced.push(other_id);
    }
    let detail = if replaced.is_empty() {
        format!("by {actor}")
    } else {
        format!("by {actor}, replacing host {}", join_ids(&replaced))
    };
    let updated = set_approval(&txn, model, Approval::Approved, now, &detail).await?;
    txn.commit().await?;

    for other_id in replaced {
        tracing::warn!(
            host_id = other_id,
            replaced_by = host_id,
            "host rejected by replacement"
        );
        announce(state, other_id, Approval::Rejected).await;
    }
    tracing::info!(host_id, actor, "host approved");
    announce(state, host_id, Approval::Approved).await;
    Ok(updated)
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rejects a host: its agent stays connected, but every message other than a heartbeat gets a
/// `not_approved` error. Rejecting a rejected host changes nothing.
pub(super) async fn reject(state: &AppState, host_id: i64, actor: &str) -> ApiResult<host::Model> {
    let now = state.clock.now_ms();
    let txn = crate::transaction::begin_write(&state.db).await?;
    let model = load(&txn, host_id).await?;
    if parse_approval(&model.approval) == Approval::Rejected {
        return Ok(model);
    }
    let updated =
        set_approval(&txn, model, Approval::Rejected, now, &format!("by {actor}")).await?;
    txn.commit().await?;

    tracing::info!(host_id, actor, "host rejected");
    announce(state, host_id, Approval::Rejected).await;
    Ok(updated)
}

/// Deletes a host with its history, updates and jobs, and closes its agent's connection. The
/// agent may register again as a new pending host.
pub(super) async fn delete(state: &AppState, host_id: i64, actor: &str) -> ApiResult<()> {
    let txn = crate::transaction::begin_write(&state.db).await?;
    load(&txn, host_id).await?;

    // Child rows are deleted explicitly: SQLite enforces the cascading foreign keys only on
    // connections where `PRAGMA foreign_keys` is on.
    let job_ids: Vec<i64> = job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .filter(job::Column::HostId.eq(host_id))
        .into_tuple()
        .all(&txn)
        .await?;
    if !job_ids.is_empty() {
        job_package::Entity::delete_many()
            .filter(job_package::Column::JobId.is_in(job_ids))
            .exec(&txn)
            .await?;
    }
    job::Entity::delete_many()
        .filter(job::Column::HostId.eq(host_id))
        .exec(&txn)
        .await?;
    host_update::Entity::delete_many()
        .filter(host_update::Column::HostId.eq(host_id))
        .exec(&txn)
        .await?;
    host_update_count::Entity::delete_many()
        .filter(host_update_count::Column::HostId.eq(host_id))
        .exec(&txn)
        .await?;
    host_event::Entity::delete_many()
        .filter(host_event::Column::HostId.eq(host_id))
        .exec(&txn)
        .await?;
    host::Entity::update_many()
        .col_expr(
            host::Column::ConflictWithHostId,
            Expr::value(Option::<i64>::None),
        )
        .filter(host::Column::ConflictWithHostId.eq(host_id))
        .exec(&txn)
        .await?;
    host::Entity::delete_by_id(host_id).exec(&txn).await?;
    txn.commit().await?;

    state.agents.disconnect(host_id);
    state.liveness.remove(host_id);
    tracing::info!(host_id, actor, "host deleted");
    Ok(())
}
