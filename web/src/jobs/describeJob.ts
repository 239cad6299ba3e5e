import type { Job } from "../api/types";

/** Describes what a job installs: its package count, or "all" / "security updates". */
export function describeJob(job: Job): string {
  const request = job.request as
    | { all?: boolean; security_only?: boolean; packages?: unknown[] }
    | undefined;
  if (job.kind === "all" || request?.all) {
    return "all updates";
  }
  if (job.kind === "security_only" || request?.security_only) {
    return "security updates";
  }
  const count = job.packages?.length ?? request?.packages?.length;
  return count === undefined
    ? "packages"
    : `${count} package${count === 1 ? "" : "s"}`;
}
