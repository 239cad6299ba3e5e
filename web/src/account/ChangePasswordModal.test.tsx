import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiClient } from "../api/client";
import { createFakeServer } from "../test/fakeServer";
import { renderWithProviders } from "../test/render";
import { ChangePasswordModal } from "./ChangePasswordModal";

type Routes = Parameters<typeof createFakeServer>[0];

async function renderModal(routes: Routes) {
  const server = createFakeServer(routes);
  const api = new ApiClient({ fetch: server.fetch });
  await api.login("viewer", "old password 1");
  const onClose = vi.fn();
  renderWithProviders(<ChangePasswordModal opened onClose={onClose} />, {
    api,
  });
  const dialog = await screen.findByRole("dialog");
  return { server, api, onClose, dialog };
}

async function fillForm(
  dialog: HTMLElement,
  current: string,
  next: string,
  confirm = next,
) {
  await userEvent.type(
    within(dialog).getByLabelText(/^Current password/),
    current,
  );
  await userEvent.type(within(dialog).getByLabelText(/^New password/), next);
  await userEvent.type(
    within(dialog).getByLabelText(/^Confirm new password/),
    confirm,
  );
  await userEvent.click(
    within(dialog).getByRole("button", { name: "Save new password" }),
  );
}

function passwordCalls(server: ReturnType<typeof createFakeServer>) {
  return server.seen.filter((request) => request.path === "/account/password");
}

describe("ChangePasswordModal", () => {
  it("changes the password and keeps the session", async () => {
    const { server, api, onClose, dialog } = await renderModal({
      "POST /account/password": () => ({ status: 204 }),
    });

    await fillForm(dialog, "old password 1", "new password 22");

    expect(
      await screen.findByText(/Your password was changed/),
    ).toBeInTheDocument();
    expect(onClose).toHaveBeenCalledTimes(1);
    const calls = passwordCalls(server);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toEqual({
      current_password: "old password 1",
      new_password: "new password 22",
    });
    expect(api.isAuthenticated).toBe(true);
  });

  it("shows a wrong current password under its field", async () => {
    const { server, onClose, dialog } = await renderModal({
      "POST /account/password": () => ({
        status: 422,
        body: {
          error: {
            code: "invalid",
            message:
              "invalid current_password: does not match your password; enter the password you log in with",
            field: "current_password",
          },
        },
      }),
    });

    await fillForm(dialog, "wrong password", "new password 22");

    const current = within(dialog).getByLabelText(/^Current password/);
    await waitFor(() =>
      expect(current).toHaveAccessibleDescription(
        "Does not match your password; enter the password you log in with",
      ),
    );
    expect(
      within(dialog).getByLabelText(/^New password/),
    ).toHaveAccessibleDescription("At least 8 characters.");
    expect(onClose).not.toHaveBeenCalled();
    expect(passwordCalls(server)).toHaveLength(1);
  });

  it("shows a short new password under its field", async () => {
    const { dialog } = await renderModal({
      "POST /account/password": () => ({
        status: 422,
        body: {
          error: {
            code: "invalid",
            message: "invalid new_password: must be at least 8 characters long",
            field: "new_password",
          },
        },
      }),
    });

    await fillForm(dialog, "old password 1", "short");

    expect(
      await within(dialog).findByText("Must be at least 8 characters long"),
    ).toBeInTheDocument();
    expect(
      within(dialog).getByLabelText(/^New password/),
    ).toHaveAccessibleDescription(
      expect.stringContaining("Must be at least 8 characters long"),
    );
  });

  it("rejects a confirmation that differs", async () => {
    const { server, dialog } = await renderModal({
      "POST /account/password": () => ({ status: 204 }),
    });

    await fillForm(
      dialog,
      "old password 1",
      "new password 22",
      "new password 23",
    );

    expect(
      await within(dialog).findByText(/The two new passwords differ/),
    ).toBeInTheDocument();
    expect(passwordCalls(server)).toHaveLength(0);
  });

  it("explains the rate limit", async () => {
    const { api, onClose, dialog } = await renderModal({
      "POST /account/password": () => ({
        status: 429,
        headers: { "Retry-After": "120" },
        body: {
          error: {
            code: "rate_limited",
            message: "too many failed logins; try again in 120 seconds",
          },
        },
      }),
    });

    await fillForm(dialog, "wrong password", "new password 22");

    expect(await within(dialog).findByRole("alert")).toHaveTextContent(
      "Too many wrong passwords for this user. Try again in 120 seconds.",
    );
    expect(onClose).not.toHaveBeenCalled();
    expect(api.isAuthenticated).toBe(true);
  });
});
