import { describe, expect, it } from "vitest";
import type { Update } from "../api/types";
import { batchByRequest } from "./installBatches";

let nextId = 1;

function update(hostId: number, name: string, version: string): Update {
  return {
    id: nextId++,
    host_id: hostId,
    manager: "apt",
    name,
    new_version: version,
    security: false,
    status: "available",
  };
}

describe("batchByRequest", () => {
  it("puts hosts with equal packages together", () => {
    const batches = batchByRequest([
      update(1, "openssl", "3.0.15"),
      update(2, "curl", "7.88.1"),
      update(2, "openssl", "3.0.15"),
      update(1, "curl", "7.88.1"),
      update(3, "openssl", "3.0.15"),
    ]);

    expect(batches).toEqual([
      {
        hostIds: [1, 2],
        packages: [
          { manager: "apt", name: "curl", version: "7.88.1" },
          { manager: "apt", name: "openssl", version: "3.0.15" },
        ],
      },
      {
        hostIds: [3],
        packages: [{ manager: "apt", name: "openssl", version: "3.0.15" }],
      },
    ]);
  });

  it("separates hosts whose versions differ", () => {
    const batches = batchByRequest([
      update(1, "openssl", "3.0.15"),
      update(2, "openssl", "3.0.13"),
    ]);

    expect(batches.map((batch) => batch.hostIds)).toEqual([[1], [2]]);
  });

  it("separates hosts whose managers differ", () => {
    const snap = { ...update(2, "openssl", "3.0.15"), manager: "snap" };
    const batches = batchByRequest([update(1, "openssl", "3.0.15"), snap]);

    expect(batches.map((batch) => batch.hostIds)).toEqual([[1], [2]]);
  });

  it("returns nothing for no selection", () => {
    expect(batchByRequest([])).toEqual([]);
  });
});
