import { useQuery } from "@tanstack/react-query";
import { useApi } from "../api/ApiContext";
import { listJobs } from "../api/endpoints";
import { ErrorAlert } from "../components/QueryState";
import { JobTable } from "./JobTable";

export function HostJobs({ hostId }: { hostId: number }) {
  const api = useApi();
  const jobs = useQuery({
    queryKey: ["jobs", { hostId }],
    queryFn: () => listJobs(api, { hostId }),
  });
  if (jobs.isError) {
    return (
      <ErrorAlert
        title="Failed to load jobs"
        error={jobs.error}
        onRetry={() => void jobs.refetch()}
      />
    );
  }
  const items = (jobs.data?.items ?? []).filter(
    (job) => job.host_id === hostId,
  );
  return <JobTable jobs={items} fetching={jobs.isFetching} showHost={false} />;
}
