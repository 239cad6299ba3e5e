import { Badge, Button, Group, Select, Text, Title } from "@mantine/core";
import {
  IconDownload,
  IconRefresh,
  IconShieldCheck,
} from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { DataTable } from "mantine-datatable";
import { useState } from "react";
import { Link } from "react-router";
import { useApi } from "../api/ApiContext";
import {
  installUpdates,
  listHostUpdates,
  refreshUpdates,
} from "../api/endpoints";
import type { Host, InstallRequest, Update, UpdateStatus } from "../api/types";
import { useCurrentUser } from "../auth/useCurrentUser";
import { UpdateStatusBadge } from "../components/badges";
import {
  isSelectableForInstall,
  UPDATE_STATUSES,
} from "../components/updateStatuses";
import { notifyError, notifySuccess } from "../components/notify";
import { ErrorAlert } from "../components/QueryState";
import { ApproveHostButton } from "./HostApprovalActions";

/**
 * Renders the pending updates of one host, with install and refresh actions for administrators.
 * Other users see the list without selection boxes or buttons, because the server rejects
 * their installs and refreshes with `admin_required`. On a host that is not approved the
 * server rejects both actions too, so administrators get a line saying so in their place.
 */
export function HostUpdates({ host }: { host: Host }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const { isAdmin } = useCurrentUser();
  const [selected, setSelected] = useState<Update[]>([]);
  const [status, setStatus] = useState<UpdateStatus | null>(null);
  const updates = useQuery({
    queryKey: ["host", host.id, "updates"],
    queryFn: () => listHostUpdates(api, host.id),
  });
  const items = updates.data ?? [];
  const filteredUpdates =
    status === null
      ? items
      : items.filter((update) => update.status === status);
  const securityCount = items.filter((update) => update.security).length;
  const approved = host.approval === "approved";
  const showUpdateActions = isAdmin && approved;

  const install = useMutation({
    mutationFn: (request: InstallRequest) =>
      installUpdates(api, host.id, request),
    onSuccess: (result) => {
      setSelected([]);
      notifySuccess(
        `Install job ${result.job_id} queued for ${host.hostname}.`,
      );
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
    },
    onError: (error) => notifyError("Failed to start the install", error),
  });
  const refresh = useMutation({
    mutationFn: () => refreshUpdates(api, host.id),
    onSuccess: () =>
      notifySuccess(`${host.hostname} was asked to check for updates.`),
    onError: (error) => notifyError("Failed to request an update check", error),
  });

  const busy = install.isPending;
  const installSelected = () =>
    install.mutate({
      packages: selected.map((update) => ({
        manager: update.manager,
        name: update.name,
        version: update.new_version,
      })),
    });

  return (
    <>
      <Group justify="space-between" mb="xs">
        <Title order={4}>
          Pending updates{" "}
          <Text span c="dimmed">
            ({items.length}, {securityCount} security)
          </Text>
        </Title>
        <Group gap="xs">
          <Select
            placeholder="All statuses"
            aria-label="Status"
            clearable
            data={Object.entries(UPDATE_STATUSES).map(([value, { label }]) => ({
              value,
              label,
            }))}
            value={status}
            onChange={(value) => {
              setStatus(value as UpdateStatus | null);
              setSelected([]);
            }}
          />
          {showUpdateActions && (
            <>
              <Button
                variant="default"
                leftSection={<IconRefresh size={16} />}
                loading={refresh.isPending}
                onClick={() => refresh.mutate()}
              >
                Check for updates now
              </Button>
              <Button
                leftSection={<IconDownload size={16} />}
                disabled={selected.length === 0 || busy}
                loading={
                  busy &&
                  install.variables !== undefined &&
                  "packages" in install.variables
                }
                onClick={installSelected}
              >
                Install selected ({selected.length})
              </Button>
              <Button
                color="orange"
                leftSection={<IconShieldCheck size={16} />}
                disabled={securityCount === 0 || busy}
                onClick={() => install.mutate({ security_only: true })}
              >
                Install security updates
              </Button>
              <Button
                variant="light"
                disabled={items.length === 0 || busy}
                onClick={() => install.mutate({ all: true })}
              >
                Install all
              </Button>
            </>
          )}
        </Group>
      </Group>
      {isAdmin && !approved && (
        <Group gap="xs" mb="xs">
          <Text size="sm" c="dimmed" data-testid="install-needs-approval">
            {host.approval === "rejected"
              ? "This host is rejected, so updates cannot be installed on it."
              : "Updates can be installed once the host is approved."}
          </Text>
          {host.approval === "pending" && (
            <ApproveHostButton host={host} purpose="to install updates" />
          )}
        </Group>
      )}
      {install.data && (
        <Text size="sm" mb="xs">
          Job{" "}
          <Link to={`/jobs/${install.data.job_id}`}>{install.data.job_id}</Link>{" "}
          is queued; its progress shows in the jobs below.
        </Text>
      )}
      {updates.isError && (
        <ErrorAlert
          title="Failed to load updates"
          error={updates.error}
          onRetry={() => void updates.refetch()}
        />
      )}
      <DataTable<Update>
        withTableBorder
        minHeight={150}
        records={filteredUpdates}
        fetching={updates.isFetching}
        idAccessor={(update) =>
          `${update.manager}/${update.name}/${update.architecture ?? ""}`
        }
        {...(showUpdateActions && {
          selectedRecords: selected,
          onSelectedRecordsChange: setSelected,
          isRecordSelectable: (update: Update) =>
            isSelectableForInstall(update.status),
        })}
        noRecordsText={
          approved
            ? "This host has no pending updates."
            : "Updates are reported once the host is approved."
        }
        columns={[
          { accessor: "name", title: "Package" },
          { accessor: "manager" },
          {
            accessor: "current_version",
            title: "Installed",
            render: (update) => update.current_version ?? "—",
          },
          { accessor: "new_version", title: "Available" },
          {
            accessor: "security",
            render: (update) =>
              update.security ? (
                <Badge color="orange" size="sm">
                  security
                </Badge>
              ) : null,
          },
          {
            accessor: "status",
            render: (update) => <UpdateStatusBadge status={update.status} />,
          },
          { accessor: "origin", render: (update) => update.origin ?? "" },
        ]}
      />
    </>
  );
}
