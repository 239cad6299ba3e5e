import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import type { Host, Update } from "../api/types";
import { createFakeServer } from "../test/fakeServer";
import { renderWithProviders } from "../test/render";
import { SignedInProbe } from "../test/SignedInProbe";
import { TEST_USERS } from "../test/users";
import { HostDetailPage } from "./HostDetailPage";

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
    last_seen_at: new Date().toISOString(),
    reboot_required: false,
    pending_updates: 1,
    security_updates: 1,
    ...overrides,
  };
}

const HOSTS: Record<string, Host> = {
  "1": host({}),
  "3": host({ id: 3, hostname: "new-1", approval: "pending" }),
  "4": host({ id: 4, hostname: "old-1", approval: "rejected" }),
};

const UPDATES: Update[] = [
  {
    id: 10,
    host_id: 1,
    manager: "apt",
    name: "openssl",
    current_version: "3.0.13",
    new_version: "3.0.15",
    security: true,
    status: "available",
  },
];

/**
 * Opens the page of host `hostId` as `userid`, waits until the user and updates loaded, and
 * returns the fake server.
 */
async function renderHostAs(userid: string, hostId: number) {
  const server = createFakeServer({
    "GET /users": () => ({ body: TEST_USERS }),
    [`GET /hosts/${hostId}`]: () => ({ body: HOSTS[String(hostId)] }),
    [`GET /hosts/${hostId}/events`]: () => ({ body: [] }),
    [`GET /hosts/${hostId}/updates`]: () => ({
      body: hostId === 1 ? UPDATES : [],
    }),
    "GET /jobs": () => ({ body: [] }),
    [`POST /hosts/${hostId}/approve`]: () => ({
      body: { ...HOSTS[String(hostId)], approval: "approved" },
    }),
  });
  const api = new ApiClient({ fetch: server.fetch });
  await api.login(userid, "secret");
  renderWithProviders(
    <>
      <SignedInProbe />
      <HostDetailPage />
    </>,
    { api, path: `/hosts/${hostId}`, route: "/hosts/:hostId" },
  );
  await screen.findByText(`signed in as ${userid}`);
  await screen.findByRole("heading", { name: HOSTS[String(hostId)]!.hostname });
  if (hostId === 1) {
    await screen.findByRole("row", { name: /openssl/ });
  }
  return server;
}

const UPDATE_BUTTONS = [
  "Check for updates now",
  /^Install selected/,
  "Install security updates",
  "Install all",
];

describe("HostDetailPage for an administrator", () => {
  it("shows approve and reject on a pending host", async () => {
    await renderHostAs("admin", 3);

    expect(
      screen.getByRole("button", { name: "Approve new-1" }),
    ).toBeInTheDocument();
    expect(
      screen.getByRole("button", { name: "Reject new-1" }),
    ).toBeInTheDocument();
  });

  it.each([
    [3, "Updates can be installed once the host is approved.", true],
    [4, "This host is rejected, so updates cannot be installed on it.", false],
  ])(
    "replaces the update actions of unapproved host %i with a line",
    async (hostId, line, approvable) => {
      await renderHostAs("admin", hostId);

      for (const name of UPDATE_BUTTONS) {
        expect(screen.queryByRole("button", { name })).not.toBeInTheDocument();
      }
      expect(screen.queryAllByRole("checkbox")).toHaveLength(0);
      expect(screen.getByTestId("install-needs-approval")).toHaveTextContent(
        line,
      );
      const approve = screen.queryByRole("button", {
        name: /^Approve .* to install updates$/,
      });
      if (approvable) {
        expect(approve).toBeInTheDocument();
      } else {
        expect(approve).not.toBeInTheDocument();
      }
    },
  );

  it("approves a pending host from the update actions", async () => {
    const server = await renderHostAs("admin", 3);

    await userEvent.click(
      screen.getByRole("button", { name: "Approve new-1 to install updates" }),
    );
    await waitFor(() =>
      expect(
        server.seen.filter(
          (request) =>
            request.method === "POST" && request.path === "/hosts/3/approve",
        ),
      ).toHaveLength(1),
    );
  });

  it("shows the install and refresh actions", async () => {
    await renderHostAs("admin", 1);

    for (const name of UPDATE_BUTTONS) {
      expect(screen.getByRole("button", { name })).toBeInTheDocument();
    }
    const row = screen.getByRole("row", { name: /openssl/ });
    expect(within(row).getByRole("checkbox")).toBeEnabled();
    expect(
      screen.queryByTestId("install-needs-approval"),
    ).not.toBeInTheDocument();
  });
});

describe("HostDetailPage for a read-only user", () => {
  it("hides approve and reject on a pending host", async () => {
    await renderHostAs("viewer", 3);

    expect(
      screen.queryByRole("button", { name: "Approve new-1" }),
    ).not.toBeInTheDocument();
    expect(
      screen.queryByRole("button", { name: "Reject new-1" }),
    ).not.toBeInTheDocument();
    // The approval state still shows, as a badge.
    expect(screen.getByText("pending")).toBeInTheDocument();
  });

  it("hides the install and refresh actions", async () => {
    await renderHostAs("viewer", 1);

    for (const name of UPDATE_BUTTONS) {
      expect(screen.queryByRole("button", { name })).not.toBeInTheDocument();
    }
    expect(screen.queryAllByRole("checkbox")).toHaveLength(0);
    expect(screen.getByRole("row", { name: /openssl/ })).toBeInTheDocument();
  });
});
