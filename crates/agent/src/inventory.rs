//! Hardware and operating system inventory of this host, and the small resource snapshot that
//! rides on every heartbeat.
//!
//! Everything comes from `sysinfo` and the os-release file; no command is run. The inventory is
//! sent after `Welcome` and then only when it changed (see [`inventory_changed`]); the snapshot
//! is cheap enough for every heartbeat (see [`ResourceSampler`]).

use std::path::Path;
use std::time::Duration;

use sysinfo::{
    CpuRefreshKind, Disk, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System,
};
use sysmanage_protocol::{
    DiskInfo, HostInventory, MAX_INVENTORY_ITEMS, MAX_INVENTORY_STRING_LEN, NetworkInterface,
    ResourceSnapshot,
};

use crate::host_info;

/// Interval between two checks of the inventory for changes while connected.
pub const INVENTORY_CHECK_INTERVAL: Duration = Duration::from_mins(10);

/// A boot time that moved by at most this many seconds is the same boot. The kernel derives the
/// boot time from the wall clock, so a clock adjustment moves it without a reboot.
const BOOT_TIME_TOLERANCE_SECS: u64 = 60;

/// Collects the inventory of this host. Blocking: it reads `/proc`, `/sys` and calls `statvfs`
/// on every local mount, so async code runs it with `spawn_blocking`.
///
/// Lists are sorted by mount point and interface name so that two collections compare equal when
/// nothing changed, and are cut to the protocol limits ([`MAX_INVENTORY_ITEMS`],
/// [`MAX_INVENTORY_STRING_LEN`]) so that the server accepts them.
pub fn collect() -> HostInventory {
    let os = host_info::read_os_release();
    let system = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram().with_swap()),
    );
    let cpu_model = system
        .cpus()
        .first()
        .map(|cpu| cpu.brand().trim().to_owned())
        .unwrap_or_default();

    HostInventory {
        os_name: clip(os.name),
        os_version: clip(os.version),
        os_codename: os.codename.map(clip),
        kernel: clip(System::kernel_version().unwrap_or_default()),
        architecture: host_info::architecture_name(std::env::consts::ARCH).to_owned(),
        cpu_model: clip(cpu_model),
        cpu_count: u32::try_from(system.cpus().len()).unwrap_or(u32::MAX),
        memory_total_bytes: system.total_memory(),
        swap_total_bytes: system.total_swap(),
        disks: collect_disks(),
        network_interfaces: collect_network_interfaces(),
        boot_time: System::boot_time(),
        uptime_secs: System::uptime(),
    }
}

fn collect_disks() -> Vec<DiskInfo> {
    let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage());
    let mut result: Vec<DiskInfo> = disks
        .list()
        .iter()
        .map(|disk| DiskInfo {
            mount_point: clip(disk.mount_point().to_string_lossy().into_owned()),
            file_system: clip(disk.file_system().to_string_lossy().into_owned()),
            total_bytes: disk.total_space(),
            available_bytes: disk.available_space(),
        })
        .collect();
    result.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    // sysinfo lists a mount point once per mount, so a point mounted over is kept once.
    result.dedup_by(|a, b| a.mount_point == b.mount_point);
    result.truncate(MAX_INVENTORY_ITEMS);
    result
}

fn collect_network_interfaces() -> Vec<NetworkInterface> {
    let networks = Networks::new_with_refreshed_list();
    let mut result: Vec<NetworkInterface> = networks
        .list()
        .iter()
        .map(|(name, data)| {
            let mac = data.mac_address();
            let mut addresses: Vec<String> =
                data.ip_networks().iter().map(ToString::to_string).collect();
            addresses.sort();
            addresses.truncate(MAX_INVENTORY_ITEMS);
            NetworkInterface {
                name: clip(name.clone()),
                mac_address: (!mac.is_unspecified()).then(|| mac.to_string()),
                addresses,
            }
        })
        .collect();
    result.sort_by(|a, b| a.name.cmp(&b.name));
    result.truncate(MAX_INVENTORY_ITEMS);
    result
}

