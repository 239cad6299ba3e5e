import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import type { Host, User } from "../api/types";
import { useCurrentUser } from "../auth/useCurrentUser";
import { createFakeServer, type SeenRequest } from "../test/fakeServer";
import { renderWithProviders } from "../test/render";
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
    last_seen_at: new Date().toISOString(),
    reboot_required: false,
    pending_updates: 3,
    security_updates: 1,
    ...overrides,
  };
}

const HOSTS = [
  host({}),
  host({ id: 2, hostname: "web-2", security_updates: 0 }),
  host({ id: 3, hostname: "new-1", approval: "pending", status: "unknown" }),
];

const USERS: User[] = [
  { id: 1, userid: "admin", is_admin: true, active: true },
  { id: 2, userid: "viewer", is_admin: false, active: true },
];

type Routes = Parameters<typeof createFakeServer>[0];

/** Shows when the signed-in user's record has loaded, from the query cache the page uses. */
function SignedInProbe() {
  const { user } = useCurrentUser();
  return user ? <p>signed in as {user.userid}</p> : null;
}

async function renderAs(userid: string, routes: Routes = {}) {
  const server = createFakeServer({
    "GET /hosts": () => ({ body: { items: HOSTS, total: HOSTS.length } }),
    "GET /users": () => ({ body: USERS }),
    ...routes,
  });
  const api = new ApiClient({ fetch: server.fetch });
  await api.login(userid, "secret");
  renderWithProviders(
    <>
      <SignedInProbe />
      <HostsPage />
    </>,
    { api, path: "/hosts", route: "/hosts" },
  );
  await screen.findByText("web-2");
  await screen.findByText(`signed in as ${userid}`);
  return server;
}

function bulkCalls(server: { seen: SeenRequest[] }) {
  return server.seen.filter(
    (request) => request.method === "POST" && request.path === "/jobs",
  );
}

