import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { ApiClient, TOKEN_HEADER } from "../api/client";
import { renderWithProviders } from "../test/render";
import { LoginPage } from "./LoginPage";

function clientAnswering(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const requests: { url: string; body: unknown }[] = [];
  const api = new ApiClient({
    fetch: async (input, init) => {
      requests.push({
        url: String(input),
        body: JSON.parse(String(init?.body)),
      });
      return new Response(JSON.stringify(body), { status, headers });
    },
  });
  return { api, requests };
}

describe("LoginPage", () => {
  it("logs in and leaves the page", async () => {
    const { api, requests } = clientAnswering(200, {
      [TOKEN_HEADER]: "first-token",
    });
    renderWithProviders(<LoginPage />, {
      api,
      path: "/login",
      route: "/login",
    });

    await userEvent.type(screen.getByLabelText(/User ID/), "admin");
    await userEvent.type(screen.getByLabelText(/Password/), "secret");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));

    await waitFor(() => expect(api.isAuthenticated).toBe(true));
    expect(requests).toEqual([
      { url: "/login", body: { userid: "admin", password: "secret" } },
    ]);
  });

  it("shows wrong credentials", async () => {
    const { api } = clientAnswering(401, {
      error: { code: "invalid_credentials" },
    });
    renderWithProviders(<LoginPage />, {
      api,
      path: "/login",
      route: "/login",
    });

    await userEvent.type(screen.getByLabelText(/User ID/), "admin");
    await userEvent.type(screen.getByLabelText(/Password/), "wrong");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));

    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Invalid user ID or password.",
    );
    expect(api.isAuthenticated).toBe(false);
  });

  it("disables submit until both fields are filled", async () => {
    const { api } = clientAnswering(200, {});
    renderWithProviders(<LoginPage />, {
      api,
      path: "/login",
      route: "/login",
    });
    const submit = screen.getByRole("button", { name: "Log in" });

    expect(submit).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/User ID/), "admin");
    expect(submit).toBeDisabled();
    await userEvent.type(screen.getByLabelText(/Password/), "x");
    expect(submit).toBeEnabled();
  });

  it("never stores the token in browser storage", async () => {
    const { api } = clientAnswering(200, { [TOKEN_HEADER]: "first-token" });
    renderWithProviders(<LoginPage />, {
      api,
      path: "/login",
      route: "/login",
    });
    await userEvent.type(screen.getByLabelText(/User ID/), "admin");
    await userEvent.type(screen.getByLabelText(/Password/), "secret");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    await waitFor(() => expect(api.isAuthenticated).toBe(true));

    const stored = [
      ...Object.values(localStorage),
      ...Object.values(sessionStorage),
      document.cookie,
    ].join(" ");
    expect(stored).not.toContain("first-token");
  });
});