/// Cuts `value` to [`MAX_INVENTORY_STRING_LEN`] bytes at a character boundary.
fn clip(mut value: String) -> String {
    if value.len() > MAX_INVENTORY_STRING_LEN {
        let mut end = MAX_INVENTORY_STRING_LEN;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
    value
}

/// Returns whether `current` differs from `previous` in a way worth sending to the server.
///
/// Every field counts except those that change on their own all the time: `uptime_secs`, the
/// `available_bytes` of each disk (the heartbeat carries the root file system's usage), and a
/// `boot_time` that moved by at most a minute. A mounted or unmounted file system, a resized
/// disk, a new address, or a changed kernel or OS version all count.
pub fn inventory_changed(previous: &HostInventory, current: &HostInventory) -> bool {
    if previous.boot_time.abs_diff(current.boot_time) > BOOT_TIME_TOLERANCE_SECS {
        return true;
    }
    stable_part(previous) != stable_part(current)
}

/// Returns `inventory` without the fields that [`inventory_changed`] ignores.
fn stable_part(inventory: &HostInventory) -> HostInventory {
    let mut stable = inventory.clone();
    stable.boot_time = 0;
    stable.uptime_secs = 0;
    for disk in &mut stable.disks {
        disk.available_bytes = 0;
    }
    stable
}

/// Reads the resource snapshot of each heartbeat.
///
/// It keeps one `System` and the root file system's `Disk` between calls, so a sample reads only
/// the memory counters, the load average and one `statvfs`: no child process and no walk over
/// every mount or process.
pub struct ResourceSampler {
    system: System,
    root_disk: Option<Disk>,
}

impl ResourceSampler {
    /// Finds the root file system (`/`, or the system drive on Windows) once. Reads the mount
    /// table without calling `statvfs` on any mount.
    pub fn new() -> Self {
        let root = root_mount_point();
        let disks = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing());
        let root_disk = Vec::<Disk>::from(disks)
            .into_iter()
            .rfind(|disk| disk.mount_point() == root.as_path());
        if root_disk.is_none() {
            tracing::warn!(
                mount_point = %root.display(),
                "root file system not found in the mount table; heartbeats report no disk usage"
            );
        }
        Self {
            system: System::new(),
            root_disk,
        }
    }

    /// Reads the current load, memory and root file system usage. Blocks only for reads of
    /// `/proc` (or the platform's counters) and one `statvfs`.
    pub fn sample(&mut self) -> ResourceSnapshot {
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let load = System::load_average();
        let (disk_used_bytes, disk_total_bytes) = match &mut self.root_disk {
            Some(disk) => {
                disk.refresh_specifics(DiskRefreshKind::nothing().with_storage());
                let total = disk.total_space();
                (total.saturating_sub(disk.available_space()), total)
            }
            None => (0, 0),
        };
        ResourceSnapshot {
            load_average: [load.one, load.five, load.fifteen],
            memory_used_bytes: self.system.used_memory(),
            memory_total_bytes: self.system.total_memory(),
            disk_used_bytes,
            disk_total_bytes,
        }
    }
}

impl Default for ResourceSampler {
    fn default() -> Self {
        Self::new()
    }
}

