//! Storing an `UpdateReport`: validation, then one transaction that replaces the list of every
//! manager whose scan succeeded.

use std::collections::{BTreeMap, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
};
use sysmanage_protocol::{
    Approval, ErrorCode, MAX_UPDATES_PER_MANAGER, ManagerScan, ScanOutcome, UpdateInfo,
    UpdateReport, validate_manager, validate_package_name_for, validate_version_for,
};

use crate::db::entities::{host, host_update, host_update_count};
use crate::events::{self, Event};
use crate::hosts::parse_approval;
use crate::state::AppState;

/// Maximum length in bytes of an architecture and of an origin.
const MAX_ARCHITECTURE_LEN: usize = 64;
const MAX_ORIGIN_LEN: usize = 256;
/// A manager's scan error is cut to this many characters before it is stored.
const MAX_SCAN_ERROR_CHARS: usize = 1000;
/// Rows per `INSERT` statement, well below the bind-parameter limits of SQLite and PostgreSQL.
const INSERT_CHUNK: usize = 500;

/// Error that kept a report from being stored.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("invalid update report: {0}")]
    Invalid(String),
    #[error("this host is not approved")]
    NotApproved,
    #[error("database error while storing the update report")]
    Database(#[from] DbErr),
}

impl ReportError {
    /// Logs the error and returns the code and message of the `Error` reply to the agent.
    pub fn into_reply(self) -> (ErrorCode, String) {
        match &self {
            Self::Invalid(reason) => {
                tracing::warn!(reason = ?reason, "rejected an invalid update report");
                (ErrorCode::InvalidRequest, self.to_string())
            }
            Self::NotApproved => (ErrorCode::NotApproved, self.to_string()),
            Self::Database(error) => {
                tracing::error!(%error, "failed to store an update report");
                (
                    ErrorCode::Internal,
                    "the server could not store the report; send it again later".to_owned(),
                )
            }
        }
    }
}

