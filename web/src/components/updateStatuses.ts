/** Update statuses as the pages show them. */

import type { UpdateStatus } from "../api/types";

/** Label, color and meaning of each update status, for the status badge and filter. */
export const UPDATE_STATUSES: Record<
  UpdateStatus,
  { label: string; color: string; description: string }
> = {
  available: {
    label: "available",
    color: "green",
    description: "An upgrade installs it now.",
  },
  held: {
    label: "held",
    color: "gray",
    description:
      "On hold by an administrator (a hold, pin or lock), or the package manager cannot " +
      "upgrade it by this name. Install all and security-only installs leave it alone.",
  },
  deferred: {
    label: "deferred",
    color: "gray",
    description:
      "The package manager postpones it, for example during an apt phased rollout that " +
      "has not reached this host. Install all leaves it alone.",
  },
  kept_back: {
    label: "kept back",
    color: "yellow",
    description:
      "apt keeps it back because the new version needs an installed package removed. " +
      "Install all and security-only installs leave it alone; installing it by name " +
      "also removes the conflicting packages.",
  },
};

/**
 * Returns whether an administrator may select the update for an install by name: available
 * updates, and kept-back ones, whose install also removes the packages they conflict with.
 */
export function isSelectableForInstall(status: string): boolean {
  return status === "available" || status === "kept_back";
}
