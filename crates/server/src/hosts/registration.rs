//! Registration of an agent's host on connect: lookup by public key, new pending hosts, hostname
//! conflicts and approval by enrollment key.

use std::net::IpAddr;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use sysmanage_protocol::{Approval, Hello};

use super::{parse_approval, record_event};
use crate::agents::RegistrationError;
use crate::db::entities::host;
use crate::events::{self, Event};
use crate::liveness::HostStatus;
use crate::state::AppState;

/// The host behind an authenticated agent connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentHost {
    pub id: i64,
    pub approval: Approval,
    pub status: HostStatus,
}

impl From<&host::Model> for AgentHost {
    fn from(model: &host::Model) -> Self {
        Self {
            id: model.id,
            approval: parse_approval(&model.approval),
            status: HostStatus::parse(&model.status),
        }
    }
}

/// Finds or creates the host of a verified `Hello`.
///
/// - Known key, rejected host: nothing changes.
/// - Known key, pending or approved host: its facts and agent version are updated. A pending host
///   is approved when it presents the enrollment key and no approved host with another key has
///   its hostname.
/// - Unknown key: a new pending host, with `conflict_with_host_id` set when another host that is
///   not rejected has the same hostname. It is approved at once when it presents the enrollment
///   key, unless that other host is approved. It never takes over the other host.
///
/// A new host without a valid enrollment key is rejected while `agents.max_pending_hosts` hosts
/// are pending, or when `peer_ip` registered `agents.max_registrations_per_address_per_minute`
/// new hosts in the last minute.
pub async fn register_agent(
    state: &AppState,
    hello: &Hello,
    public_key: &str,
    peer_ip: Option<IpAddr>,
) -> Result<AgentHost, RegistrationError> {
    if let Some(existing) = find_by_key(state, public_key).await? {
        return Ok(update_known(state, existing, hello).await?);
    }
    if !presents_enrollment_key(state, hello) {
        check_new_pending_host(state, peer_ip).await?;
    }
    match insert_new(state, hello, public_key).await {
        Ok(host) => Ok(host),
        Err(error) => {
            // Two connections with the same new key race on the unique index: the loser reads
            // the winner's row.
            match find_by_key(state, public_key).await? {
                Some(existing) => Ok(update_known(state, existing, hello).await?),
                None => Err(error.into()),
            }
        }
    }
}

/// Checks the limits on new pending hosts: their total and the registrations from `peer_ip`.
async fn check_new_pending_host(
    state: &AppState,
    peer_ip: Option<IpAddr>,
) -> Result<(), RegistrationError> {
    // NOTE: concurrent registrations may each see a count below the limit, so the number of
    // pending hosts can exceed it by the number of registrations in flight.
    let pending = host::Entity::find()
        .filter(host::Column::Approval.eq(Approval::Pending.as_str()))
        .count(&state.db)
        .await?;
    if pending >= state.config.agents.max_pending_hosts {
        return Err(RegistrationError::TooManyPendingHosts { pending });
    }
    if let Some(address) = peer_ip
        && !state
            .registrations
            .try_register(address, state.clock.now_ms())
    {
        return Err(RegistrationError::TooManyFromAddress);
    }
    Ok(())
}

async fn find_by_key(state: &AppState, public_key: &str) -> Result<Option<host::Model>, DbErr> {
    host::Entity::find()
        .filter(host::Column::PublicKey.eq(public_key))
        .one(&state.db)
        .await
}

/// Returns the host that a registration with `hostname` conflicts with: another host with that
/// hostname that is not rejected, preferring an approved one, then the oldest.
async fn find_conflict(
    db: &impl ConnectionTrait,
    hostname: &str,
    exclude_id: Option<i64>,
) -> Result<Option<host::Model>, DbErr> {
    let mut query = host::Entity::find()
        .filter(host::Column::Hostname.eq(hostname))
        .filter(host::Column::Approval.ne(Approval::Rejected.as_str()));
    if let Some(id) = exclude_id {
        query = query.filter(host::Column::Id.ne(id));
    }
    let candidates = query.order_by_asc(host::Column::Id).all(db).await?;
    let approved = candidates
        .iter()
        .position(|candidate| candidate.approval == Approval::Approved.as_str());
    Ok(match approved {
        Some(index) => candidates.into_iter().nth(index),
        None => candidates.into_iter().next(),
    })
}

/// Compares the presented enrollment key with the configured one in constant time, over SHA-256
/// digests so that the comparison does not depend on the lengths either.
fn enrollment_key_matches(configured: Option<&str>, presented: Option<&str>) -> bool {
    match (configured, presented) {
        (Some(configured), Some(presented)) if !configured.is_empty() => {
            let expected = Sha256::digest(configured.as_bytes());
            let actual = Sha256::digest(presented.as_bytes());
            expected.ct_eq(&actual).into()
        }
        _ => false,
    }
}

fn apply_facts(model: &mut host::ActiveModel, hello: &Hello) {
    let facts = &hello.host;
    model.hostname = Set(facts.hostname.clone());
    model.fqdn = Set(facts.fqdn.clone());
    model.os_name = Set(facts.os_name.clone());
    model.os_version = Set(facts.os_version.clone());
    model.kernel = Set(facts.kernel.clone());
    model.architecture = Set(facts.architecture.clone());
    model.machine_id = Set(facts.machine_id.clone());
    model.agent_version = Set(hello.agent_version.clone());
}

