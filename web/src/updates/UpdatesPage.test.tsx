import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import type { Host, Update, User } from "../api/types";
import { useCurrentUser } from "../auth/useCurrentUser";
import { createFakeServer } from "../test/fakeServer";
import { renderWithProviders } from "../test/render";
import { UpdatesPage } from "./UpdatesPage";

function host(id: number, hostname: string): Host {
  return {
    id,
    hostname,
    fqdn: `${hostname}.example.test`,
    os_name: "Debian GNU/Linux",
    os_version: "12",
    kernel: "6.1.0",
    architecture: "x86_64",
    agent_version: "0.1.0",
    approval: "approved",
    status: "up",
    last_seen_at: new Date().toISOString(),
    reboot_required: false,
    pending_updates: 0,
    security_updates: 0,
  };
}

const HOSTS = [host(1, "web-1"), host(2, "web-2"), host(3, "db-1")];

describe("UpdatesPage host filter", () => {
  it("searches hosts by name on the server", async () => {
    const server = createFakeServer({
      "GET /hosts": (request) => {
        const search = new URL(request.path, "http://sysmanage.test");
        const hostname = search.searchParams.get("hostname") ?? "";
        const items = HOSTS.filter((candidate) =>
          candidate.hostname.includes(hostname),
        );
        return {
          body: { items, total: items.length, limit: 20, offset: 0 },
        };
      },
      "GET /updates": () => ({
        body: { items: [], total: 0, limit: 500, offset: 0 },
      }),
    });
    const api = new ApiClient({ fetch: server.fetch });
    await api.login("admin", "secret");
    renderWithProviders(<UpdatesPage />, { api, path: "/updates" });

    await userEvent.type(screen.getByRole("combobox", { name: "Host" }), "db");

    expect(
      await screen.findByRole("option", { name: "db-1", hidden: true }),
    ).toBeInTheDocument();
    await waitFor(() =>
      expect(
        screen.queryByRole("option", { name: "web-1", hidden: true }),
      ).not.toBeInTheDocument(),
    );
    const hostPaths = server.seen
      .map((request) => request.path)
      .filter((path) => path.startsWith("/hosts"));
    expect(hostPaths).toContain("/hosts?per_page=20&hostname=db");
    expect(hostPaths.every((path) => path.includes("per_page=20"))).toBe(true);
  });
});

function update(id: number, hostId: number, version: string): Update {
  return {
    id,
    host_id: hostId,
    hostname: HOSTS.find((candidate) => candidate.id === hostId)?.hostname,
    manager: "apt",
    name: "openssl",
    current_version: "3.0.11",
    new_version: version,
    security: true,
    status: "available",
  };
}

const UPDATES = [
  update(1, 1, "3.0.15"),
  update(2, 2, "3.0.15"),
  update(3, 3, "3.0.13"),
];

const USERS: User[] = [
  { id: 1, userid: "admin", is_admin: true, active: true },
  { id: 2, userid: "viewer", is_admin: false, active: true },
];

/** Shows when the signed-in user's record has loaded, from the query cache the page uses. */
function SignedInProbe() {
  const { user } = useCurrentUser();
  return user ? <p>signed in as {user.userid}</p> : null;
}

async function renderUpdates(
  userid: string,
  routes: Parameters<typeof createFakeServer>[0] = {},
) {
  const server = createFakeServer({
    "GET /hosts": () => ({ body: { items: HOSTS, total: HOSTS.length } }),
    "GET /updates": () => ({
      body: { items: UPDATES, total: UPDATES.length },
    }),
    "GET /users": () => ({ body: USERS }),
    ...routes,
  });
  const api = new ApiClient({ fetch: server.fetch });
  await api.login(userid, "secret");
  renderWithProviders(
    <>
      <SignedInProbe />
      <UpdatesPage />
    </>,
    { api, path: "/updates" },
  );
  await screen.findByText(`signed in as ${userid}`);
  await screen.findByRole("link", { name: "db-1" });
  return server;
}

describe("UpdatesPage install", () => {
  it("sends one request per distinct package set", async () => {
    const server = await renderUpdates("admin", {
      "POST /jobs": (request) => {
        const body = request.body as { host_ids: number[] };
        if (body.host_ids.includes(3)) {
          return {
            status: 409,
            body: {
              error: {
                code: "conflict",
                message: "none of the 1 hosts can install updates",
              },
            },
          };
        }
        return {
          status: 201,
          body: {
            jobs: [{ host_id: 1, job_id: 21, state: "sent" }],
            skipped: [{ host_id: 2, reason: "not_approved" }],
          },
        };
      },
    });

    await userEvent.click(
      screen.getByRole("checkbox", { name: "Select all records" }),
    );
    await userEvent.click(
      screen.getByRole("button", { name: "Install 3 selected on 3 hosts" }),
    );

    const progress = await screen.findByTestId("install-progress");
    await waitFor(() => expect(progress).toHaveTextContent("Queued 1 job"));
    expect(progress).toHaveTextContent(
      "failed on web-2 (the host is not approved), db-1",
    );
    expect(within(progress).getByRole("link", { name: "see jobs" }));
    const calls = server.seen.filter((request) => request.path === "/jobs");
    expect(calls.map((request) => request.body)).toEqual([
      {
        host_ids: [1, 2],
        packages: [{ manager: "apt", name: "openssl", version: "3.0.15" }],
      },
      {
        host_ids: [3],
        packages: [{ manager: "apt", name: "openssl", version: "3.0.13" }],
      },
    ]);
    expect(
      await screen.findByText("Failed to start the install on db-1"),
    ).toBeInTheDocument();
  });

  it("hides installs from read-only users", async () => {
    await renderUpdates("viewer");

    expect(screen.queryAllByRole("checkbox")).toHaveLength(0);
    expect(
      screen.queryByRole("button", { name: /^Install/ }),
    ).not.toBeInTheDocument();
  });
});

describe("UpdatesPage status filter", () => {
  it("asks the server for kept-back updates and lets them be selected", async () => {
    const keptBack: Update = {
      ...update(4, 1, "6.1.76-1"),
      name: "linux-image-amd64",
      status: "kept_back",
    };
    const server = await renderUpdates("admin", {
      "GET /updates": (request) => {
        const status = new URL(
          request.path,
          "http://sysmanage.test",
        ).searchParams.get("status");
        const items = status === "kept_back" ? [keptBack] : UPDATES;
        return { body: { items, total: items.length } };
      },
    });

    await userEvent.click(screen.getByRole("combobox", { name: "Status" }));
    await userEvent.click(
      await screen.findByRole("option", { name: /kept back/, hidden: true }),
    );

    expect(await screen.findByText("linux-image-amd64")).toBeInTheDocument();
    await waitFor(() =>
      expect(screen.queryByRole("link", { name: "db-1" })).toBeNull(),
    );
    const paths = server.seen
      .map((request) => request.path)
      .filter((path) => path.startsWith("/updates"));
    expect(paths.some((path) => path.includes("status=kept_back"))).toBe(true);
    expect(screen.getByTestId("update-status")).toHaveTextContent("kept back");
    await userEvent.click(
      screen.getByRole("checkbox", { name: "Select all records" }),
    );
    expect(
      screen.getByRole("button", { name: "Install 1 selected on 1 host" }),
    ).toBeEnabled();
  });
});
