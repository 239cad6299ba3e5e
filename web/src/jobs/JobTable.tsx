import { Group, Loader } from "@mantine/core";
import { DataTable } from "mantine-datatable";
import { Link, useNavigate } from "react-router";
import type { Job } from "../api/types";
import { JobStateBadge } from "../components/badges";
import { isJobFinished } from "../components/jobStates";
import { RelativeTime } from "../components/RelativeTime";
import { describeJob } from "./describeJob";

export function JobTable({
  jobs,
  fetching,
  showHost = true,
}: {
  jobs: Job[];
  fetching: boolean;
  showHost?: boolean;
}) {
  const navigate = useNavigate();
  return (
    <DataTable<Job>
      withTableBorder
      highlightOnHover
      minHeight={150}
      records={jobs}
      fetching={fetching}
      noRecordsText="No jobs yet."
      onRowClick={({ record }) => navigate(`/jobs/${record.id}`)}
      columns={[
        {
          accessor: "id",
          title: "Job",
          render: (job) => (
            <Link
              to={`/jobs/${job.id}`}
              onClick={(event) => event.stopPropagation()}
            >
              {job.id}
            </Link>
          ),
        },
        {
          accessor: "host_id",
          title: "Host",
          hidden: !showHost,
          render: (job) => (
            <Link
              to={`/hosts/${job.host_id}`}
              onClick={(event) => event.stopPropagation()}
            >
              {job.hostname ?? `host ${job.host_id}`}
            </Link>
          ),
        },
        { accessor: "kind", title: "Installs", render: describeJob },
        {
          accessor: "state",
          render: (job) => (
            <Group gap={6} wrap="nowrap">
              <JobStateBadge state={job.state} />
              {!isJobFinished(job.state) && (
                <Loader size="xs" aria-label="in progress" />
              )}
            </Group>
          ),
        },
        {
          accessor: "created_at",
          title: "Created",
          render: (job) => <RelativeTime value={job.created_at} />,
        },
        {
          accessor: "finished_at",
          title: "Finished",
          render: (job) => <RelativeTime value={job.finished_at} empty="—" />,
        },
      ]}
    />
  );
}
