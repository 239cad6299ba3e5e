import type { HostEvent } from "../api/types";
import { parseTime } from "../components/time";

export type Availability = "up" | "down" | "unknown";

/** A stretch of time with one availability, in Unix milliseconds. */
export interface Period {
  state: Availability;
  start: number;
  end: number;
}

/**
 * Turns a host's up/down events into consecutive periods covering `[from, to]`. Time before the
 * first up/down event in the window takes the state of the last event before the window, or
 * `unknown` without one. Other event kinds (registered, approved) do not change availability.
 */
export function availabilityPeriods(
  events: HostEvent[],
  from: number,
  to: number,
): Period[] {
  const transitions = events
    .filter((event) => event.kind === "up" || event.kind === "down")
    .map((event) => ({
      state: event.kind as Availability,
      at: parseTime(event.at)?.valueOf() ?? NaN,
    }))
    .filter((event) => Number.isFinite(event.at))
    .sort((a, b) => a.at - b.at);

  let state: Availability = "unknown";
  for (const transition of transitions) {
    if (transition.at <= from) {
      state = transition.state;
    }
  }

  const periods: Period[] = [];
  let start = from;
  for (const transition of transitions) {
    if (transition.at <= from || transition.at > to) {
      continue;
    }
    if (transition.state !== state) {
      if (transition.at > start) {
        periods.push({ state, start, end: transition.at });
      }
      state = transition.state;
      start = transition.at;
    }
  }
  periods.push({ state, start, end: to });
  return periods;
}

/** Returns the share of known time (up or down) that was up, from 0 to 1, or null if none is known. */
export function uptimeRatio(periods: Period[]): number | null {
  let up = 0;
  let known = 0;
  for (const period of periods) {
    const length = period.end - period.start;
    if (period.state !== "unknown") {
      known += length;
    }
    if (period.state === "up") {
      up += length;
    }
  }
  return known === 0 ? null : up / known;
}
