import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import type { Host } from "../api/types";
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
