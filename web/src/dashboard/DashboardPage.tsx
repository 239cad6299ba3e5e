import {
  Anchor,
  Card,
  Group,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useApi } from "../api/ApiContext";
import { listHosts, listJobs } from "../api/endpoints";
import type { Host, Job } from "../api/types";
import { JobStateBadge } from "../components/badges";
import { EmptyState, QueryState } from "../components/QueryState";
import { RelativeTime } from "../components/RelativeTime";
import { parseTime } from "../components/time";
import { useNow } from "../components/useNow";

/** Jobs that failed within this many milliseconds count as recent. */
const RECENT_FAILURE_MS = 24 * 60 * 60 * 1000;

interface Stat {
  label: string;
  value: number;
  link: string;
  color?: string;
}

function fleetStats(hosts: Host[]): Stat[] {
  const approved = hosts.filter((host) => host.approval === "approved");
  const count = (predicate: (host: Host) => boolean) =>
    approved.filter(predicate).length;
  return [
    {
      label: "Hosts up",
      value: count((host) => host.status === "up"),
      link: "/hosts?status=up",
      color: "green",
    },
    {
      label: "Hosts down",
      value: count((host) => host.status === "down"),
      link: "/hosts?status=down",
      color: "red",
    },
    {
      label: "Pending approval",
      value: hosts.filter((host) => host.approval === "pending").length,
      link: "/hosts?approval=pending",
      color: "yellow",
    },
    {
      label: "Hosts with pending updates",
      value: count((host) => host.pending_updates > 0),
      link: "/updates",
    },
    {
      label: "Pending security updates",
      value: approved.reduce((sum, host) => sum + host.security_updates, 0),
      link: "/updates?security=true",
      color: "orange",
    },
    {
      label: "Hosts needing reboot",
      value: count((host) => host.reboot_required),
      link: "/hosts",
    },
  ];
}

function StatCard({ stat }: { stat: Stat }) {
  return (
    <Card
      withBorder
      padding="md"
      component={Link}
      to={stat.link}
      data-testid={`stat-${stat.label}`}
    >
      <Text size="sm" c="dimmed">
        {stat.label}
      </Text>
      <Text fz={32} fw={700} c={stat.value > 0 ? stat.color : undefined}>
        {stat.value}
      </Text>
    </Card>
  );
}

function JobTable({ jobs, empty }: { jobs: Job[]; empty: string }) {
  if (jobs.length === 0) {
    return <EmptyState>{empty}</EmptyState>;
  }
  return (
    <Table>
      <Table.Tbody>
        {jobs.map((job) => (
          <Table.Tr key={job.id}>
            <Table.Td>
              <Anchor component={Link} to={`/jobs/${job.id}`}>
                Job {job.id}
              </Anchor>
            </Table.Td>
            <Table.Td>
              <Anchor component={Link} to={`/hosts/${job.host_id}`}>
                {job.hostname ?? `host ${job.host_id}`}
              </Anchor>
            </Table.Td>
            <Table.Td>
              <JobStateBadge state={job.state} />
            </Table.Td>
            <Table.Td>
              <RelativeTime
                value={job.finished_at ?? job.started_at ?? job.created_at}
              />
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function DashboardPage() {
  const api = useApi();
  const hosts = useQuery({
    queryKey: ["hosts", "all"],
    queryFn: () => listHosts(api),
  });
  const jobs = useQuery({
    queryKey: ["jobs", "all"],
    queryFn: () => listJobs(api),
  });

  const now = useNow(60_000);
  const jobItems = jobs.data?.items ?? [];
  const active = jobItems.filter((job) =>
    ["queued", "sent", "running"].includes(job.state),
  );
  const failed = jobItems.filter((job) => {
    const finished = parseTime(job.finished_at);
    return (
      job.state === "failed" &&
      finished !== null &&
      now - finished.valueOf() < RECENT_FAILURE_MS
    );
  });

  return (
    <Stack>
      <Title order={2}>Dashboard</Title>
      <QueryState query={hosts} label="hosts">
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {fleetStats(hosts.data?.items ?? []).map((stat) => (
            <StatCard key={stat.label} stat={stat} />
          ))}
        </SimpleGrid>
      </QueryState>
      <QueryState query={jobs} label="jobs">
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Card withBorder>
            <Group justify="space-between" mb="xs">
              <Title order={4}>Jobs in progress</Title>
              <Text c="dimmed">{active.length}</Text>
            </Group>
            <JobTable jobs={active} empty="No job is queued or running." />
          </Card>
          <Card withBorder>
            <Group justify="space-between" mb="xs">
              <Title order={4}>Failed in the last 24 hours</Title>
              <Text c="dimmed">{failed.length}</Text>
            </Group>
            <JobTable
              jobs={failed}
              empty="No job failed in the last 24 hours."
            />
          </Card>
        </SimpleGrid>
      </QueryState>
    </Stack>
  );
}
