import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import type { Host } from "../api/types";
import { createFakeServer } from "../test/fakeServer";
import { renderWithProviders } from "../test/render";
import { SignedInProbe } from "../test/SignedInProbe";
import { TEST_USERS } from "../test/users";
import { HostsPage } from "./HostsPage";

function host(overrides: Partial<Host>): Host {
  return {
    id: 1,
    hostname: "web-1",
    fqdn: "web-1.example.test",
    os_name: "Debian GNU/Linux",
    os_version: "12",
    kernel: "6.1.0",
    architecture: "x86_64",
    agent_version: "0.1.0",
    approval: "approved",
    status: "up",
    last_seen_at: new Date(Date.now() - 5 * 60_000).toISOString(),
    reboot_required: false,
    pending_updates: 3,
    security_updates: 1,
    ...overrides,
  };
}

const HOSTS = [
  host({}),
  host({
    id: 2,
    hostname: "db-1",
    status: "down",
    reboot_required: true,
    security_updates: 0,
  }),
  host({
    id: 3,
    hostname: "web-1",
    approval: "pending",
    status: "unknown",
    conflict_with_host_id: 1,
    last_seen_at: null,
  }),
];

async function loggedInClient(
  routes: Parameters<typeof createFakeServer>[0],
  userid = "admin",
) {
  const server = createFakeServer({
    "GET /users": () => ({ body: TEST_USERS }),
    ...routes,
  });
  const api = new ApiClient({ fetch: server.fetch });
  await api.login(userid, "secret");
  return { server, api };
}

describe("HostsPage", () => {
  it("renders hosts from the API", async () => {
    const { api } = await loggedInClient({
      "GET /hosts": () => ({
        body: { items: HOSTS, total: 3, limit: 25, offset: 0 },
      }),
    });
    renderWithProviders(<HostsPage />, { api });

    expect(await screen.findByText("db-1")).toBeInTheDocument();
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows).toHaveLength(3);
    expect(within(rows[0]!).getByText("5 minutes ago")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("down")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("required")).toBeInTheDocument();
    expect(within(rows[2]!).getByText("never")).toBeInTheDocument();
  });

  it("warns about a hostname conflict", async () => {
    const { api } = await loggedInClient({
      "GET /hosts": () => ({ body: { items: HOSTS, total: 3 } }),
    });
    renderWithProviders(<HostsPage />, { api });

    expect(await screen.findByTestId("conflict-badge")).toBeInTheDocument();
    expect(
      await screen.findAllByRole("button", { name: "Approve web-1" }),
    ).toHaveLength(1);
  });

  it("shows approve and reject to administrators", async () => {
    const { api } = await loggedInClient({
      "GET /hosts": () => ({ body: { items: HOSTS, total: 3 } }),
    });
    renderWithProviders(
      <>
        <SignedInProbe />
        <HostsPage />
      </>,
      { api },
    );
    await screen.findByText("signed in as admin");
    await screen.findByText("db-1");

    const pendingRow = screen.getAllByRole("row")[3]!;
    expect(
      within(pendingRow).getByRole("button", { name: "Approve web-1" }),
    ).toBeInTheDocument();
    expect(
      within(pendingRow).getByRole("button", { name: "Reject web-1" }),
    ).toBeInTheDocument();
  });

  it("hides approve and reject from read-only users", async () => {
    const { api } = await loggedInClient(
      { "GET /hosts": () => ({ body: { items: HOSTS, total: 3 } }) },
      "viewer",
    );
    renderWithProviders(
      <>
        <SignedInProbe />
        <HostsPage />
      </>,
      { api },
    );
    await screen.findByText("signed in as viewer");
    await screen.findByText("db-1");

    expect(
      screen.queryByRole("button", { name: /^(Approve|Reject) / }),
    ).not.toBeInTheDocument();
    const pendingRow = screen.getAllByRole("row")[3]!;
    expect(within(pendingRow).getByText("pending")).toBeInTheDocument();
  });

  it("sends sort and filters to the server", async () => {
    const { api, server } = await loggedInClient({
      "GET /hosts": () => ({ body: { items: HOSTS, total: 3 } }),
    });
    renderWithProviders(<HostsPage />, { api, path: "/hosts?status=down" });
    await screen.findByText("db-1");

    const first = server.seen.find((request) =>
      request.path.startsWith("/hosts"),
    );
    expect(first?.path).toContain("status=down");
    expect(first?.path).toContain("sort=hostname");

    await userEvent.click(screen.getByText("Hostname"));
    await waitFor(() =>
      expect(server.seen.at(-1)?.path).toContain("sort=-hostname"),
    );
  });

  it("approves a pending host", async () => {
    const { api, server } = await loggedInClient({
      "GET /hosts": () => ({ body: { items: HOSTS, total: 3 } }),
      "POST /hosts/3/approve": () => ({ body: {} }),
    });
    renderWithProviders(<HostsPage />, { api });

    await userEvent.click(
      await screen.findByRole("button", { name: "Approve web-1" }),
    );

    await waitFor(() =>
      expect(
        server.seen.some((request) => request.path === "/hosts/3/approve"),
      ).toBe(true),
    );
    const approval = server.seen.find(
      (request) => request.path === "/hosts/3/approve",
    );
    // A conflicting host is approved with replace, which rejects the old one.
    expect(approval?.body).toEqual({ replace: true });
  });

  it("shows an empty state", async () => {
    const { api } = await loggedInClient({
      "GET /hosts": () => ({ body: [] }),
    });
    renderWithProviders(<HostsPage />, { api });
    expect(await screen.findByText(/No hosts match/)).toBeInTheDocument();
  });

  it("shows a load error", async () => {
    const { api } = await loggedInClient({
      "GET /hosts": () => ({
        status: 500,
        body: { error: { code: "internal", message: "database error" } },
      }),
    });
    renderWithProviders(<HostsPage />, { api });
    expect(await screen.findByText("Failed to load hosts")).toBeInTheDocument();
    expect(screen.getByText("database error")).toBeInTheDocument();
  });
});