async fn update_known(
    state: &AppState,
    existing: host::Model,
    hello: &Hello,
) -> Result<AgentHost, DbErr> {
    let approval = parse_approval(&existing.approval);
    if approval == Approval::Rejected {
        return Ok(AgentHost::from(&existing));
    }

    let now = state.clock.now_ms();
    let txn = crate::transaction::begin_write(&state.db).await?;
    let host_id = existing.id;
    let mut model: host::ActiveModel = existing.into();
    apply_facts(&mut model, hello);

    let mut approved_now = false;
    if approval == Approval::Pending {
        let conflict = find_conflict(&txn, &hello.host.hostname, Some(host_id)).await?;
        let conflicts_with_approved = conflict
            .as_ref()
            .is_some_and(|other| other.approval == Approval::Approved.as_str());
        model.conflict_with_host_id = Set(conflict.map(|other| other.id));
        if !conflicts_with_approved && presents_enrollment_key(state, hello) {
            model.approval = Set(Approval::Approved.as_str().to_owned());
            model.approved_at = Set(Some(now));
            approved_now = true;
        }
    }
    let updated = model.update(&txn).await?;
    if approval == Approval::Pending && !approved_now {
        log_stays_pending(host_id, hello, presents_enrollment_key(state, hello));
    }
    if approved_now {
        record_event(&txn, host_id, "approved", now, Some("enrollment key")).await?;
    }
    txn.commit().await?;

    if approved_now {
        tracing::info!(host_id, "pending host approved by enrollment key");
        events::publish(
            state,
            Event::HostApproval {
                host_id,
                approval: Approval::Approved.as_str().to_owned(),
            },
        );
    }
    Ok(AgentHost::from(&updated))
}

/// Logs why a host stays pending, without the key. `Welcome` does not say why, so that an agent
/// cannot probe whether a key is configured.
fn log_stays_pending(host_id: i64, hello: &Hello, key_matched: bool) {
    if key_matched {
        tracing::info!(
            host_id,
            "enrollment key matched but an approved host has this hostname; host stays pending \
             for approval"
        );
    } else {
        tracing::info!(
            host_id,
            presented_key = hello.enrollment_key.is_some(),
            "enrollment key did not match; host stays pending for approval"
        );
    }
}

fn presents_enrollment_key(state: &AppState, hello: &Hello) -> bool {
    enrollment_key_matches(
        state.config.security.enrollment_key.as_deref(),
        hello.enrollment_key.as_deref(),
    )
}

async fn insert_new(state: &AppState, hello: &Hello, public_key: &str) -> Result<AgentHost, DbErr> {
    let now = state.clock.now_ms();
    let txn = crate::transaction::begin_write(&state.db).await?;
    let conflict = find_conflict(&txn, &hello.host.hostname, None).await?;
    let conflicts_with_approved = conflict
        .as_ref()
        .is_some_and(|other| other.approval == Approval::Approved.as_str());
    let approve = !conflicts_with_approved && presents_enrollment_key(state, hello);
    let approval = if approve {
        Approval::Approved
    } else {
        Approval::Pending
    };

    let mut model = host::ActiveModel {
        public_key: Set(public_key.to_owned()),
        approval: Set(approval.as_str().to_owned()),
        conflict_with_host_id: Set(conflict.as_ref().map(|other| other.id)),
        status: Set(HostStatus::Unknown.as_str().to_owned()),
        last_seen_at: Set(None),
        status_changed_at: Set(now),
        reboot_required: Set(false),
        updates_checked_at: Set(None),
        update_error: Set(None),
        created_at: Set(now),
        approved_at: Set(approve.then_some(now)),
        ..Default::default()
    };
    apply_facts(&mut model, hello);
    let inserted = model.insert(&txn).await?;

    let detail = match &conflict {
        Some(other) => format!(
            "agent {}; hostname {} is already used by host {} with another key",
            hello.agent_version, other.hostname, other.id
        ),
        None => format!("agent {}", hello.agent_version),
    };
    record_event(&txn, inserted.id, "registered", now, Some(&detail)).await?;
    if approve {
        record_event(&txn, inserted.id, "approved", now, Some("enrollment key")).await?;
    }
    txn.commit().await?;

    if !approve {
        log_stays_pending(inserted.id, hello, presents_enrollment_key(state, hello));
    }
    tracing::info!(
        host_id = inserted.id,
        hostname = ?inserted.hostname,
        approval = approval.as_str(),
        conflict_with_host_id = ?inserted.conflict_with_host_id,
        "new host registered"
    );
    events::publish(
        state,
        Event::HostRegistered {
            host_id: inserted.id,
            hostname: inserted.hostname.clone(),
        },
    );
    Ok(AgentHost::from(&inserted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrollment_key_compared_exactly() {
        assert!(enrollment_key_matches(Some("s3cret"), Some("s3cret")));
        assert!(!enrollment_key_matches(Some("s3cret"), Some("s3cret ")));
        assert!(!enrollment_key_matches(Some("s3cret"), None));
        assert!(!enrollment_key_matches(None, Some("s3cret")));
        assert!(!enrollment_key_matches(Some(""), Some("")));
    }
}
