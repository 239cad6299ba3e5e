/** Response types of the SysManage REST API. Times are RFC 3339 strings in UTC. */

export type HostStatus = "up" | "down" | "unknown";
export type Approval = "pending" | "approved" | "rejected";
export type UpdateStatus = "available" | "held" | "deferred" | "kept_back";
export type JobState =
  "queued" | "sent" | "running" | "succeeded" | "failed" | "expired";

export interface Page<T> {
  items: T[];
  /** Number of items that match the filters, on all pages. */
  total: number;
}

export interface Host {
  id: number;
  hostname: string;
  fqdn: string;
  os_name: string;
  os_version: string;
  kernel: string;
  architecture: string;
  machine_id?: string | null;
  agent_version: string;
  approval: Approval;
  conflict_with_host_id?: number | null;
  conflict_with?: {
    host_id: number;
    hostname: string;
    approval: Approval;
  } | null;
  status: HostStatus;
  last_seen_at?: string | null;
  status_changed_at?: string | null;
  reboot_required: boolean;
  pending_updates: number;
  security_updates: number;
  updates_checked_at?: string | null;
  update_error?: string | null;
  created_at?: string | null;
  approved_at?: string | null;
}

/** One mounted file system of a host inventory. */
export interface DiskInfo {
  mount_point: string;
  file_system: string;
  total_bytes: number;
  available_bytes: number;
}

/** One network interface of a host inventory; addresses are CIDR or plain IPs. */
export interface NetworkInterface {
  name: string;
  mac_address?: string | null;
  addresses: string[];
}

/** Hardware and OS inventory that the agent sends on connect and when it changes. */
export interface HostInventory {
  os_name: string;
  os_version: string;
  os_codename?: string | null;
  kernel: string;
  architecture: string;
  cpu_model: string;
  cpu_count: number;
  memory_total_bytes: number;
  swap_total_bytes: number;
  disks: DiskInfo[];
  network_interfaces: NetworkInterface[];
  /** Unix time in seconds. */
  boot_time: number;
  uptime_secs: number;
}

/** Load, memory and root file system usage from the latest heartbeat. */
export interface ResourceSnapshot {
  /** Load averages over 1, 5 and 15 minutes. */
  load_average: [number, number, number];
  memory_used_bytes: number;
  memory_total_bytes: number;
  disk_used_bytes: number;
  disk_total_bytes: number;
}

/** A host as `GET /hosts/{id}` returns it, with its inventory and resource snapshot. */
export interface HostDetail extends Host {
  inventory: HostInventory | null;
  inventory_updated_at: string | null;
  resources: ResourceSnapshot | null;
  resources_at: string | null;
}

export interface HostEvent {
  id: number;
  kind: "registered" | "approved" | "rejected" | "up" | "down" | string;
  at: string | null;
  detail?: string | null;
}

export interface Update {
  id: number;
  host_id: number;
  hostname?: string | null;
  manager: string;
  name: string;
  architecture?: string | null;
  current_version?: string | null;
  new_version: string;
  origin?: string | null;
  security: boolean;
  /** An {@link UpdateStatus}, or a status that a newer server added. */
  status: string;
}

export interface JobPackage {
  manager: string;
  name: string;
  requested_version?: string | null;
  installed_version?: string | null;
  /** `pending`, `installed`, `failed` or `not_attempted`. */
  outcome: string;
  message?: string | null;
}

export interface Job {
  id: number;
  host_id: number;
  hostname?: string | null;
  state: JobState;
  /** The install request as sent to the agent: `{"mode": "packages" | "all" | "security_only", ...}`. */
  request?: { mode?: string; packages?: unknown[] } | null;
  created_at?: string | null;
  sent_at?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
  expires_at?: string | null;
  reboot_required?: boolean;
  output_tail?: string | null;
  failure?: { kind?: string | null; message?: string | null } | null;
  packages?: JobPackage[];
}

export interface User {
  id: number;
  userid: string;
  is_admin: boolean;
  active: boolean;
  created_at?: string | number | null;
  updated_at?: string | number | null;
}

export type InstallRequest =
  | { packages: { manager: string; name: string; version: string }[] }
  | { all: true }
  | { security_only: true };

/** Body of `POST /jobs`: one install request for every listed host. */
export type BulkInstallRequest = InstallRequest & { host_ids: number[] };

/**
 * Reason code that `POST /jobs` gives for a host that got no job. `duplicate` means that the
 * host has an identical job queued, sent or running.
 */
export type SkipReason = "not_found" | "not_approved" | "duplicate";

/** A host that `POST /jobs` created no job for. `job_id` names the identical job of a `duplicate`. */
export interface SkippedHost {
  host_id: number;
  reason: SkipReason;
  job_id?: number;
}

/** Response of `POST /jobs`: one job per approved host, and the hosts that got none. */
export interface BulkInstallResult {
  jobs: { host_id: number; job_id: number; state: JobState }[];
  skipped: SkippedHost[];
}

/** Security updates among the updates of one status. */
export interface UpdateStatusCount {
  total: number;
  security: number;
}

/**
 * Fleet counts of `GET /summary`, computed by the server over every host. Host counts other
 * than `total`, `approved`, `pending` and `rejected`, and all update counts, cover approved
 * hosts only. Pending updates are those of status `available`.
 */
export interface Summary {
  hosts: {
    total: number;
    approved: number;
    pending: number;
    rejected: number;
    up: number;
    down: number;
    unknown: number;
    with_pending_updates: number;
    with_security_updates: number;
    reboot_required: number;
    update_error: number;
  };
  updates: {
    pending: number;
    security: number;
    by_status: {
      available: UpdateStatusCount;
      held: UpdateStatusCount;
      deferred: UpdateStatusCount;
      kept_back: UpdateStatusCount;
    };
  };
  jobs: {
    queued: number;
    sent: number;
    running: number;
    failed_last_24h: number;
  };
  generated_at: string | null;
}
