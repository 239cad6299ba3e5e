import type { Job } from "../api/types";

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