/// Returns the mount point whose usage the heartbeat reports.
fn root_mount_point() -> std::path::PathBuf {
    if cfg!(windows) {
        let drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".to_owned());
        Path::new(&format!("{drive}\\")).to_path_buf()
    } else {
        Path::new("/").to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_inventory() -> HostInventory {
        HostInventory {
            os_name: "Debian GNU/Linux".into(),
            os_version: "12".into(),
            os_codename: Some("bookworm".into()),
            kernel: "6.1.0-18-amd64".into(),
            architecture: "x86_64".into(),
            cpu_model: "AMD EPYC 7763 64-Core Processor".into(),
            cpu_count: 4,
            memory_total_bytes: 16 << 30,
            swap_total_bytes: 2 << 30,
            disks: vec![DiskInfo {
                mount_point: "/".into(),
                file_system: "ext4".into(),
                total_bytes: 100 << 30,
                available_bytes: 60 << 30,
            }],
            network_interfaces: vec![NetworkInterface {
                name: "eth0".into(),
                mac_address: Some("52:54:00:12:34:56".into()),
                addresses: vec!["192.0.2.7/24".into()],
            }],
            boot_time: 1_765_000_000,
            uptime_secs: 3600,
        }
    }

    #[test]
    fn change_ignores_volatile_fields() {
        let previous = sample_inventory();
        let mut current = previous.clone();
        current.uptime_secs += 600;
        current.disks[0].available_bytes -= 1 << 30;
        current.boot_time += BOOT_TIME_TOLERANCE_SECS;
        assert!(!inventory_changed(&previous, &current));
    }

    /// A named edit of an inventory.
    type Change = (&'static str, fn(&mut HostInventory));

    #[test]
    fn change_detected_per_field() {
        let previous = sample_inventory();
        let changes: Vec<Change> = vec![
            ("kernel", |inventory| {
                inventory.kernel = "6.1.0-20-amd64".into();
            }),
            ("os_version", |inventory| inventory.os_version = "13".into()),
            ("os_codename", |inventory| inventory.os_codename = None),
            ("cpu_count", |inventory| inventory.cpu_count = 8),
            ("memory", |inventory| inventory.memory_total_bytes *= 2),
            ("swap", |inventory| inventory.swap_total_bytes = 0),
            ("disk size", |inventory| inventory.disks[0].total_bytes *= 2),
            ("new disk", |inventory| {
                inventory.disks.push(DiskInfo {
                    mount_point: "/srv".into(),
                    file_system: "xfs".into(),
                    total_bytes: 1 << 40,
                    available_bytes: 1 << 40,
                });
            }),
            ("address", |inventory| {
                inventory.network_interfaces[0].addresses = vec!["192.0.2.8/24".into()];
            }),
            ("interface gone", |inventory| {
                inventory.network_interfaces.clear();
            }),
            ("reboot", |inventory| {
                inventory.boot_time += BOOT_TIME_TOLERANCE_SECS + 1;
            }),
        ];
        for (name, change) in changes {
            let mut current = previous.clone();
            change(&mut current);
            assert!(inventory_changed(&previous, &current), "{name}");
        }
    }

    #[test]
    fn clip_respects_char_boundary() {
        let long = "é".repeat(MAX_INVENTORY_STRING_LEN);
        let clipped = clip(long);
        assert!(clipped.len() <= MAX_INVENTORY_STRING_LEN);
        // `é` takes two bytes, so the cut loses at most one byte to the boundary.
        assert!(clipped.len() + 1 >= MAX_INVENTORY_STRING_LEN);
        assert!(clipped.chars().all(|character| character == 'é'));
        assert_eq!(clip("eth0".into()), "eth0");
    }

    #[test]
    fn collect_on_this_host() {
        let inventory = collect();
        assert!(!inventory.os_name.is_empty());
        assert!(!inventory.kernel.is_empty());
        assert!(!inventory.cpu_model.is_empty(), "{inventory:?}");
        assert!(inventory.cpu_count >= 1);
        assert!(inventory.memory_total_bytes > 0);
        assert!(!inventory.disks.is_empty(), "{inventory:?}");
        assert!(
            inventory.disks.iter().any(|disk| disk.total_bytes > 0),
            "{:?}",
            inventory.disks
        );
        assert!(!inventory.network_interfaces.is_empty(), "{inventory:?}");
        assert!(inventory.boot_time > 0);
        assert!(inventory.uptime_secs > 0);
        assert!(
            !inventory_changed(&inventory, &collect()),
            "two collections in a row differ"
        );
    }

    #[test]
    fn sample_on_this_host() {
        let mut sampler = ResourceSampler::new();
        let snapshot = sampler.sample();
        assert!(snapshot.memory_total_bytes > 0);
        assert!(snapshot.memory_used_bytes <= snapshot.memory_total_bytes);
        assert!(snapshot.disk_total_bytes > 0, "{snapshot:?}");
        assert!(snapshot.disk_used_bytes <= snapshot.disk_total_bytes);
        assert!(snapshot.load_average.iter().all(|load| *load >= 0.0));
    }
}
