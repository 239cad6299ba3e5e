import {
  Badge,
  Button,
  Group,
  Progress,
  SegmentedControl,
  Select,
  Stack,
  Text,
  Title,
} from "@mantine/core";
import { IconDownload } from "@tabler/icons-react";
import {
  keepPreviousData,
  useQuery,
  useQueryClient,
} from "@tanstack/react-query";
import { DataTable } from "mantine-datatable";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useApi } from "../api/ApiContext";
import {
  getHost,
  installOnHosts,
  listHosts,
  listUpdates,
} from "../api/endpoints";
import type { Update, UpdateStatus } from "../api/types";
import { useCurrentUser } from "../auth/useCurrentUser";
import { UpdateStatusBadge } from "../components/badges";
import {
  isSelectableForInstall,
  UPDATE_STATUSES,
} from "../components/updateStatuses";
import { notifyError, notifySuccess } from "../components/notify";
import { ErrorAlert } from "../components/QueryState";
import { describeSkipReason } from "../jobs/describeJob";
import { batchByRequest, groupByHost } from "./installBatches";

/** Hosts offered by the host filter: the first ones, by hostname, that match the search. */
const HOST_OPTION_LIMIT = 20;
/** Delay after the last keystroke before the host filter searches, in milliseconds. */
const HOST_SEARCH_DELAY_MS = 250;
/** Hostnames named in the error notification of one failed batch; the rest are counted. */
const NAMED_HOSTS = 5;

interface InstallProgress {
  done: number;
  total: number;
  failed: string[];
  jobIds: number[];
}

