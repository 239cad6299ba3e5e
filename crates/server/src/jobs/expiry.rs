//! Expiry of jobs that no agent started before their `expires_at`.

use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::job_state;
use crate::db::entities::{job, job_package};
use crate::events::{self, Event};
use crate::state::AppState;
use crate::transaction::begin_write;

/// How often the expiry task looks for expired jobs.
const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the task that marks queued and sent jobs past their `expires_at` as `expired`.
pub fn spawn_expiry(state: AppState) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(EXPIRY_CHECK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = expire_jobs(&state).await {
                tracing::error!(%error, "failed to expire jobs; retrying on the next check");
            }
        }
    });
}

/// Expires every due job and returns how many it expired.
pub async fn expire_jobs(state: &AppState) -> Result<usize, DbErr> {
    let now = state.clock.now_ms();
    let due: Vec<(i64, i64)> = job::Entity::find()
        .select_only()
        .column(job::Column::Id)
        .column(job::Column::HostId)
        .filter(job::Column::State.is_in(job_state::WAITING))
        .filter(job::Column::ExpiresAt.lte(now))
        .into_tuple()
        .all(&state.db)
        .await?;

    let mut expired = 0;
    for (job_id, host_id) in due {
        // One transaction per job, so that no reader sees an expired job whose packages are still
        // pending, and a crash between the two updates applies neither.
        let transaction = begin_write(&state.db).await?;
        // The state condition keeps a job that started in the meantime from being expired.
        let updated = job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(job_state::EXPIRED))
            .col_expr(job::Column::FinishedAt, Expr::value(now))
            .col_expr(
                job::Column::FailureMessage,
                Expr::value("the agent did not start the job before it expired"),
            )
            .filter(job::Column::Id.eq(job_id))
            .filter(job::Column::State.is_in(job_state::WAITING))
            .exec(&transaction)
            .await?;
        if updated.rows_affected == 0 {
            transaction.rollback().await?;
            continue;
        }
        job_package::Entity::update_many()
            .col_expr(job_package::Column::Outcome, Expr::value("not_attempted"))
            .col_expr(job_package::Column::Message, Expr::value("job expired"))
            .filter(job_package::Column::JobId.eq(job_id))
            .filter(job_package::Column::Outcome.eq("pending"))
            .exec(&transaction)
            .await?;
        transaction.commit().await?;
        expired += 1;
        tracing::warn!(
            job_id,
            host_id,
            "install job expired before the agent started it"
        );
        events::publish(
            state,
            Event::JobState {
                job_id,
                host_id,
                state: job_state::EXPIRED.to_owned(),
            },
        );
    }
    Ok(expired)
}
