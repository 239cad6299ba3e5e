//! `JobStarted` and `JobResult` from agents. The first stored result of a job is final: a
//! repeated result is acknowledged and ignored.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use sysmanage_protocol::{JobResult, PackageOutcome, PackageResult};

use super::{JobMessageError, job_state};
use crate::db::entities::{host, job, job_package};
use crate::events::{self, Event};
use crate::state::AppState;

/// Stored output is cut to its last this many bytes.
pub const MAX_OUTPUT_TAIL_BYTES: usize = 16 * 1024;
/// Failure and per-package messages are cut to this many bytes.
const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// Maximum package results in one job result.
const MAX_PACKAGE_RESULTS: usize = 20_000;
/// Maximum length in bytes of a manager, name or version in a result.
const MAX_FIELD_LEN: usize = 256;

async fn find_job(
    txn: &DatabaseTransaction,
    host_id: i64,
    job_id: i64,
) -> Result<job::Model, JobMessageError> {
    job::Entity::find_by_id(job_id)
        .filter(job::Column::HostId.eq(host_id))
        .one(txn)
        .await?
        .ok_or(JobMessageError::UnknownJob(job_id))
}

/// Marks a queued or sent job of `host_id` as running. Changes nothing for a job that is
/// already running or finished.
pub async fn record_started(
    state: &AppState,
    host_id: i64,
    job_id: i64,
) -> Result<(), JobMessageError> {
    let now = state.clock.now_ms();
    let txn = crate::transaction::begin_write(&state.db).await?;
    find_job(&txn, host_id, job_id).await?;
    let updated = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(job_state::RUNNING))
        .col_expr(job::Column::StartedAt, Expr::value(now))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::State.is_in(job_state::WAITING))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    if updated.rows_affected == 1 {
        tracing::info!(host_id, job_id, "install job started");
        events::publish(
            state,
            Event::JobState {
                job_id,
                host_id,
                state: job_state::RUNNING.to_owned(),
            },
        );
    }
    Ok(())
}

/// Stores the result of a job of `host_id`: its state, output, failure, per-package outcomes
/// and the host's `reboot_required`. Returns `Ok` without changes for a job that already
/// finished, so that the agent gets its acknowledgement and stops re-sending.
pub async fn record_result(
    state: &AppState,
    host_id: i64,
    result: &JobResult,
) -> Result<(), JobMessageError> {
    validate_result(result).map_err(JobMessageError::Invalid)?;
    let job_id = result.job_id;
    let now = state.clock.now_ms();
    let final_state = if result.success {
        job_state::SUCCEEDED
    } else {
        job_state::FAILED
    };

    let txn = crate::transaction::begin_write(&state.db).await?;
    let existing = find_job(&txn, host_id, job_id).await?;
    if !job_state::OPEN.contains(&existing.state.as_str()) {
        tracing::info!(
            host_id,
            job_id,
            state = %existing.state,
            "ignored a repeated result of a finished job"
        );
        return Ok(());
    }

    let failure_kind = result
        .failure
        .as_ref()
        .map(|failure| failure_kind_name(failure.kind));
    let failure_message = result
        .failure
        .as_ref()
        .map(|failure| cut_start(&failure.message, MAX_MESSAGE_BYTES).to_owned());
    // The state condition makes a concurrent second result a no-op.
    let updated = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(final_state))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .col_expr(
            job::Column::StartedAt,
            Expr::value(existing.started_at.unwrap_or(now)),
        )
        .col_expr(
            job::Column::OutputTail,
            Expr::value(cut_end(&result.output_tail, MAX_OUTPUT_TAIL_BYTES).to_owned()),
        )
        .col_expr(job::Column::FailureKind, Expr::value(failure_kind))
        .col_expr(job::Column::FailureMessage, Expr::value(failure_message))
        .col_expr(
            job::Column::RebootRequired,
            Expr::value(result.reboot_required),
        )
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::State.is_in(job_state::OPEN))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(());
    }

    store_package_results(&txn, job_id, &result.packages).await?;
    host::Entity::update_many()
        .col_expr(
            host::Column::RebootRequired,
            Expr::value(result.reboot_required),
        )
        .filter(host::Column::Id.eq(host_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;

    tracing::info!(
        host_id,
        job_id,
        state = final_state,
        packages = result.packages.len(),
        reboot_required = result.reboot_required,
        "install job finished"
    );
    events::publish(
        state,
        Event::JobState {
            job_id,
            host_id,
            state: final_state.to_owned(),
        },
    );
    Ok(())
}

/// Updates the requested packages with their outcome, adds rows for packages the agent
/// installed beyond the request (as for `all`), and marks requested packages without an
/// outcome as `not_attempted`.
async fn store_package_results(
    txn: &DatabaseTransaction,
    job_id: i64,
    results: &[PackageResult],
) -> Result<(), JobMessageError> {
    let mut requested = job_package::Entity::find()
        .filter(job_package::Column::JobId.eq(job_id))
        .all(txn)
        .await?;

    for package in results {
        let outcome = outcome_name(package.outcome);
        let message = package
            .message
            .as_deref()
            .map(|message| cut_start(message, MAX_MESSAGE_BYTES).to_owned());
        let position = requested.iter().position(|row| {
            row.outcome == "pending" && row.manager == package.manager && row.name == package.name
        });
        if let Some(position) = position {
            let row = requested.swap_remove(position);
            let mut active: job_package::ActiveModel = row.into();
            active.installed_version = Set(package.installed_version.clone());
            active.outcome = Set(outcome.to_owned());
            active.message = Set(message);
            active.update(txn).await?;
        } else {
            job_package::ActiveModel {
                job_id: Set(job_id),
                manager: Set(package.manager.clone()),
                name: Set(package.name.clone()),
                requested_version: Set(package.requested_version.clone()),
                installed_version: Set(package.installed_version.clone()),
                outcome: Set(outcome.to_owned()),
                message: Set(message),
                ..Default::default()
            }
            .insert(txn)
            .await?;
        }
    }

    job_package::Entity::update_many()
        .col_expr(job_package::Column::Outcome, Expr::value("not_attempted"))
        .col_expr(
            job_package::Column::Message,
            Expr::value("the agent reported no outcome for this package"),
        )
        .filter(job_package::Column::JobId.eq(job_id))
        .filter(job_package::Column::Outcome.eq("pending"))
        .exec(txn)
        .await?;
    Ok(())
}

fn outcome_name(outcome: PackageOutcome) -> &'static str {
    match outcome {
        PackageOutcome::Installed => "installed",
        PackageOutcome::Failed => "failed",
        PackageOutcome::NotAttempted => "not_attempted",
    }
}

