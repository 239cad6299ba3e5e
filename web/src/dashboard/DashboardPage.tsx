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
import { getSummary, listJobs } from "../api/endpoints";
import type { Job, Summary } from "../api/types";
import { JobStateBadge } from "../components/badges";
import { EmptyState, QueryState } from "../components/QueryState";
import { RelativeTime } from "../components/RelativeTime";
import { parseTime } from "../components/time";
import { useNow } from "../components/useNow";

/** Jobs that failed within this many milliseconds count as recent. */
const RECENT_FAILURE_MS = 24 * 60 * 60 * 1000;

/**
 * Refetch interval of the summary, in milliseconds. Live events refetch it when hosts, updates
 * or jobs change, but no event marks a failed job leaving the 24-hour window.
 */
const SUMMARY_REFETCH_MS = 60_000;

interface Stat {
  label: string;
  value: number;
  link: string;
  color?: string;
}

function fleetStats(summary: Summary): Stat[] {
  return [
    {
      label: "Hosts up",
      value: summary.hosts.up,
      link: "/hosts?status=up",
      color: "green",
    },
    {
      label: "Hosts down",
      value: summary.hosts.down,
      link: "/hosts?status=down",
      color: "red",
    },
    {
      label: "Pending approval",
      value: summary.hosts.pending,
      link: "/hosts?approval=pending",
      color: "yellow",
    },
    {
      label: "Hosts with pending updates",
      value: summary.hosts.with_pending_updates,
      link: "/updates",
    },
    {
      label: "Pending security updates",
      value: summary.updates.security,
      link: "/updates?security=true",
      color: "orange",
    },
    {
      label: "Hosts needing reboot",
      value: summary.hosts.reboot_required,
      link: "/hosts",
    },
    {
      label: "Hosts with failed scans",
      value: summary.hosts.update_error,
      link: "/hosts",
      color: "red",
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
  const summary = useQuery({
    queryKey: ["summary"],
    queryFn: () => getSummary(api),
    refetchInterval: SUMMARY_REFETCH_MS,
  });
  const jobs = useQuery({
    queryKey: ["jobs", "all"],
    queryFn: () => listJobs(api),
  });

  // The tables list the open and recently failed jobs among the newest page of jobs, and the
  // counts in their headers come from the summary, which covers every job.
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
  const jobCounts = summary.data?.jobs;
  const activeCount =
    jobCounts === undefined
      ? active.length
      : jobCounts.queued + jobCounts.sent + jobCounts.running;
  const failedCount = jobCounts?.failed_last_24h ?? failed.length;

  return (
    <Stack>
      <Title order={2}>Dashboard</Title>
      <QueryState query={summary} label="fleet summary">
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {summary.data !== undefined &&
            fleetStats(summary.data).map((stat) => (
              <StatCard key={stat.label} stat={stat} />
            ))}
        </SimpleGrid>
      </QueryState>
      <QueryState query={jobs} label="jobs">
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Card withBorder>
            <Group justify="space-between" mb="xs">
              <Title order={4}>Jobs in progress</Title>
              <Text c="dimmed" data-testid="count-jobs-in-progress">
                {activeCount}
              </Text>
            </Group>
            <JobTable jobs={active} empty="No job is queued or running." />
          </Card>
          <Card withBorder>
            <Group justify="space-between" mb="xs">
              <Title order={4}>Failed in the last 24 hours</Title>
              <Text c="dimmed" data-testid="count-jobs-failed">
                {failedCount}
              </Text>
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
