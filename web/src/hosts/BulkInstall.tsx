import { Alert, Button, Group, List, Modal, Stack, Text } from "@mantine/core";
import { IconDownload, IconShieldCheck, IconX } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { useApi } from "../api/ApiContext";
import { installOnHosts } from "../api/endpoints";
import type { BulkInstallResult, Host } from "../api/types";
import { notifySuccess } from "../components/notify";
import { describeSkipReason } from "../jobs/describeJob";

/** Install request form of a bulk install: security updates or all updates. */
export type BulkMode = "security_only" | "all";

/** Hostnames listed by name in the confirmation; the rest are counted. */
const LISTED_HOSTS = 10;

const MODE_TITLES: Record<BulkMode, string> = {
  security_only: "Install security updates",
  all: "Install all updates",
};

/** A finished bulk install, with the hostnames known when it was sent. */
interface Outcome {
  result: BulkInstallResult;
  hostnames: Map<number, string>;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/**
 * Actions on the hosts selected in the hosts table: install security updates or all updates on
 * every one of them through one `POST /jobs` call, after a confirmation that names the number of
 * hosts. Shows the jobs created and the hosts the server skipped.
 */
export function BulkInstall({
  hosts,
  onClearSelection,
}: {
  hosts: Host[];
  onClearSelection: () => void;
}) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<BulkMode | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  const install = useMutation({
    mutationFn: ({ mode, targets }: { mode: BulkMode; targets: Host[] }) =>
      installOnHosts(api, {
        host_ids: targets.map((host) => host.id),
        ...(mode === "all"
          ? { all: true as const }
          : { security_only: true as const }),
      }),
    onSuccess: (result, { targets }) => {
      setOutcome({
        result,
        hostnames: new Map(targets.map((host) => [host.id, host.hostname])),
      });
      setConfirming(null);
      onClearSelection();
      notifySuccess(`${plural(result.jobs.length, "install job")} created.`);
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
    },
  });

  const openConfirmation = (mode: BulkMode) => {
    install.reset();
    setConfirming(mode);
  };

  const closeConfirmation = () => {
    if (!install.isPending) {
      setConfirming(null);
    }
  };

  return (
    <Stack gap="xs">
      <Group data-testid="bulk-actions">
        <Text size="sm" c={hosts.length === 0 ? "dimmed" : undefined}>
          {hosts.length === 0
            ? "Select approved hosts to install updates on them."
            : `${plural(hosts.length, "host")} selected`}
        </Text>
        <Button
          color="orange"
          leftSection={<IconShieldCheck size={16} />}
          disabled={hosts.length === 0}
          onClick={() => openConfirmation("security_only")}
        >
          Install security updates
        </Button>
        <Button
          variant="light"
          leftSection={<IconDownload size={16} />}
          disabled={hosts.length === 0}
          onClick={() => openConfirmation("all")}
        >
          Install all updates
        </Button>
        {hosts.length > 0 && (
          <Button
            variant="subtle"
            leftSection={<IconX size={16} />}
            onClick={onClearSelection}
          >
            Clear selection
          </Button>
        )}
      </Group>
      {outcome && (
        <BulkInstallSummary
          outcome={outcome}
          onClose={() => setOutcome(null)}
        />
      )}
      <Modal
        opened={confirming !== null}
        onClose={closeConfirmation}
        title={confirming ? MODE_TITLES[confirming] : ""}
      >
        {confirming && (
          <Confirmation
            mode={confirming}
            hosts={hosts}
            pending={install.isPending}
            error={install.error}
            onCancel={closeConfirmation}
            onConfirm={() =>
              install.mutate({ mode: confirming, targets: [...hosts] })
            }
          />
        )}
      </Modal>
    </Stack>
  );
}

function Confirmation({
  mode,
  hosts,
  pending,
  error,
  onCancel,
  onConfirm,
}: {
  mode: BulkMode;
  hosts: Host[];
  pending: boolean;
  error: Error | null;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const withUpdates = hosts.filter((host) =>
    mode === "all" ? host.pending_updates > 0 : host.security_updates > 0,
  ).length;
  const what = mode === "all" ? "all pending updates" : "security updates";
  const listed = hosts.slice(0, LISTED_HOSTS);

  return (
    <Stack data-testid="bulk-confirmation">
      <Text>
        Install {what} on <strong>{plural(hosts.length, "host")}</strong>?
      </Text>
      <Text size="sm" c="dimmed">
        {withUpdates} of them reported {what} at their last check. Each host
        gets its own job, and a host that is offline gets it when it reconnects.
      </Text>
      <List size="sm">
        {listed.map((host) => (
          <List.Item key={host.id}>{host.hostname}</List.Item>
        ))}
        {hosts.length > listed.length && (
          <List.Item>and {hosts.length - listed.length} more</List.Item>
        )}
      </List>
      {error && (
        <Alert color="red" title="Failed to create the install jobs">
          {error.message}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onCancel} disabled={pending}>
          Cancel
        </Button>
        <Button
          color={mode === "all" ? undefined : "orange"}
          loading={pending}
          onClick={onConfirm}
        >
          Install on {plural(hosts.length, "host")}
        </Button>
      </Group>
    </Stack>
  );
}

function BulkInstallSummary({
  outcome,
  onClose,
}: {
  outcome: Outcome;
  onClose: () => void;
}) {
  const { jobs, skipped } = outcome.result;
  const sent = jobs.filter((job) => job.state === "sent").length;
  const queued = jobs.length - sent;
  const hostname = (hostId: number) =>
    outcome.hostnames.get(hostId) ?? `host ${hostId}`;

  return (
    <Alert
      color={skipped.length > 0 ? "yellow" : "green"}
      title={`Created ${plural(jobs.length, "install job")}`}
      withCloseButton
      closeButtonLabel="Dismiss"
      onClose={onClose}
      data-testid="bulk-result"
    >
      <Stack gap={4}>
        <Text size="sm">
          {sent} sent to connected hosts, {queued} queued until their host
          connects. <Link to="/jobs">See the jobs</Link>
        </Text>
        {skipped.length > 0 && (
          <>
            <Text size="sm">Skipped {plural(skipped.length, "host")}:</Text>
            <List size="sm">
              {skipped.map((skip) => (
                <List.Item key={skip.host_id}>
                  {hostname(skip.host_id)}: {describeSkipReason(skip)}
                </List.Item>
              ))}
            </List>
          </>
        )}
      </Stack>
    </Alert>
  );
}
