import { screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import type { Job, Summary } from "../api/types";
import { createFakeServer } from "../test/fakeServer";
import { renderWithProviders } from "../test/render";
import { DashboardPage } from "./DashboardPage";

/** A summary of a fleet larger than one page of `GET /hosts`, with every count different. */
const SUMMARY: Summary = {
  hosts: {
    total: 2612,
    approved: 2540,
    pending: 61,
    rejected: 11,
    up: 2401,
    down: 117,
    unknown: 22,
    with_pending_updates: 1830,
    with_security_updates: 644,
    reboot_required: 93,
    update_error: 17,
  },
  updates: {
    pending: 20480,
    security: 3307,
    by_status: {
      available: { total: 20480, security: 3307 },
      held: { total: 12, security: 2 },
      deferred: { total: 40, security: 0 },
      kept_back: { total: 3, security: 1 },
    },
  },
  jobs: { queued: 4, sent: 3, running: 5, failed_last_24h: 8 },
  generated_at: new Date().toISOString(),
};

function job(overrides: Partial<Job>): Job {
  return {
    id: 1,
    host_id: 1,
    hostname: "web-1",
    state: "running",
    created_at: new Date(Date.now() - 60_000).toISOString(),
    ...overrides,
  };
}

async function loggedInClient(routes: Parameters<typeof createFakeServer>[0]) {
  const server = createFakeServer(routes);
  const api = new ApiClient({ fetch: server.fetch });
  await api.login("admin", "secret");
  return { server, api };
}

describe("DashboardPage", () => {
  it("shows the counts of GET /summary", async () => {
    const { server, api } = await loggedInClient({
      "GET /summary": () => ({ body: SUMMARY }),
      "GET /jobs": () => ({
        body: {
          items: [
            job({ id: 7, state: "running" }),
            job({
              id: 6,
              state: "failed",
              finished_at: new Date(Date.now() - 3_600_000).toISOString(),
            }),
          ],
          total: 2,
          limit: 500,
          offset: 0,
        },
      }),
    });
    renderWithProviders(<DashboardPage />, { api });

    const expected: [string, string][] = [
      ["stat-Hosts up", "2401"],
      ["stat-Hosts down", "117"],
      ["stat-Pending approval", "61"],
      ["stat-Hosts with pending updates", "1830"],
      ["stat-Pending security updates", "3307"],
      ["stat-Hosts needing reboot", "93"],
      ["stat-Hosts with failed scans", "17"],
    ];
    for (const [testId, value] of expected) {
      expect(await screen.findByTestId(testId)).toHaveTextContent(value);
    }
    expect(await screen.findByText("Job 7")).toBeInTheDocument();
    expect(screen.getByTestId("count-jobs-in-progress")).toHaveTextContent(
      "12",
    );
    expect(screen.getByTestId("count-jobs-failed")).toHaveTextContent("8");

    const paths = server.seen.map((request) => request.path);
    expect(paths).toContain("/summary");
    expect(paths.some((path) => path.startsWith("/hosts"))).toBe(false);
  });

  it("shows an error when the summary fails", async () => {
    const { api } = await loggedInClient({
      "GET /summary": () => ({
        status: 500,
        body: { error: { code: "internal", message: "database error" } },
      }),
      "GET /jobs": () => ({
        body: { items: [], total: 0, limit: 500, offset: 0 },
      }),
    });
    renderWithProviders(<DashboardPage />, { api });

    expect(
      await screen.findByText("Failed to load fleet summary"),
    ).toBeInTheDocument();
    await waitFor(() =>
      expect(screen.getByTestId("count-jobs-in-progress")).toHaveTextContent(
        "0",
      ),
    );
  });
});
