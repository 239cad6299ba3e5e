import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiClient } from "../api/client";
import { createFakeServer } from "../test/fakeServer";
import { renderWithProviders } from "../test/render";
import { SignedInProbe } from "../test/SignedInProbe";
import { TEST_USERS } from "../test/users";
import { UsersPage } from "./UsersPage";

async function renderUsersAs(userid: string) {
  const server = createFakeServer({
    "GET /users": () => ({ body: TEST_USERS }),
  });
  const api = new ApiClient({ fetch: server.fetch });
  await api.login(userid, "secret");
  renderWithProviders(
    <>
      <SignedInProbe />
      <UsersPage />
    </>,
    { api, path: "/users" },
  );
  await screen.findByText(`signed in as ${userid}`);
  return screen.getByRole("row", { name: /viewer/ });
}

const ROW_ACTIONS = ["Edit", "Deactivate", "Delete"];

describe("UsersPage", () => {
  it("shows user management to administrators", async () => {
    const viewerRow = await renderUsersAs("admin");

    expect(
      screen.getByRole("button", { name: "New user" }),
    ).toBeInTheDocument();
    for (const name of ROW_ACTIONS) {
      expect(
        within(viewerRow).getByRole("button", { name }),
      ).toBeInTheDocument();
    }
  });

  it("hides user management from read-only users", async () => {
    const viewerRow = await renderUsersAs("viewer");

    expect(
      screen.queryByRole("button", { name: "New user" }),
    ).not.toBeInTheDocument();
    for (const name of ROW_ACTIONS) {
      expect(screen.queryByRole("button", { name })).not.toBeInTheDocument();
    }
    expect(within(viewerRow).getByText("read-only")).toBeInTheDocument();
  });
});
