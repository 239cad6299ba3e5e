//! Simulated hardware and operating system inventory of one host, sent as the real agent sends
//! its inventory: after `Welcome` when the host is approved, and when it becomes approved.

use std::time::{SystemTime, UNIX_EPOCH};

use sysmanage_protocol::{DiskInfo, HostInfo, HostInventory, NetworkInterface};

const GIB: u64 = 1024 * 1024 * 1024;

/// Returns the inventory of simulated host `index`, whose `Hello` carried `host`. The operating
/// system fields repeat those of `host`, so storing the inventory changes no host column.
pub fn simulated_inventory(index: u32, host: &HostInfo) -> HostInventory {
    let cpu_count = 2 << (index % 4);
    let memory_total_bytes = u64::from(cpu_count) * 4 * GIB;
    let uptime_secs = 3_600 + u64::from(index % 720) * 3_600;
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let os_codename = match (host.os_name.as_str(), host.os_version.as_str()) {
        ("Debian GNU/Linux", "12") => Some("bookworm"),
        ("Ubuntu", "22.04") => Some("jammy"),
        ("Ubuntu", "24.04") => Some("noble"),
        _ => None,
    };
    // A locally administered MAC address (02:...) and a TEST-NET-3 address (RFC 5737), so that
    // nothing in the inventory names a real device or network.
    let [_, high, middle, low] = index.to_be_bytes();
    HostInventory {
        os_name: host.os_name.clone(),
        os_version: host.os_version.clone(),
        os_codename: os_codename.map(str::to_owned),
        kernel: host.kernel.clone(),
        architecture: host.architecture.clone(),
        cpu_model: if host.architecture == "aarch64" {
            "Neoverse-N1".to_owned()
        } else {
            "Intel Xeon Processor (Icelake)".to_owned()
        },
        cpu_count,
        memory_total_bytes,
        swap_total_bytes: GIB,
        disks: vec![DiskInfo {
            mount_point: "/".to_owned(),
            file_system: "ext4".to_owned(),
            total_bytes: 40 * GIB,
            available_bytes: (10 + u64::from(index % 25)) * GIB,
        }],
        network_interfaces: vec![
            NetworkInterface {
                name: "lo".to_owned(),
                mac_address: None,
                addresses: vec!["127.0.0.1/8".to_owned(), "::1/128".to_owned()],
            },
            NetworkInterface {
                name: "eth0".to_owned(),
                mac_address: Some(format!("02:00:00:{high:02x}:{middle:02x}:{low:02x}")),
                addresses: vec![format!("203.0.113.{}/24", index % 254 + 1)],
            },
        ],
        boot_time: now_secs.saturating_sub(uptime_secs),
        uptime_secs,
    }
}

#[cfg(test)]
mod tests {
    use sysmanage_protocol::{MAX_INVENTORY_ITEMS, MAX_INVENTORY_STRING_LEN};

    use super::*;
    use crate::identity::AgentIdentity;

    #[test]
    fn inventory_matches_hello_facts() {
        for index in [0, 1, 2, 9, 70_000] {
            let host = AgentIdentity::derive("seed", index).host_info();
            let inventory = simulated_inventory(index, &host);
            assert_eq!(inventory.os_name, host.os_name, "{index}");
            assert_eq!(inventory.os_version, host.os_version, "{index}");
            assert_eq!(inventory.kernel, host.kernel, "{index}");
            assert_eq!(inventory.architecture, host.architecture, "{index}");
            assert!(inventory.os_codename.is_some(), "{index}");
            assert!(inventory.cpu_count >= 2, "{index}");
        }
    }

    #[test]
    fn inventory_stays_within_server_limits() {
        let host = AgentIdentity::derive("seed", 12_345).host_info();
        let inventory = simulated_inventory(12_345, &host);
        assert!(inventory.disks.len() <= MAX_INVENTORY_ITEMS);
        assert!(inventory.network_interfaces.len() <= MAX_INVENTORY_ITEMS);
        let strings = [
            &inventory.os_name,
            &inventory.kernel,
            &inventory.cpu_model,
            &inventory.network_interfaces[1].addresses[0],
        ];
        assert!(
            strings
                .iter()
                .all(|value| value.len() <= MAX_INVENTORY_STRING_LEN)
        );
        assert_eq!(
            inventory.network_interfaces[1].mac_address.as_deref(),
            Some("02:00:00:00:30:39")
        );
    }
}
