//! Which jobs an agent gets on connect, and marking them as sent.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder};
use sysmanage_protocol::{InstallJob, InstallRequest};

use super::job_state;
use crate::db::entities::job;
use crate::events::{self, Event};
use crate::state::AppState;

/// Returns the jobs to send to a host that just connected, by id: queued and sent jobs that
/// have not expired, and running jobs, because the agent replies to a running job it already has
/// with its stored result or reports that it was interrupted.
pub async fn jobs_to_deliver(state: &AppState, host_id: i64) -> Result<Vec<InstallJob>, DbErr> {
    let now = state.clock.now_ms();
    let waiting = Condition::all()
        .add(job::Column::State.is_in(job_state::WAITING))
        .add(job::Column::ExpiresAt.gt(now));
    let open = Condition::any()
        .add(waiting)
        .add(job::Column::State.eq(job_state::RUNNING));
    let rows = job::Entity::find()
        .filter(job::Column::HostId.eq(host_id))
        .filter(open)
        .order_by_asc(job::Column::Id)
        .all(&state.db)
        .await?;

    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_str::<InstallRequest>(&row.request) {
            Ok(request) => jobs.push(InstallJob {
                job_id: row.id,
                request,
            }),
            Err(error) => {
                tracing::error!(job_id = row.id, %error, "stored job request is not valid; skipping it");
            }
        }
    }
    Ok(jobs)
}

/// Marks a queued job as sent at the current time. A job in any other state is left alone.
pub async fn mark_sent(state: &AppState, job_id: i64) -> Result<(), DbErr> {
    let now = state.clock.now_ms();
    let updated = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(job_state::SENT))
        .col_expr(job::Column::SentAt, Expr::value(now))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::State.eq(job_state::QUEUED))
        .exec(&state.db)
        .await?;
    if updated.rows_affected == 1
        && let Some(model) = job::Entity::find_by_id(job_id).one(&state.db).await?
    {
        events::publish(
            state,
            Event::JobState {
                job_id,
                host_id: model.host_id,
                state: job_state::SENT.to_owned(),
            },
        );
    }
    Ok(())
}