export function UpdatesPage() {
  const api = useApi();
  const queryClient = useQueryClient();
  const { isAdmin } = useCurrentUser();
  const [searchParams, setSearchParams] = useSearchParams();
  const hostParam = searchParams.get("host_id");
  const hostId = hostParam === null ? undefined : Number(hostParam);
  const manager = searchParams.get("manager") ?? undefined;
  const statusParam = searchParams.get("status");
  const status = Object.hasOwn(UPDATE_STATUSES, statusParam ?? "")
    ? (statusParam as UpdateStatus)
    : undefined;
  const securityParam = searchParams.get("security");
  const security =
    securityParam === null ? undefined : securityParam === "true";
  const [selected, setSelected] = useState<Update[]>([]);
  const [progress, setProgress] = useState<InstallProgress | null>(null);

  const [hostSearch, setHostSearch] = useState("");
  const [debouncedHostSearch] = useDebouncedValue(
    hostSearch.trim(),
    HOST_SEARCH_DELAY_MS,
  );

  // The server filters hosts by name, so the filter works however many hosts there are.
  const hostOptions = useQuery({
    queryKey: ["hosts", "search", debouncedHostSearch],
    queryFn: () =>
      listHosts(api, {
        hostname: debouncedHostSearch,
        perPage: HOST_OPTION_LIMIT,
      }),
    placeholderData: keepPreviousData,
  });
  // The selected host may not be among the search results, but the filter needs its name.
  const selectedHost = useQuery({
    queryKey: ["host", hostId],
    queryFn: () => getHost(api, hostId ?? 0),
    enabled: hostId !== undefined && Number.isInteger(hostId),
  });
  const updates = useQuery({
    queryKey: ["updates", { hostId, manager, security, status }],
    queryFn: () => listUpdates(api, { hostId, manager, security, status }),
    placeholderData: keepPreviousData,
  });
  const items = updates.data?.items ?? [];
  const hostnames = new Map<number, string>();
  for (const host of hostOptions.data?.items ?? []) {
    hostnames.set(host.id, host.hostname);
  }
  if (selectedHost.data !== undefined) {
    hostnames.set(selectedHost.data.id, selectedHost.data.hostname);
  }
  for (const update of items) {
    if (update.hostname) {
      hostnames.set(update.host_id, update.hostname);
    }
  }
  const hostChoices = (hostOptions.data?.items ?? []).map((host) => ({
    value: String(host.id),
    label: host.hostname,
  }));
  if (
    selectedHost.data !== undefined &&
    !hostChoices.some((choice) => choice.value === hostParam)
  ) {
    hostChoices.push({
      value: String(selectedHost.data.id),
      label: selectedHost.data.hostname,
    });
  }
  const managers = [
    ...new Set(
      items.map((update) => update.manager).concat(manager ? [manager] : []),
    ),
  ].sort();

  const setFilter = (key: string, value: string | null) => {
    const next = new URLSearchParams(searchParams);
    if (value) {
      next.set(key, value);
    } else {
      next.delete(key);
    }
    setSearchParams(next, { replace: true });
    setSelected([]);
  };

  const hostname = (hostId: number) =>
    hostnames.get(hostId) ?? `host ${hostId}`;

  const installSelected = async () => {
    const batches = batchByRequest(selected);
    const state: InstallProgress = {
      done: 0,
      total: groupByHost(selected).size,
      failed: [],
      jobIds: [],
    };
    setProgress({ ...state });
    // Hosts with equal package requests share one POST /jobs call. The calls run one after
    // another, because the API client queue serializes them anyway.
    for (const batch of batches) {
      try {
        const result = await installOnHosts(api, {
          host_ids: batch.hostIds,
          packages: batch.packages,
        });
        state.jobIds.push(...result.jobs.map((job) => job.job_id));
        for (const skip of result.skipped) {
          state.failed.push(
            `${hostname(skip.host_id)} (${describeSkipReason(skip)})`,
          );
        }
      } catch (error) {
        const names = batch.hostIds.map(hostname);
        state.failed.push(...names);
        const named = names.slice(0, NAMED_HOSTS).join(", ");
        const more =
          names.length > NAMED_HOSTS
            ? ` and ${names.length - NAMED_HOSTS} more hosts`
            : "";
        notifyError(`Failed to start the install on ${named}${more}`, error);
      }
      state.done += batch.hostIds.length;
      setProgress({ ...state });
    }
    setSelected([]);
    void queryClient.invalidateQueries({ queryKey: ["jobs"] });
    if (state.jobIds.length > 0) {
      notifySuccess(
        `${state.jobIds.length} install job${state.jobIds.length === 1 ? "" : "s"} queued.`,
      );
    }
  };

  const installing = progress !== null && progress.done < progress.total;
  const selectedHosts = groupByHost(selected).size;

  return (
    <Stack>
      <Title order={2}>Updates</Title>
      <Group>
        <Select
          placeholder="All hosts"
          aria-label="Host"
          clearable
          searchable
          searchValue={hostSearch}
          onSearchChange={setHostSearch}
          // The server already matched the search, so show its results as they are.
          filter={({ options }) => options}
          nothingFoundMessage={
            hostOptions.isFetching ? "Searching…" : "No host matches"
          }
          data={hostChoices}
          value={hostParam}
          onChange={(value) => setFilter("host_id", value)}
        />
        <Select
          placeholder="All managers"
          aria-label="Package manager"
          clearable
          data={managers}
          value={manager ?? null}
          onChange={(value) => setFilter("manager", value)}
        />
        <Select
          placeholder="All statuses"
          aria-label="Status"
          clearable
          data={Object.entries(UPDATE_STATUSES).map(([value, { label }]) => ({
            value,
            label,
          }))}
          renderOption={({ option }) => (
            <Stack gap={0}>
              <Text size="sm">{option.label}</Text>
              <Text size="xs" c="dimmed" maw={320}>
                {UPDATE_STATUSES[option.value as UpdateStatus].description}
              </Text>
            </Stack>
          )}
          value={status ?? null}
          onChange={(value) => setFilter("status", value)}
        />
        <SegmentedControl
          aria-label="Security"
          value={securityParam ?? "any"}
          onChange={(value) =>
            setFilter("security", value === "any" ? null : value)
          }
          data={[
            { value: "any", label: "All" },
            { value: "true", label: "Security" },
            { value: "false", label: "Other" },
          ]}
        />
        {isAdmin && (
          <Button
            leftSection={<IconDownload size={16} />}
            disabled={selected.length === 0 || installing}
            onClick={() => void installSelected()}
          >
            Install {selected.length} selected on {selectedHosts} host
            {selectedHosts === 1 ? "" : "s"}
          </Button>
        )}
      </Group>
      {progress && (
        <Stack gap={4} data-testid="install-progress">
          <Progress
            value={(progress.done / Math.max(progress.total, 1)) * 100}
            animated={installing}
          />
          <Text size="sm" c="dimmed">
            {installing
              ? `Starting installs: ${progress.done} of ${progress.total} hosts…`
              : `Queued ${progress.jobIds.length} job${progress.jobIds.length === 1 ? "" : "s"}`}
            {progress.failed.length > 0 &&
              `; failed on ${progress.failed.join(", ")}`}
            {!installing && progress.jobIds.length > 0 && (
              <>
                {" "}
                (<Link to="/jobs">see jobs</Link>)
              </>
            )}
          </Text>
        </Stack>
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
        highlightOnHover
        minHeight={180}
        records={items}
        fetching={updates.isFetching}
        idAccessor={(update) =>
          `${update.host_id}/${update.manager}/${update.name}/${update.architecture ?? ""}`
        }
        {...(isAdmin && {
          selectedRecords: selected,
          onSelectedRecordsChange: setSelected,
          isRecordSelectable: (update: Update) =>
            isSelectableForInstall(update.status),
        })}
        noRecordsText="No pending updates match. Hosts report their updates after approval."
        columns={[
          {
            accessor: "host_id",
            title: "Host",
            render: (update) => (
              <Link to={`/hosts/${update.host_id}`}>
                {update.hostname ??
                  hostnames.get(update.host_id) ??
                  update.host_id}
              </Link>
            ),
          },
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
        ]}
      />
    </Stack>
  );
}
