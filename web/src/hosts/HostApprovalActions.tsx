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

/** Approve and reject buttons of a pending host. */
export function HostApprovalActions({
  host,
  compact = false,
}: {
  host: Host;
  compact?: boolean;
}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const conflict =
    host.conflict_with_host_id !== null &&
    host.conflict_with_host_id !== undefined;

  const onDone = (verb: string) => {
    notifySuccess(`${host.hostname} ${verb}.`);
    void queryClient.invalidateQueries({ queryKey: ["hosts"] });
    void queryClient.invalidateQueries({ queryKey: ["host", host.id] });
  };
  const approve = useMutation({
    mutationFn: () => approveHost(api, host.id, conflict),
    onSuccess: () => onDone("approved"),
    onError: (error) =>
      notifyError(`Failed to approve ${host.hostname}`, error),
  });
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
