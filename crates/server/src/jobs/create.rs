//! `POST /hosts/{id}/updates/install`: validation of the request and creation of the job.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use sysmanage_protocol::{
    Approval, InstallJob, InstallRequest, PackageSpec, ServerMessage, validate_manager,
    validate_package_name_for, validate_version_for,
};

use super::delivery::mark_sent;
use super::job_state;
use super::new_job::{NewJob, insert_jobs};
use crate::auth::CurrentUser;
use crate::db::entities::host;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::events::{self, Event};
use crate::hosts::parse_approval;
use crate::state::AppState;

/// Maximum packages of one job.
const MAX_PACKAGES: usize = 1000;

/// Request body: exactly one of `packages`, `all: true` or `security_only: true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    pub(super) packages: Option<Vec<PackageBody>>,
    pub(super) all: Option<bool>,
    pub(super) security_only: Option<bool>,
}

/// One package of the request. Fields are optional here so that a missing one gets an error
/// naming its index.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PackageBody {
    manager: Option<String>,
    name: Option<String>,
    version: Option<String>,
}

/// Body of the 201 response.
#[derive(Debug, Serialize)]
pub struct JobCreated {
    pub job_id: i64,
    /// `queued`, or `sent` when the host was connected and the job went out at once.
    pub state: &'static str,
}

/// Validates the body and turns it into an install request. Errors name the field, such as
/// `packages[0].version`.
pub(super) fn validate_request(body: InstallBody) -> ApiResult<InstallRequest> {
    let forms = [
        body.packages.is_some(),
        body.all == Some(true),
        body.security_only == Some(true),
    ];
    if forms.iter().filter(|present| **present).count() != 1 {
        return Err(ApiError::invalid(
            "body",
            "give exactly one of {\"packages\": [...]}, {\"all\": true} or \
             {\"security_only\": true}",
        ));
    }
    if body.all == Some(true) {
        return Ok(InstallRequest::All);
    }
    if body.security_only == Some(true) {
        return Ok(InstallRequest::SecurityOnly);
    }
    let packages = body.packages.unwrap_or_default();
    if packages.is_empty() {
        return Err(ApiError::invalid(
            "packages",
            "must list at least one package",
        ));
    }
    if packages.len() > MAX_PACKAGES {
        return Err(ApiError::invalid(
            "packages",
            format!("must list at most {MAX_PACKAGES} packages"),
        ));
    }

    let mut specs = Vec::with_capacity(packages.len());
    let mut seen = HashSet::new();
    for (index, package) in packages.into_iter().enumerate() {
        let field = |name: &str| format!("packages[{index}].{name}");
        let missing = |name: &str| ApiError::invalid(field(name), "is missing");
        let manager = package.manager.ok_or_else(|| missing("manager"))?;
        let name = package.name.ok_or_else(|| missing("name"))?;
        let version = package.version.ok_or_else(|| missing("version"))?;
        validate_manager(&manager)
            .map_err(|error| ApiError::invalid(field("manager"), error.to_string()))?;
        validate_package_name_for(&manager, &name)
            .map_err(|error| ApiError::invalid(field("name"), error.to_string()))?;
        validate_version_for(&manager, &version)
            .map_err(|error| ApiError::invalid(field("version"), error.to_string()))?;
        if !seen.insert((manager.clone(), name.clone())) {
            return Err(ApiError::invalid(
                field("name"),
                format!("{manager} package {name} is listed more than once"),
            ));
        }
        specs.push(PackageSpec {
            manager,
            name,
            version,
        });
    }
    Ok(InstallRequest::Packages { packages: specs })
}

/// `POST /hosts/{id}/updates/install`: creates a job for an approved host and sends it at once
/// when the host is connected. 201 with `{"job_id": ..., "state": ...}`; 404 for an unknown
/// host; 409 for a host that is not approved, or that has an identical job queued, sent or
/// running (the body's `job_id` names that job); 422 naming the invalid field.
pub async fn create_job(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    ApiPath(host_id): ApiPath<i64>,
    ApiJson(body): ApiJson<InstallBody>,
) -> ApiResult<(StatusCode, Json<JobCreated>)> {
    user.require_admin()?;
    let request = validate_request(body)?;
    let model = host::Entity::find_by_id(host_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("host {host_id}")))?;
    if parse_approval(&model.approval) != Approval::Approved {
        return Err(ApiError::Conflict(format!(
            "host {host_id} is {}; only approved hosts can install updates",
            model.approval
        )));
    }

    let new_job = NewJob::new(&state, &request, Some(user.user_id))?;
    let inserted = insert_jobs(&state, &[host_id], &new_job).await?;
    if let Some(&(_, existing_job_id)) = inserted.duplicates.first() {
        tracing::info!(
            host_id,
            job_id = existing_job_id,
            user = %user.userid,
            "install job rejected: an identical job has not finished"
        );
        return Err(ApiError::DuplicateJob {
            host_id,
            job_id: existing_job_id,
        });
    }
    let Some(&(_, job_id)) = inserted.created.first() else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "the database returned no job for host {host_id}"
        )));
    };
    tracing::info!(host_id, job_id, user = %user.userid, "install job created");
    events::publish(
        &state,
        Event::JobState {
            job_id,
            host_id,
            state: job_state::QUEUED.to_owned(),
        },
    );

    let delivered = state
        .agents
        .send(
            host_id,
            ServerMessage::InstallJob(InstallJob { job_id, request }),
        )
        .await
        .is_ok();
    let job_state = if delivered {
        mark_sent(&state, job_id).await?;
        tracing::info!(host_id, job_id, "install job delivered");
        job_state::SENT
    } else {
        job_state::QUEUED
    };
    Ok((
        StatusCode::CREATED,
        Json(JobCreated {
            job_id,
            state: job_state,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_request(body: &[u8]) -> ApiResult<InstallRequest> {
        validate_request(serde_json::from_slice(body).unwrap())
    }

    fn field_of(body: &str) -> String {
        match parse_request(body.as_bytes()) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("expected a validation error for {body}, got {other:?}"),
        }
    }

    #[test]
    fn forms_parsed() {
        assert_eq!(
            parse_request(br#"{"all": true}"#).unwrap(),
            InstallRequest::All
        );
        assert_eq!(
            parse_request(br#"{"security_only": true}"#).unwrap(),
            InstallRequest::SecurityOnly
        );
        let packages = parse_request(
            br#"{"packages": [{"manager": "apt", "name": "curl", "version": "8.0-1"}]}"#,
        )
        .unwrap();
        assert!(matches!(packages, InstallRequest::Packages { packages } if packages.len() == 1));
    }

    #[test]
    fn invalid_fields_named() {
        assert_eq!(field_of(r#"{"all": true, "security_only": true}"#), "body");
        assert_eq!(field_of(r"{}"), "body");
        assert_eq!(field_of(r#"{"all": false}"#), "body");
        assert_eq!(field_of(r#"{"packages": []}"#), "packages");
        assert_eq!(
            field_of(r#"{"packages": [{"manager": "apt", "name": "curl", "version": "--force"}]}"#),
            "packages[0].version"
        );
        assert_eq!(
            field_of(
                r#"{"packages": [{"manager": "apt", "name": "curl", "version": "1"},
                                 {"manager": "npm", "name": "x", "version": "1"}]}"#
            ),
            "packages[1].manager"
        );
        assert_eq!(
            field_of(r#"{"packages": [{"manager": "apt", "version": "1"}]}"#),
            "packages[0].name"
        );
    }
}
