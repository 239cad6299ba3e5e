import { Alert, Button, Group, Text } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { useApi } from "../api/ApiContext";
import { approveHost, rejectHost } from "../api/endpoints";
import type { Host } from "../api/types";
import { notifyError, notifySuccess } from "../components/notify";

/** Warning shown when a pending host claims the hostname of a host with another key. */
export function ConflictWarning({ host }: { host: Host }) {
  if (
    host.conflict_with_host_id === null ||
    host.conflict_with_host_id === undefined
  ) {
    return null;
  }
  const other = host.conflict_with;
  return (
    <Alert
      color="orange"
      icon={<IconAlertTriangle />}
      title="Hostname conflict"
      data-testid="conflict-warning"
    >
      <Text size="sm">
        Host{" "}
        <Link to={`/hosts/${host.conflict_with_host_id}`}>
          {other?.hostname ?? `#${host.conflict_with_host_id}`}
        </Link>{" "}
        {other ? `(${other.approval}) ` : ""}already has the hostname{" "}
        {host.hostname} with a different agent key. Approve only if this machine
        was reinstalled or its agent key was replaced; approving rejects the
        other host.
      </Text>
    </Alert>
  );
}

function hasConflict(host: Host): boolean {
  return (
    host.conflict_with_host_id !== null &&
    host.conflict_with_host_id !== undefined
  );
}

/**
 * Returns the callback for a finished approval change, which shows a success notification and
 * reloads the host queries.
 */
function useApprovalDone(host: Host) {
  const queryClient = useQueryClient();
  return (verb: string) => {
    notifySuccess(`${host.hostname} ${verb}.`);
    void queryClient.invalidateQueries({ queryKey: ["hosts"] });
    void queryClient.invalidateQueries({ queryKey: ["host", host.id] });
  };
}

/**
 * Returns the mutation that approves `host`. On a hostname conflict the request replaces the
 * other host, which the server then rejects.
 */
function useApproveHost(host: Host) {
  const api = useApi();
  const onDone = useApprovalDone(host);
  return useMutation({
    mutationFn: () => approveHost(api, host.id, hasConflict(host)),
    onSuccess: () => onDone("approved"),
    onError: (error) =>
      notifyError(`Failed to approve ${host.hostname}`, error),
  });
}

/**
 * Approve button of a pending host for a place of the page that needs approval first, such as
 * the update actions. Orange with a warning icon when approving replaces another host.
 */
export function ApproveHostButton({
  host,
  purpose,
}: {
  host: Host;
  /** End of the accessible name, such as "to install updates". */
  purpose: string;
}) {
  const approve = useApproveHost(host);
  const conflict = hasConflict(host);
  return (
    <Button
      size="xs"
      variant="light"
      color={conflict ? "orange" : "blue"}
      leftSection={conflict ? <IconAlertTriangle size={14} /> : undefined}
      loading={approve.isPending}
      onClick={() => approve.mutate()}
      aria-label={`Approve ${host.hostname} ${purpose}`}
    >
      Approve
    </Button>
  );
}

/** Approve and reject buttons of a pending host. */
export function HostApprovalActions({
  host,
  compact = false,
}: {
  host: Host;
  compact?: boolean;
}) {
  const api = useApi();
  const conflict = hasConflict(host);
  const onDone = useApprovalDone(host);
  const approve = useApproveHost(host);
  const reject = useMutation({
    mutationFn: () => rejectHost(api, host.id),
    onSuccess: () => onDone("rejected"),
    onError: (error) => notifyError(`Failed to reject ${host.hostname}`, error),
  });

  if (host.approval !== "pending") {
    return null;
  }
  const size = compact ? "xs" : "sm";
  return (
    <Group gap="xs" wrap="nowrap">
      <Button
        size={size}
        color={conflict ? "orange" : "blue"}
        leftSection={conflict ? <IconAlertTriangle size={14} /> : undefined}
        loading={approve.isPending}
        disabled={reject.isPending}
        onClick={(event) => {
          event.stopPropagation();
          approve.mutate();
        }}
        aria-label={`Approve ${host.hostname}`}
      >
        Approve
      </Button>
      <Button
        size={size}
        variant="default"
        loading={reject.isPending}
        disabled={approve.isPending}
        onClick={(event) => {
          event.stopPropagation();
          reject.mutate();
        }}
        aria-label={`Reject ${host.hostname}`}
      >
        Reject
      </Button>
    </Group>
  );
}
