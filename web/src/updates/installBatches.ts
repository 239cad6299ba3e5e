import type { Update } from "../api/types";

/** A package of an install request, pinned to the version the user saw. */
export interface PackageRequest {
  manager: string;
  name: string;
  version: string;
}

/** Hosts that get the same package request, so that one `POST /jobs` call covers them all. */
export interface InstallBatch {
  hostIds: number[];
  packages: PackageRequest[];
}

/** Groups selected updates by host. */
export function groupByHost(updates: Update[]): Map<number, Update[]> {
  const groups = new Map<number, Update[]>();
  for (const update of updates) {
    const group = groups.get(update.host_id) ?? [];
    group.push(update);
    groups.set(update.host_id, group);
  }
  return groups;
}

function compareText(left: string, right: string): number {
  if (left === right) {
    return 0;
  }
  return left < right ? -1 : 1;
}

function comparePackages(left: PackageRequest, right: PackageRequest): number {
  return (
    compareText(left.manager, right.manager) ||
    compareText(left.name, right.name) ||
    compareText(left.version, right.version)
  );
}

/**
 * Groups selected updates into batches of hosts whose package requests are equal, in the order
 * the hosts first appear. `POST /jobs` sends one request to every host it lists, so hosts whose
 * selected packages or versions differ end up in separate batches.
 */
export function batchByRequest(updates: Update[]): InstallBatch[] {
  const batches = new Map<string, InstallBatch>();
  for (const [hostId, hostUpdates] of groupByHost(updates)) {
    const packages = hostUpdates
      .map((update) => ({
        manager: update.manager,
        name: update.name,
        version: update.new_version,
      }))
      .sort(comparePackages);
    // JSON of the sorted list is an unambiguous key, whatever characters the names contain.
    const key = JSON.stringify(packages);
    const batch = batches.get(key);
    if (batch) {
      batch.hostIds.push(hostId);
    } else {
      batches.set(key, { hostIds: [hostId], packages });
    }
  }
  return [...batches.values()];
}
