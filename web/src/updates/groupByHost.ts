import type { Update } from "../api/types";

/** Groups selected updates by host, for one install request per host. */
export function groupByHost(updates: Update[]): Map<number, Update[]> {
  const groups = new Map<number, Update[]>();
  for (const update of updates) {
    const group = groups.get(update.host_id) ?? [];
    group.push(update);
    groups.set(update.host_id, group);
  }
  return groups;
}
