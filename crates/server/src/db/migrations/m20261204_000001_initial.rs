//! First schema: users and tokens, hosts and their availability history, pending updates, and
//! install jobs.
//!
//! Times are stored as Unix time in milliseconds (UTC) in BIGINT columns, so that SQLite and
//! PostgreSQL compare and sort them the same way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, boolean, string, string_null, string_uniq, text,
    text_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Userid,
    PasswordHash,
    IsAdmin,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AuthTokens {
    Table,
    Id,
    TokenHash,
    ChainId,
    UserId,
    IssuedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Hosts {
    Table,
    Id,
    Hostname,
    Fqdn,
    OsName,
    OsVersion,
    Kernel,
    Architecture,
    MachineId,
    AgentVersion,
    PublicKey,
    Approval,
    ConflictWithHostId,
    Status,
    LastSeenAt,
    StatusChangedAt,
    RebootRequired,
    UpdatesCheckedAt,
    UpdateError,
    CreatedAt,
    ApprovedAt,
}

#[derive(DeriveIden)]
enum HostEvents {
    Table,
    Id,
    HostId,
    Kind,
    At,
    Detail,
}

#[derive(DeriveIden)]
enum HostUpdates {
    Table,
    Id,
    HostId,
    Manager,
    Name,
    Architecture,
    CurrentVersion,
    NewVersion,
    Origin,
    Security,
    Status,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    HostId,
    Request,
    State,
    CreatedBy,
    CreatedAt,
    SentAt,
    StartedAt,
    FinishedAt,
    ExpiresAt,
    RebootRequired,
    OutputTail,
    FailureKind,
    FailureMessage,
}

#[derive(DeriveIden)]
enum JobPackages {
    Table,
    Id,
    JobId,
    Manager,
    Name,
    RequestedVersion,
    InstalledVersion,
    Outcome,
    Message,
}

fn foreign_key(
    from_table: impl IntoIden,
    from_column: impl IntoIden,
    to_table: impl IntoIden,
    to_column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_column)
        .to(to_table, to_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_uniq(Users::Userid))
                    .col(string(Users::PasswordHash))
                    .col(boolean(Users::IsAdmin))
                    .col(boolean(Users::Active))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthTokens::Table)
                    .col(big_pk_auto(AuthTokens::Id))
                    .col(string_uniq(AuthTokens::TokenHash))
                    .col(string(AuthTokens::ChainId))
                    .col(big_integer(AuthTokens::UserId))
                    .col(big_integer(AuthTokens::IssuedAt))
                    .col(big_integer(AuthTokens::ExpiresAt))
                    .col(big_integer_null(AuthTokens::UsedAt))
                    .col(big_integer_null(AuthTokens::RevokedAt))
                    .foreign_key(&mut foreign_key(
                        AuthTokens::Table,
                        AuthTokens::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_auth_tokens_chain_id")
                    .table(AuthTokens::Table)
                    .col(AuthTokens::ChainId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_auth_tokens_expires_at")
                    .table(AuthTokens::Table)
                    .col(AuthTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Hosts::Table)
                    .col(big_pk_auto(Hosts::Id))
                    .col(string(Hosts::Hostname))
                    .col(string(Hosts::Fqdn))
                    .col(string(Hosts::OsName))
                    .col(string(Hosts::OsVersion))
                    .col(string(Hosts::Kernel))
                    .col(string(Hosts::Architecture))
                    .col(string_null(Hosts::MachineId))
                    .col(string(Hosts::AgentVersion))
                    .col(string_uniq(Hosts::PublicKey))
                    .col(string(Hosts::Approval))
                    .col(big_integer_null(Hosts::ConflictWithHostId))
                    .col(string(Hosts::Status))
                    .col(big_integer_null(Hosts::LastSeenAt))
                    .col(big_integer(Hosts::StatusChangedAt))
                    .col(boolean(Hosts::RebootRequired))
                    .col(big_integer_null(Hosts::UpdatesCheckedAt))
                    .col(text_null(Hosts::UpdateError))
                    .col(big_integer(Hosts::CreatedAt))
                    .col(big_integer_null(Hosts::ApprovedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_hosts_hostname")
                    .table(Hosts::Table)
                    .col(Hosts::Hostname)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HostEvents::Table)
                    .col(big_pk_auto(HostEvents::Id))
                    .col(big_integer(HostEvents::HostId))
                    .col(string(HostEvents::Kind))
                    .col(big_integer(HostEvents::At))
                    .col(text_null(HostEvents::Detail))
                    .foreign_key(&mut foreign_key(
                        HostEvents::Table,
                        HostEvents::HostId,
                        Hosts::Table,
                        Hosts::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_host_events_host_id_at")
                    .table(HostEvents::Table)
                    .col(HostEvents::HostId)
                    .col(HostEvents::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HostUpdates::Table)
                    .col(big_pk_auto(HostUpdates::Id))
                    .col(big_integer(HostUpdates::HostId))
                    .col(string(HostUpdates::Manager))
                    .col(string(HostUpdates::Name))
                    .col(string(HostUpdates::Architecture))
                    .col(string_null(HostUpdates::CurrentVersion))
                    .col(string(HostUpdates::NewVersion))
                    .col(string_null(HostUpdates::Origin))
                    .col(boolean(HostUpdates::Security))
                    .col(string(HostUpdates::Status))
                    .foreign_key(&mut foreign_key(
                        HostUpdates::Table,
                        HostUpdates::HostId,
                        Hosts::Table,
                        Hosts::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_host_updates_unique")
                    .table(HostUpdates::Table)
                    .col(HostUpdates::HostId)
                    .col(HostUpdates::Manager)
                    .col(HostUpdates::Name)
                    .col(HostUpdates::Architecture)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(big_pk_auto(Jobs::Id))
                    .col(big_integer(Jobs::HostId))
                    .col(text(Jobs::Request))
                    .col(string(Jobs::State))
                    .col(big_integer_null(Jobs::CreatedBy))
                    .col(big_integer(Jobs::CreatedAt))
                    .col(big_integer_null(Jobs::SentAt))
                    .col(big_integer_null(Jobs::StartedAt))
                    .col(big_integer_null(Jobs::FinishedAt))
                    .col(big_integer(Jobs::ExpiresAt))
                    .col(boolean(Jobs::RebootRequired))
                    .col(text_null(Jobs::OutputTail))
                    .col(string_null(Jobs::FailureKind))
                    .col(text_null(Jobs::FailureMessage))
                    .foreign_key(&mut foreign_key(
                        Jobs::Table,
                        Jobs::HostId,
                        Hosts::Table,
                        Hosts::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_host_id_state")
                    .table(Jobs::Table)
                    .col(Jobs::HostId)
                    .col(Jobs::State)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JobPackages::Table)
                    .col(big_pk_auto(JobPackages::Id))
                    .col(big_integer(JobPackages::JobId))
                    .col(string(JobPackages::Manager))
                    .col(string(JobPackages::Name))
                    .col(string_null(JobPackages::RequestedVersion))
                    .col(string_null(JobPackages::InstalledVersion))
                    .col(string(JobPackages::Outcome))
                    .col(text_null(JobPackages::Message))
                    .foreign_key(&mut foreign_key(
                        JobPackages::Table,
                        JobPackages::JobId,
                        Jobs::Table,
                        Jobs::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_packages_job_id")
                    .table(JobPackages::Table)
                    .col(JobPackages::JobId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children first, so that foreign keys never point at a dropped table.
        manager
            .drop_table(Table::drop().table(JobPackages::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(HostUpdates::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(HostEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Hosts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuthTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
