import {
  Alert,
  Anchor,
  Badge,
  Card,
  Code,
  Group,
  Loader,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { IconArrowLeft } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useApi } from "../api/ApiContext";
import { getJob } from "../api/endpoints";
import type { Job, JobState } from "../api/types";
import { JobStateBadge } from "../components/badges";
import { isJobFinished } from "../components/jobStates";
import { EmptyState, ErrorAlert, QueryState } from "../components/QueryState";
import { RelativeTime } from "../components/RelativeTime";
import { describeJob } from "./describeJob";

/** Progress bar value per state: queued, delivered to the agent, installing, done. */
const PROGRESS: Record<JobState, number> = {
  queued: 10,
  sent: 35,
  running: 65,
  succeeded: 100,
  failed: 100,
  expired: 100,
};

const OUTCOME_COLORS: Record<string, string> = {
  installed: "green",
  failed: "red",
  not_attempted: "gray",
  pending: "blue",
};

function JobProgress({ job }: { job: Job }) {
  const finished = isJobFinished(job.state);
  let color = "blue";
  if (job.state === "succeeded") {
    color = "green";
  } else if (finished) {
    color = "red";
  }
  return (
    <Stack gap={4}>
      <Progress
        value={PROGRESS[job.state] ?? 0}
        color={color}
        animated={!finished}
        striped={!finished}
        aria-label="Job progress"
      />
      <Group gap={6}>
        {!finished && <Loader size="xs" />}
        <Text size="sm" c="dimmed">
          {job.state === "queued" &&
            "Waiting for the agent to connect and take the job."}
          {job.state === "sent" && "Delivered to the agent."}
          {job.state === "running" && "The agent is installing."}
          {job.state === "succeeded" && "Finished successfully."}
          {job.state === "failed" && "Finished with errors."}
          {job.state === "expired" &&
            "Expired before the host came back online."}
        </Text>
      </Group>
    </Stack>
  );
}

export function JobDetailPage() {
  const api = useApi();
  const rawId = useParams().jobId;
  const jobId = Number(rawId);
  const job = useQuery({
    queryKey: ["job", jobId],
    queryFn: () => getJob(api, jobId),
    enabled: Number.isInteger(jobId),
  });

  if (!Number.isInteger(jobId)) {
    return (
      <ErrorAlert title="Invalid job" error={`"${rawId}" is not a job id.`} />
    );
  }

  return (
    <Stack>
      <Anchor component={Link} to="/jobs" size="sm">
        <Group gap={4}>
          <IconArrowLeft size={14} /> All jobs
        </Group>
      </Anchor>
      <QueryState query={job} label="the job">
        {job.data && (
          <Stack>
            <Group>
              <Title order={2}>Job {job.data.id}</Title>
              <JobStateBadge state={job.data.state} />
              {job.data.reboot_required && (
                <Badge color="grape" variant="light">
                  reboot required
                </Badge>
              )}
            </Group>
            <JobProgress job={job.data} />
            {job.data.failure?.message && (
              <Alert
                color="red"
                title={`Failure: ${job.data.failure.kind ?? "error"}`}
              >
                {job.data.failure.message}
              </Alert>
            )}
            <SimpleGrid cols={{ base: 1, md: 2 }}>
              <Card withBorder>
                <Table withRowBorders={false} verticalSpacing={4}>
                  <Table.Tbody>
                    <Table.Tr>
                      <Table.Th w={140}>Host</Table.Th>
                      <Table.Td>
                        <Link to={`/hosts/${job.data.host_id}`}>
                          {job.data.hostname ?? `host ${job.data.host_id}`}
                        </Link>
                      </Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Th>Installs</Table.Th>
                      <Table.Td>{describeJob(job.data)}</Table.Td>
                    </Table.Tr>
                    {(
                      [
                        ["Created", job.data.created_at],
                        ["Sent", job.data.sent_at],
                        ["Started", job.data.started_at],
                        ["Finished", job.data.finished_at],
                      ] as const
                    ).map(([label, value]) => (
                      <Table.Tr key={label}>
                        <Table.Th>{label}</Table.Th>
                        <Table.Td>
                          <RelativeTime value={value} empty="—" />
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Card>
              <Card withBorder>
                <Title order={5} mb="xs">
                  Packages
                </Title>
                {(job.data.packages ?? []).length === 0 ? (
                  <EmptyState>
                    The package list is known once the agent reports the result.
                  </EmptyState>
                ) : (
                  <Table data-testid="job-packages">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Package</Table.Th>
                        <Table.Th>Requested</Table.Th>
                        <Table.Th>Installed</Table.Th>
                        <Table.Th>Outcome</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {(job.data.packages ?? []).map((result) => (
                        <Table.Tr key={`${result.manager}/${result.name}`}>
                          <Table.Td>
                            {result.name}{" "}
                            <Text span size="xs" c="dimmed">
                              {result.manager}
                            </Text>
                          </Table.Td>
                          <Table.Td>
                            {result.requested_version ?? "latest"}
                          </Table.Td>
                          <Table.Td>{result.installed_version ?? "—"}</Table.Td>
                          <Table.Td>
                            <Badge
                              color={OUTCOME_COLORS[result.outcome] ?? "gray"}
                              variant="light"
                            >
                              {result.outcome}
                            </Badge>
                            {result.message && (
                              <Text size="xs" c="dimmed">
                                {result.message}
                              </Text>
                            )}
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                )}
              </Card>
            </SimpleGrid>
            <Card withBorder>
              <Title order={5} mb="xs">
                Output
              </Title>
              {job.data.output_tail ? (
                <Code
                  block
                  data-testid="job-output"
                  style={{ maxHeight: 400, overflow: "auto" }}
                >
                  {job.data.output_tail}
                </Code>
              ) : (
                <EmptyState>
                  {isJobFinished(job.data.state)
                    ? "The job produced no output."
                    : "Output appears when the job finishes."}
                </EmptyState>
              )}
            </Card>
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
