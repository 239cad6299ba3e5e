import type { JobState } from "../api/types";

export const FINISHED_JOB_STATES: readonly JobState[] = [
  "succeeded",
  "failed",
  "expired",
];

export function isJobFinished(state: JobState): boolean {
  return FINISHED_JOB_STATES.includes(state);
}
