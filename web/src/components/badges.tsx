import { Badge } from "@mantine/core";
import type { Approval, HostStatus, JobState } from "../api/types";

const STATUS_COLORS: Record<HostStatus, string> = {
  up: "green",
  down: "red",
  unknown: "gray",
};

export function HostStatusBadge({ status }: { status: HostStatus }) {
  return (
    <Badge
      color={STATUS_COLORS[status] ?? "gray"}
      variant="light"
      data-testid="host-status"
    >
      {status}
    </Badge>
  );
}

const APPROVAL_COLORS: Record<Approval, string> = {
  pending: "yellow",
  approved: "blue",
  rejected: "gray",
};

export function ApprovalBadge({ approval }: { approval: Approval }) {
  return (
    <Badge color={APPROVAL_COLORS[approval] ?? "gray"} variant="outline">
      {approval}
    </Badge>
  );
}

const JOB_COLORS: Record<JobState, string> = {
  queued: "gray",
  sent: "cyan",
  running: "blue",
  succeeded: "green",
  failed: "red",
  expired: "orange",
};

export function JobStateBadge({ state }: { state: JobState }) {
  return (
    <Badge
      color={JOB_COLORS[state] ?? "gray"}
      variant="filled"
      data-testid="job-state"
    >
      {state}
    </Badge>
  );
}
