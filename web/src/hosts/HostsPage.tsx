import {
  Badge,
  Group,
  Select,
  Stack,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import {
  IconAlertTriangle,
  IconRefreshAlert,
  IconSearch,
} from "@tabler/icons-react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { DataTable, type DataTableSortStatus } from "mantine-datatable";
import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useApi } from "../api/ApiContext";
import { listHosts } from "../api/endpoints";
import type { Host } from "../api/types";
import { useCurrentUser } from "../auth/useCurrentUser";
import { ApprovalBadge, HostStatusBadge } from "../components/badges";
import { ErrorAlert } from "../components/QueryState";
import { RelativeTime } from "../components/RelativeTime";
import { BulkInstall } from "./BulkInstall";
import { HostApprovalActions } from "./HostApprovalActions";

const PAGE_SIZES = [10, 25, 50, 100];

/** Columns the server can sort by, mapped from the table's column accessors. */
const SORTABLE: Record<string, string> = {
  hostname: "hostname",
  status: "status",
  last_seen_at: "last_seen_at",
  id: "id",
};

export function HostsPage() {
  const api = useApi();
  const navigate = useNavigate();
  const { isAdmin } = useCurrentUser();
  const [searchParams, setSearchParams] = useSearchParams();
  const status = searchParams.get("status");
  const approval = searchParams.get("approval");
  const [search, setSearch] = useState(searchParams.get("hostname") ?? "");
  const [hostname] = useDebouncedValue(search.trim(), 300);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(25);
  const [sortStatus, setSortStatus] = useState<DataTableSortStatus<Host>>({
    columnAccessor: "hostname",
    direction: "asc",
  });
  // Kept across pages, so that hosts from several pages can be updated together.
  const [selected, setSelected] = useState<Host[]>([]);

  const sort = `${sortStatus.direction === "desc" ? "-" : ""}${SORTABLE[String(sortStatus.columnAccessor)] ?? "hostname"}`;
  const filter = {
    page,
    perPage: pageSize,
    sort,
    status: status ?? undefined,
    approval: approval ?? undefined,
    hostname,
  };
  const hosts = useQuery({
    queryKey: ["hosts", "page", filter],
    queryFn: () => listHosts(api, filter),
    placeholderData: keepPreviousData,
  });

  const setFilter = (key: string, value: string | null) => {
    const next = new URLSearchParams(searchParams);
    if (value) {
      next.set(key, value);
    } else {
      next.delete(key);
    }
    setSearchParams(next, { replace: true });
    setPage(1);
    setSelected([]);
  };

  return (
    <Stack>
      <Title order={2}>Hosts</Title>
      <Group>
        <TextInput
          placeholder="Search hostname"
          leftSection={<IconSearch size={16} />}
          value={search}
          onChange={(event) => {
            setSearch(event.currentTarget.value);
            setPage(1);
            setSelected([]);
          }}
          aria-label="Search hostname"
        />
        <Select
          placeholder="Any status"
          aria-label="Status"
          clearable
          data={["up", "down", "unknown"]}
          value={status}
          onChange={(value) => setFilter("status", value)}
        />
        <Select
          placeholder="Any approval"
          aria-label="Approval"
          clearable
          data={["pending", "approved", "rejected"]}
          value={approval}
          onChange={(value) => setFilter("approval", value)}
        />
      </Group>
      {isAdmin && (
        <BulkInstall
          hosts={selected}
          onClearSelection={() => setSelected([])}
        />
      )}
      {hosts.isError && (
        <ErrorAlert
          title="Failed to load hosts"
          error={hosts.error}
          onRetry={() => void hosts.refetch()}
        />
      )}
      <DataTable<Host>
        withTableBorder
        highlightOnHover
        minHeight={180}
        records={hosts.data?.items ?? []}
        fetching={hosts.isFetching}
        loaderBackgroundBlur={1}
        totalRecords={hosts.data?.total ?? 0}
        recordsPerPage={pageSize}
        page={page}
        onPageChange={setPage}
        recordsPerPageOptions={PAGE_SIZES}
        onRecordsPerPageChange={(size) => {
          setPageSize(size);
          setPage(1);
        }}
        sortStatus={sortStatus}
        onSortStatusChange={(next) => {
          setSortStatus(next);
          setPage(1);
        }}
        noRecordsText={
          hosts.isError
            ? "Hosts could not be loaded."
            : "No hosts match. Install the agent on a host to see it here."
        }
        onRowClick={({ record }) => navigate(`/hosts/${record.id}`)}
        {...(isAdmin && {
          selectedRecords: selected,
          onSelectedRecordsChange: setSelected,
          // Only approved hosts can install; the server would skip the others.
          isRecordSelectable: (host: Host) => host.approval === "approved",
          allRecordsSelectionCheckboxProps: {
            "aria-label": "Select all hosts on this page",
          },
          getRecordSelectionCheckboxProps: (host: Host) => ({
            "aria-label": `Select ${host.hostname}`,
          }),
        })}
        columns={[
          {
            accessor: "hostname",
            sortable: true,
            render: (host) => (
              <Stack gap={2}>
                <Group gap={6} wrap="nowrap">
                  <Link
                    to={`/hosts/${host.id}`}
                    onClick={(event) => event.stopPropagation()}
                  >
                    {host.hostname}
                  </Link>
                  {host.conflict_with_host_id != null && (
                    <Tooltip label="Another host with a different agent key already has this hostname.">
                      <Badge
                        color="orange"
                        size="sm"
                        leftSection={<IconAlertTriangle size={12} />}
                        data-testid="conflict-badge"
                      >
                        conflict
                      </Badge>
                    </Tooltip>
                  )}
                </Group>
                <Text size="xs" c="dimmed">
                  {host.fqdn}
                </Text>
              </Stack>
            ),
          },
          {
            accessor: "status",
            sortable: true,
            render: (host) => <HostStatusBadge status={host.status} />,
          },
          {
            accessor: "last_seen_at",
            title: "Last seen",
            sortable: true,
            render: (host) => <RelativeTime value={host.last_seen_at} />,
          },
          {
            accessor: "os",
            title: "OS",
            render: (host) => `${host.os_name} ${host.os_version}`.trim(),
          },
          { accessor: "pending_updates", title: "Updates", textAlign: "right" },
          {
            accessor: "security_updates",
            title: "Security",
            textAlign: "right",
            render: (host) => (
              <Text
                c={host.security_updates > 0 ? "orange" : undefined}
                size="sm"
              >
                {host.security_updates}
              </Text>
            ),
          },
          {
            accessor: "reboot_required",
            title: "Reboot",
            render: (host) =>
              host.reboot_required ? (
                <Badge
                  color="grape"
                  variant="light"
                  leftSection={<IconRefreshAlert size={12} />}
                >
                  required
                </Badge>
              ) : null,
          },
          {
            accessor: "approval",
            render: (host) =>
              isAdmin && host.approval === "pending" ? (
                <HostApprovalActions host={host} compact />
              ) : (
                <ApprovalBadge approval={host.approval} />
              ),
          },
        ]}
      />
    </Stack>
  );
}
