import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { describe, expect, it } from "vitest";
import { ApiClient, TOKEN_HEADER } from "../api/client";
import { Providers } from "../Providers";
import { createQueryClient } from "../queryClient";
import { renderWithProviders } from "../test/render";
import { LoginPage } from "./LoginPage";
import { UI_BASENAME } from "./nextPath";
import { RequireAuth } from "./RequireAuth";

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

/** Shows the router location, so that tests can read where a redirect led. */
function LocationProbe() {
  const location = useLocation();
  return (
    <p data-testid="location">
      {location.pathname}
      {location.search}
    </p>
  );
}

/** Renders the login page and one protected page the way the app routes them under /ui. */
function renderProtectedApp(api: ApiClient, url: string) {
  const queryClient = createQueryClient();
  return render(
    <MemoryRouter basename={UI_BASENAME} initialEntries={[url]}>
      <Providers api={api} queryClient={queryClient}>
        <LocationProbe />
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route
            path="*"
            element={
              <RequireAuth>
                <p>protected page</p>
              </RequireAuth>
            }
          />
        </Routes>
      </Providers>
    </MemoryRouter>,
  );
}

async function logInThroughForm() {
  await userEvent.type(screen.getByLabelText(/User ID/), "admin");
  await userEvent.type(screen.getByLabelText(/Password/), "secret");
  await userEvent.click(screen.getByRole("button", { name: "Log in" }));
  await screen.findByText("protected page");
}

describe("login redirect", () => {
  it("returns to a deep link after login", async () => {
    const { api } = clientAnswering(200, { [TOKEN_HEADER]: "first-token" });
    renderProtectedApp(api, "/ui/hosts/3?status=up");

    expect(
      await screen.findByRole("button", { name: "Log in" }),
    ).toBeInTheDocument();
    expect(screen.getByTestId("location")).toHaveTextContent(
      "/login?next=%2Fui%2Fhosts%2F3%3Fstatus%3Dup",
    );

    await logInThroughForm();
    expect(screen.getByTestId("location")).toHaveTextContent(
      /^\/hosts\/3\?status=up$/,
    );
  });

  it("opens the dashboard without next", async () => {
    const { api } = clientAnswering(200, { [TOKEN_HEADER]: "first-token" });
    renderProtectedApp(api, "/ui/");

    await screen.findByRole("button", { name: "Log in" });
    expect(screen.getByTestId("location")).toHaveTextContent(/^\/login$/);

    await logInThroughForm();
    expect(screen.getByTestId("location")).toHaveTextContent(/^\/$/);
  });

  it.each([
    "https://evil.example",
    "//evil",
    "//evil.example/ui/hosts/3",
    "/\\evil.example",
    "/ui/../admin",
    "/ui//evil.example",
  ])("ignores next=%s", async (next) => {
    const { api } = clientAnswering(200, { [TOKEN_HEADER]: "first-token" });
    renderProtectedApp(
      api,
      `/ui/login?${new URLSearchParams({ next }).toString()}`,
    );

    await screen.findByRole("button", { name: "Log in" });
    await logInThroughForm();
    expect(screen.getByTestId("location")).toHaveTextContent(/^\/$/);
  });
});
