/** Response types of the SysManage REST API. Times are RFC 3339 strings in UTC. */

export type HostStatus = "up" | "down" | "unknown";
export type Approval = "pending" | "approved" | "rejected";
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
  /** `available`, `held` or `deferred`. */
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
