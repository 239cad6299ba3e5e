import { Group, Select, Stack, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { useApi } from "../api/ApiContext";
import { listJobs } from "../api/endpoints";
import { ErrorAlert } from "../components/QueryState";
import { JobTable } from "./JobTable";

const STATES = ["queued", "sent", "running", "succeeded", "failed", "expired"];

export function JobsPage() {
  const api = useApi();
  const [searchParams, setSearchParams] = useSearchParams();
  const state = searchParams.get("state");
  const jobs = useQuery({
    queryKey: ["jobs", { state }],
    queryFn: () => listJobs(api, { state: state ?? undefined }),
  });
  const items = (jobs.data?.items ?? []).filter(
    (job) => state === null || job.state === state,
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Jobs</Title>
        <Select
          placeholder="Any state"
          aria-label="State"
          clearable
          data={STATES}
          value={state}
          onChange={(value) =>
            setSearchParams(value ? { state: value } : {}, { replace: true })
          }
        />
      </Group>
      {jobs.isError && (
        <ErrorAlert
          title="Failed to load jobs"
          error={jobs.error}
          onRetry={() => void jobs.refetch()}
        />
      )}
      <JobTable jobs={items} fetching={jobs.isFetching} />
    </Stack>
  );
}
