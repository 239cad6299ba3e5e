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
};

/** Describes why `POST /jobs` created no job for a host. An unknown reason code shows unchanged. */
export function describeSkipReason(reason: string): string {
  return SKIP_REASONS[reason as SkipReason] ?? reason;
}