describe("HostsPage bulk install", () => {
  it("installs security updates on selected hosts", async () => {
    const server = await renderAs("admin", {
      "POST /jobs": () => ({
        status: 201,
        body: {
          jobs: [
            { host_id: 1, job_id: 11, state: "sent" },
            { host_id: 2, job_id: 12, state: "queued" },
          ],
          skipped: [],
        },
      }),
    });

    await userEvent.click(
      await screen.findByRole("checkbox", { name: "Select web-1" }),
    );
    await userEvent.click(
      screen.getByRole("checkbox", { name: "Select web-2" }),
    );
    expect(screen.getByText("2 hosts selected")).toBeInTheDocument();
    // Ticking a box does not open the host, which would leave the /hosts route.
    expect(
      screen.getByRole("checkbox", { name: "Select web-1" }),
    ).toBeChecked();

    await userEvent.click(
      screen.getByRole("button", { name: "Install security updates" }),
    );
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText("2 hosts")).toBeInTheDocument();
    expect(
      within(dialog).getByText(/1 of them reported security updates/),
    ).toBeInTheDocument();
    expect(bulkCalls(server)).toHaveLength(0);

    await userEvent.click(
      within(dialog).getByRole("button", { name: "Install on 2 hosts" }),
    );

    const result = await screen.findByTestId("bulk-result");
    expect(within(result).getByText("Created 2 install jobs")).toBeVisible();
    expect(
      within(result).getByText(/1 sent to connected hosts, 1 queued/),
    ).toBeInTheDocument();
    expect(
      within(result).getByRole("link", { name: "See the jobs" }),
    ).toHaveAttribute("href", "/jobs");
    const calls = bulkCalls(server);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toEqual({ host_ids: [1, 2], security_only: true });
    expect(screen.getByText(/Select approved hosts/)).toBeInTheDocument();
  });

  it("selects the approved hosts of the page", async () => {
    const server = await renderAs("admin", {
      "POST /jobs": () => ({
        status: 201,
        body: {
          jobs: [{ host_id: 1, job_id: 11, state: "sent" }],
          skipped: [{ host_id: 2, reason: "not_approved" }],
        },
      }),
    });

    await userEvent.click(
      await screen.findByRole("checkbox", {
        name: "Select all hosts on this page",
      }),
    );
    expect(screen.getByText("2 hosts selected")).toBeInTheDocument();
    expect(
      screen.getByRole("checkbox", { name: "Select new-1" }),
    ).toBeDisabled();

    await userEvent.click(
      screen.getByRole("button", { name: "Install all updates" }),
    );
    const dialog = await screen.findByRole("dialog");
    await userEvent.click(
      within(dialog).getByRole("button", { name: "Install on 2 hosts" }),
    );

    const result = await screen.findByTestId("bulk-result");
    expect(within(result).getByText("Created 1 install job")).toBeVisible();
    expect(within(result).getByText("Skipped 1 host:")).toBeInTheDocument();
    expect(
      within(result).getByText("web-2: the host is not approved"),
    ).toBeInTheDocument();
    expect(bulkCalls(server)[0]?.body).toEqual({
      host_ids: [1, 2],
      all: true,
    });
  });

  it("names the identical job of a skipped host", async () => {
    await renderAs("admin", {
      "POST /jobs": () => ({
        status: 201,
        body: {
          jobs: [{ host_id: 1, job_id: 11, state: "sent" }],
          skipped: [{ host_id: 2, reason: "duplicate", job_id: 9 }],
        },
      }),
    });

    await userEvent.click(
      await screen.findByRole("checkbox", {
        name: "Select all hosts on this page",
      }),
    );
    await userEvent.click(
      screen.getByRole("button", { name: "Install all updates" }),
    );
    const dialog = await screen.findByRole("dialog");
    await userEvent.click(
      within(dialog).getByRole("button", { name: "Install on 2 hosts" }),
    );

    const result = await screen.findByTestId("bulk-result");
    expect(within(result).getByText("Skipped 1 host:")).toBeInTheDocument();
    expect(
      within(result).getByText(
        "web-2: identical job 9 is still queued or running",
      ),
    ).toBeInTheDocument();
  });

  it("shows a conflict in the confirmation", async () => {
    await renderAs("admin", {
      "POST /jobs": () => ({
        status: 409,
        body: {
          error: {
            code: "conflict",
            message: "none of the 1 hosts can install updates",
          },
        },
      }),
    });

    await userEvent.click(
      await screen.findByRole("checkbox", { name: "Select web-1" }),
    );
    await userEvent.click(
      screen.getByRole("button", { name: "Install all updates" }),
    );
    const dialog = await screen.findByRole("dialog");
    await userEvent.click(
      within(dialog).getByRole("button", { name: "Install on 1 host" }),
    );

    expect(
      await within(dialog).findByText(
        "none of the 1 hosts can install updates",
      ),
    ).toBeInTheDocument();
    expect(screen.queryByTestId("bulk-result")).not.toBeInTheDocument();
    expect(screen.getByText("1 host selected")).toBeInTheDocument();
  });

  it("cancels without a request", async () => {
    const server = await renderAs("admin");

    await userEvent.click(
      await screen.findByRole("checkbox", { name: "Select web-1" }),
    );
    await userEvent.click(
      screen.getByRole("button", { name: "Install security updates" }),
    );
    const dialog = await screen.findByRole("dialog");
    await userEvent.click(
      within(dialog).getByRole("button", { name: "Cancel" }),
    );

    await waitFor(() =>
      expect(screen.queryByRole("dialog")).not.toBeInTheDocument(),
    );
    expect(bulkCalls(server)).toHaveLength(0);
    expect(screen.getByText("1 host selected")).toBeInTheDocument();
  });

  it("hides selection from read-only users", async () => {
    await renderAs("viewer");

    expect(screen.queryAllByRole("checkbox")).toHaveLength(0);
    expect(
      screen.queryByRole("button", { name: "Install security updates" }),
    ).not.toBeInTheDocument();
    expect(
      screen.queryByRole("button", { name: "Install all updates" }),
    ).not.toBeInTheDocument();
  });
});
