import { Badge, Tooltip } from "@mantine/core";
import type {
  Approval,
  HostStatus,
  JobState,
  UpdateStatus,
} from "../api/types";
import { UPDATE_STATUSES } from "./updateStatuses";

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

function isKnownStatus(status: string): status is UpdateStatus {
  return Object.hasOwn(UPDATE_STATUSES, status);
}

/**
 * Shows an update's status, except `available`, with a tooltip that explains it. A status this
 * page does not know, from a newer server, shows as its plain name.
 */
export function UpdateStatusBadge({ status }: { status: string }) {
  if (status === "available") {
    return null;
  }
  if (!isKnownStatus(status)) {
    return (
      <Badge color="gray" data-testid="update-status">
        {status}
      </Badge>
    );
  }
  const { label, color, description } = UPDATE_STATUSES[status];
  return (
    <Tooltip label={description} multiline w={320} withArrow>
      <Badge color={color} data-testid="update-status">
        {label}
      </Badge>
    </Tooltip>
  );
}