/// Returns the protocol's snake-case name of a failure kind.
fn failure_kind_name(kind: sysmanage_protocol::JobFailureKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// Returns at most the last `max_bytes` bytes of `text`, starting at a character boundary.
fn cut_end(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut start = text.len() - max_bytes;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Returns at most the first `max_bytes` bytes of `text`, ending at a character boundary.
fn cut_start(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn validate_result(result: &JobResult) -> Result<(), String> {
    if result.packages.len() > MAX_PACKAGE_RESULTS {
        return Err(format!(
            "packages: {} results are more than the maximum of {MAX_PACKAGE_RESULTS}",
            result.packages.len()
        ));
    }
    for (index, package) in result.packages.iter().enumerate() {
        let fields = [
            ("manager", Some(package.manager.as_str())),
            ("name", Some(package.name.as_str())),
            ("requested_version", package.requested_version.as_deref()),
            ("installed_version", package.installed_version.as_deref()),
        ];
        for (field, value) in fields {
            let value = value.unwrap_or_default();
            if value.len() > MAX_FIELD_LEN || value.chars().any(char::is_control) {
                return Err(format!(
                    "packages[{index}].{field} must be at most {MAX_FIELD_LEN} bytes without \
                     control characters"
                ));
            }
        }
        if package.manager.is_empty() || package.name.is_empty() {
            return Err(format!("packages[{index}] must have a manager and a name"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_end_at_char_boundary() {
        let text = format!("{}é", "a".repeat(10));
        assert_eq!(cut_end(&text, 2), "é");
        assert_eq!(cut_end(&text, 3), "aé");
        assert_eq!(cut_end("short", 100), "short");
    }

    #[test]
    fn message_keeps_start_at_char_boundary() {
        assert_eq!(cut_start("éa", 1), "");
        assert_eq!(cut_start("aé", 2), "a");
    }

    #[test]
    fn failure_kind_uses_protocol_name() {
        assert_eq!(
            failure_kind_name(sysmanage_protocol::JobFailureKind::DpkgInterrupted),
            "dpkg_interrupted"
        );
    }
}
