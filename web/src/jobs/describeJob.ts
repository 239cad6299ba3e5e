import type { Job, SkipReason } from "../api/types";

/** Describes what a job installs: its package count, or "all updates" / "security updates". */
export function describeJob(job: Job): string {
  const mode = job.request?.mode;
  if (mode === "all") {
    return "all updates";
  }
  if (mode === "security_only") {
    return "security updates";
  }
  const count = job.request?.packages?.length ?? job.packages?.length;
  return count === undefined
    ? "packages"
    : `${count} package${count === 1 ? "" : "s"}`;
}

const SKIP_REASONS: Record<SkipReason, string> = {
  not_found: "the host no longer exists",
  not_approved: "the host is not approved",
  duplicate: "an identical job is still queued or running",
};

/**
 * Describes why `POST /jobs` created no job for a host, naming the identical job of a
 * `duplicate`. An unknown reason code shows unchanged.
 */
export function describeSkipReason(skip: {
  reason: string;
  job_id?: number;
}): string {
  if (skip.reason === "duplicate" && skip.job_id !== undefined) {
    return `identical job ${skip.job_id} is still queued or running`;
  }
  return SKIP_REASONS[skip.reason as SkipReason] ?? skip.reason;
}