/// Validates `report` and stores it for `host_id`. Managers whose scan succeeded get their list
/// replaced; managers whose scan failed keep their previous rows and their error goes to
/// `hosts.update_error`. Managers absent from the report keep their rows. Everything happens in
/// one transaction, so a reader sees the old or the new list, never a mix.
pub async fn store_report(
    state: &AppState,
    host_id: i64,
    report: &UpdateReport,
) -> Result<(), ReportError> {
    validate_report(report).map_err(ReportError::Invalid)?;
    let now = state.clock.now_ms();

    let txn = crate::transaction::begin_write(&state.db).await?;
    let approved = host::Entity::find_by_id(host_id)
        .one(&txn)
        .await?
        .is_some_and(|model| parse_approval(&model.approval) == Approval::Approved);
    if !approved {
        return Err(ReportError::NotApproved);
    }

    let mut scan_errors = Vec::new();
    let mut stored = 0_usize;
    for scan in &report.managers {
        match &scan.outcome {
            ScanOutcome::Ok { updates } => {
                host_update::Entity::delete_many()
                    .filter(host_update::Column::HostId.eq(host_id))
                    .filter(host_update::Column::Manager.eq(&scan.manager))
                    .exec(&txn)
                    .await?;
                for chunk in updates.chunks(INSERT_CHUNK) {
                    let rows = chunk.iter().map(|update| row(host_id, update));
                    host_update::Entity::insert_many(rows)
                        .exec_without_returning(&txn)
                        .await?;
                }
                replace_counts(&txn, host_id, &scan.manager, updates).await?;
                stored += updates.len();
            }
            ScanOutcome::Failed { error } => {
                scan_errors.push(format!("{}: {}", scan.manager, one_line(error)));
            }
        }
    }

    let update_error = (!scan_errors.is_empty()).then(|| scan_errors.join("\n"));
    host::Entity::update_many()
        .col_expr(host::Column::UpdatesCheckedAt, Expr::value(now))
        .col_expr(
            host::Column::RebootRequired,
            Expr::value(report.reboot_required),
        )
        .col_expr(host::Column::UpdateError, Expr::value(update_error))
        .filter(host::Column::Id.eq(host_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;

    tracing::info!(
        host_id,
        updates = stored,
        failed_managers = scan_errors.len(),
        reboot_required = report.reboot_required,
        "update report stored"
    );
    events::publish(state, Event::UpdatesChanged { host_id });
    Ok(())
}

/// Replaces the counts of one manager of a host in `host_update_counts` with the counts of
/// `updates`, the list just stored for it.
///
/// The counts are computed here rather than with `INSERT ... SELECT ... GROUP BY`, because
/// SQLite may open a temporary file for the grouping, which fails with "unable to open database
/// file" when a server with thousands of agent connections is at its limit of open files.
async fn replace_counts(
    txn: &DatabaseTransaction,
    host_id: i64,
    manager: &str,
    updates: &[UpdateInfo],
) -> Result<(), DbErr> {
    host_update_count::Entity::delete_many()
        .filter(host_update_count::Column::HostId.eq(host_id))
        .filter(host_update_count::Column::Manager.eq(manager))
        .exec(txn)
        .await?;
    let mut counts: BTreeMap<(&str, bool), i64> = BTreeMap::new();
    for update in updates {
        *counts
            .entry((update.status.as_str(), update.security))
            .or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(());
    }
    let rows =
        counts.into_iter().map(
            |((status, security), count)| host_update_count::ActiveModel {
                host_id: Set(host_id),
                manager: Set(manager.to_owned()),
                status: Set(status.to_owned()),
                security: Set(security),
                updates: Set(count),
            },
        );
    host_update_count::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

fn row(host_id: i64, update: &UpdateInfo) -> host_update::ActiveModel {
    host_update::ActiveModel {
        host_id: Set(host_id),
        manager: Set(update.manager.clone()),
        name: Set(update.name.clone()),
        architecture: Set(update.architecture.clone().unwrap_or_default()),
        current_version: Set(update.current_version.clone()),
        new_version: Set(update.new_version.clone()),
        origin: Set(update.origin.clone()),
        security: Set(update.security),
        status: Set(update.status.as_str().to_owned()),
        ..Default::default()
    }
}

/// Joins the lines of a scan error and cuts it to [`MAX_SCAN_ERROR_CHARS`] characters.
fn one_line(error: &str) -> String {
    let joined: String = error
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .take(MAX_SCAN_ERROR_CHARS)
        .collect();
    joined.trim().to_owned()
}

/// Checks every manager, name, version, architecture and origin of a report. The error names
/// the first invalid field by its path, such as `managers[0].updates[3].new_version`.
fn validate_report(report: &UpdateReport) -> Result<(), String> {
    let mut managers = HashSet::new();
    for (index, scan) in report.managers.iter().enumerate() {
        let path = format!("managers[{index}]");
        validate_manager(&scan.manager).map_err(|error| format!("{path}.manager: {error}"))?;
        if !managers.insert(scan.manager.as_str()) {
            return Err(format!(
                "{path}.manager: {} appears more than once",
                scan.manager
            ));
        }
        if let ScanOutcome::Ok { updates } = &scan.outcome {
            validate_updates(&path, scan, updates)?;
        }
    }
    Ok(())
}

fn validate_updates(path: &str, scan: &ManagerScan, updates: &[UpdateInfo]) -> Result<(), String> {
    if updates.len() > MAX_UPDATES_PER_MANAGER {
        return Err(format!(
            "{path}.updates: {} updates are more than the maximum of {MAX_UPDATES_PER_MANAGER}",
            updates.len()
        ));
    }
    let mut packages = HashSet::new();
    for (index, update) in updates.iter().enumerate() {
        let path = format!("{path}.updates[{index}]");
        if update.manager != scan.manager {
            return Err(format!(
                "{path}.manager: {:?} differs from the scan's manager {:?}",
                update.manager, scan.manager
            ));
        }
        validate_package_name_for(&scan.manager, &update.name)
            .map_err(|error| format!("{path}.name: {error}"))?;
        validate_version_for(&scan.manager, &update.new_version)
            .map_err(|error| format!("{path}.new_version: {error}"))?;
        if let Some(current) = &update.current_version {
            validate_version_for(&scan.manager, current)
                .map_err(|error| format!("{path}.current_version: {error}"))?;
        }
        let architecture = update.architecture.as_deref().unwrap_or_default();
        check_text(&path, "architecture", architecture, MAX_ARCHITECTURE_LEN)?;
        check_text(
            &path,
            "origin",
            update.origin.as_deref().unwrap_or_default(),
            MAX_ORIGIN_LEN,
        )?;
        if !packages.insert((update.name.as_str(), architecture)) {
            return Err(format!(
                "{path}: {} ({architecture}) appears more than once",
                update.name
            ));
        }
    }
    Ok(())
}

fn check_text(path: &str, field: &str, value: &str, max_len: usize) -> Result<(), String> {
    if value.len() > max_len {
        return Err(format!(
            "{path}.{field}: must be at most {max_len} bytes long"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{path}.{field}: must not contain control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sysmanage_protocol::UpdateStatus;

    use super::*;

    fn update(name: &str, version: &str) -> UpdateInfo {
        UpdateInfo {
            manager: "apt".into(),
            name: name.into(),
            architecture: Some("amd64".into()),
            current_version: None,
            new_version: version.into(),
            origin: None,
            security: false,
            status: UpdateStatus::Available,
        }
    }

    fn report(updates: Vec<UpdateInfo>) -> UpdateReport {
        report_for("apt", updates)
    }

    fn report_for(manager: &str, updates: Vec<UpdateInfo>) -> UpdateReport {
        UpdateReport {
            managers: vec![ManagerScan {
                manager: manager.into(),
                outcome: ScanOutcome::Ok { updates },
            }],
            reboot_required: false,
        }
    }

    #[test]
    fn valid_report_accepted() {
        assert_eq!(
            validate_report(&report(vec![update("openssl", "3.0.11-1~deb12u2")])),
            Ok(())
        );
    }

    #[test]
    fn invalid_version_named_by_path() {
        let error = validate_report(&report(vec![update("openssl", "1.0; rm -rf /")])).unwrap_err();
        assert!(
            error.starts_with("managers[0].updates[0].new_version"),
            "{error}"
        );
    }

    #[test]
    fn manager_specific_names_accepted() {
        let winget_id = r"ARP\Machine\X64\{3F2504E0-4F89-11D3-9A0C-0305E82C3301}";
        let mut winget = update(winget_id, "3.2.0");
        winget.manager = "winget".into();
        assert_eq!(validate_report(&report_for("winget", vec![winget])), Ok(()));

        let mut label = update("Background Security Improvement 13.6.1 (a)", "13.6.1 (a)");
        label.manager = "softwareupdate".into();
        assert_eq!(
            validate_report(&report_for("softwareupdate", vec![label])),
            Ok(())
        );

        let error = validate_report(&report(vec![update(winget_id, "3.2.0")])).unwrap_err();
        assert!(error.starts_with("managers[0].updates[0].name"), "{error}");
    }

    #[test]
    fn duplicate_package_rejected() {
        let error = validate_report(&report(vec![update("curl", "8.0"), update("curl", "8.1")]))
            .unwrap_err();
        assert!(error.contains("more than once"), "{error}");
    }

    #[test]
    fn scan_error_joined_and_cut() {
        assert_eq!(one_line("line one\nline two\n"), "line one line two");
        assert_eq!(one_line(&"x".repeat(5000)).len(), MAX_SCAN_ERROR_CHARS);
    }
}
