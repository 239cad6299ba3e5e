//! Storing a `HostInventory`: validation, then one update of the host row that also refreshes its
//! OS name, version, kernel and architecture columns.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use sysmanage_protocol::{
    Approval, ErrorCode, HostInventory, MAX_INVENTORY_ITEMS, MAX_INVENTORY_STRING_LEN,
};

use crate::db::entities::host;
use crate::state::AppState;

/// Error that kept an inventory from being stored.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("invalid inventory: {0}")]
    Invalid(String),
    #[error("this host is not approved")]
    NotApproved,
    #[error("database error while storing the inventory")]
    Database(#[from] DbErr),
}

impl InventoryError {
    /// Logs the error and returns the code and message of the `Error` reply to the agent.
    pub fn into_reply(self) -> (ErrorCode, String) {
        match &self {
            Self::Invalid(reason) => {
                tracing::warn!(reason = ?reason, "rejected an invalid inventory");
                (ErrorCode::InvalidRequest, self.to_string())
            }
            Self::NotApproved => (ErrorCode::NotApproved, self.to_string()),
            Self::Database(error) => {
                tracing::error!(%error, "failed to store an inventory");
                (
                    ErrorCode::Internal,
                    "the server could not store the inventory; send it again later".to_owned(),
                )
            }
        }
    }
}

/// Validates `inventory` and stores it for `host_id`, with the server time, when the host is
/// approved. The approval is checked in the same statement as the write, so an inventory that
/// races with a rejection changes nothing.
pub async fn store_inventory(
    state: &AppState,
    host_id: i64,
    inventory: &HostInventory,
) -> Result<(), InventoryError> {
    validate_inventory(inventory).map_err(InventoryError::Invalid)?;
    // Serializing these plain data types cannot fail.
    let json = serde_json::to_string(inventory).unwrap_or_default();
    let now = state.clock.now_ms();

    let updated = host::Entity::update_many()
        .col_expr(host::Column::Inventory, Expr::value(json))
        .col_expr(host::Column::InventoryUpdatedAt, Expr::value(now))
        .col_expr(host::Column::OsName, Expr::value(&inventory.os_name))
        .col_expr(host::Column::OsVersion, Expr::value(&inventory.os_version))
        .col_expr(host::Column::Kernel, Expr::value(&inventory.kernel))
        .col_expr(
            host::Column::Architecture,
            Expr::value(&inventory.architecture),
        )
        .filter(host::Column::Id.eq(host_id))
        .filter(host::Column::Approval.eq(Approval::Approved.as_str()))
        .exec(&state.db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(InventoryError::NotApproved);
    }

    tracing::info!(
        host_id,
        disks = inventory.disks.len(),
        network_interfaces = inventory.network_interfaces.len(),
        "inventory stored"
    );
    Ok(())
}

/// Checks list sizes and string lengths. The error names the first invalid field by its path,
/// such as `disks[2].mount_point`.
pub fn validate_inventory(inventory: &HostInventory) -> Result<(), String> {
    let strings = [
        ("os_name", &inventory.os_name),
        ("os_version", &inventory.os_version),
        ("kernel", &inventory.kernel),
        ("architecture", &inventory.architecture),
        ("cpu_model", &inventory.cpu_model),
    ];
    for (field, value) in strings {
        check_string(field, value)?;
    }
    if let Some(codename) = &inventory.os_codename {
        check_string("os_codename", codename)?;
    }

    check_count("disks", inventory.disks.len())?;
    for (index, disk) in inventory.disks.iter().enumerate() {
        check_string(&format!("disks[{index}].mount_point"), &disk.mount_point)?;
        check_string(&format!("disks[{index}].file_system"), &disk.file_system)?;
    }

    check_count("network_interfaces", inventory.network_interfaces.len())?;
    for (index, interface) in inventory.network_interfaces.iter().enumerate() {
        let path = format!("network_interfaces[{index}]");
        check_string(&format!("{path}.name"), &interface.name)?;
        if let Some(mac) = &interface.mac_address {
            check_string(&format!("{path}.mac_address"), mac)?;
        }
        check_count(&format!("{path}.addresses"), interface.addresses.len())?;
        for (address_index, address) in interface.addresses.iter().enumerate() {
            check_string(&format!("{path}.addresses[{address_index}]"), address)?;
        }
    }
    Ok(())
}

fn check_count(field: &str, count: usize) -> Result<(), String> {
    if count > MAX_INVENTORY_ITEMS {
        return Err(format!(
            "{field}: {count} entries are more than the maximum of {MAX_INVENTORY_ITEMS}"
        ));
    }
    Ok(())
}

fn check_string(field: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_INVENTORY_STRING_LEN {
        return Err(format!(
            "{field}: {} bytes are more than the maximum of {MAX_INVENTORY_STRING_LEN}",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field}: must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sysmanage_protocol::{DiskInfo, NetworkInterface};

    use super::*;

    fn inventory() -> HostInventory {
        HostInventory {
            os_name: "Debian GNU/Linux".into(),
            os_version: "12".into(),
            os_codename: Some("bookworm".into()),
            kernel: "6.1.0-18-amd64".into(),
            architecture: "x86_64".into(),
            cpu_model: "AMD EPYC 7763".into(),
            cpu_count: 4,
            memory_total_bytes: 1 << 34,
            swap_total_bytes: 0,
            disks: vec![DiskInfo {
                mount_point: "/".into(),
                file_system: "ext4".into(),
                total_bytes: 1 << 36,
                available_bytes: 1 << 35,
            }],
            network_interfaces: vec![NetworkInterface {
                name: "eth0".into(),
                mac_address: Some("52:54:00:12:34:56".into()),
                addresses: vec!["192.0.2.7/24".into()],
            }],
            boot_time: 1_765_000_000,
            uptime_secs: 60,
        }
    }

    #[test]
    fn valid_inventory_accepted() {
        assert_eq!(validate_inventory(&inventory()), Ok(()));
    }

    #[test]
    fn too_many_disks_rejected() {
        let mut oversize = inventory();
        oversize.disks = vec![oversize.disks[0].clone(); MAX_INVENTORY_ITEMS + 1];
        let error = validate_inventory(&oversize).unwrap_err();
        assert!(error.starts_with("disks: 257 entries"), "{error}");
    }

    #[test]
    fn too_many_addresses_rejected() {
        let mut oversize = inventory();
        oversize.network_interfaces[0].addresses =
            vec!["192.0.2.7/24".into(); MAX_INVENTORY_ITEMS + 1];
        let error = validate_inventory(&oversize).unwrap_err();
        assert!(
            error.starts_with("network_interfaces[0].addresses:"),
            "{error}"
        );
    }

    #[test]
    fn long_string_rejected() {
        let mut oversize = inventory();
        oversize.disks[0].mount_point = "/".repeat(MAX_INVENTORY_STRING_LEN + 1);
        let error = validate_inventory(&oversize).unwrap_err();
        assert!(
            error.starts_with("disks[0].mount_point: 256 bytes"),
            "{error}"
        );
    }

    #[test]
    fn control_character_rejected() {
        let mut invalid = inventory();
        invalid.kernel = "6.1\n".into();
        let error = validate_inventory(&invalid).unwrap_err();
        assert!(error.starts_with("kernel:"), "{error}");
    }
}
