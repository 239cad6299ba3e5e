/**
 * End to end through the browser: the real sysmanage-server and sysmanage-agent binaries, real
 * apt against the local test repository that scripts/e2e.sh builds, and Chromium.
 *
 * Log in, approve the agent's host, see its updates, install one, watch the job finish, see the
 * host go down when the agent stops, log out. Screenshots of each page go to docs/screenshots.
 */

import { expect, test, type Page } from "@playwright/test";
import { spawn, type ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import path from "node:path";

const ADMIN_PASSWORD = required("SYSMANAGE_ADMIN_PASSWORD");
const SERVER_URL = required("SYSMANAGE_URL");
const AGENT_BIN = required("SYSMANAGE_AGENT_BIN");
const AGENT_STATE_DIR = required("SYSMANAGE_E2E_AGENT_STATE_DIR");
const APT_CONFIG = required("SYSMANAGE_E2E_APT_CONFIG");
const PACKAGE_PREFIX = required("SYSMANAGE_E2E_PACKAGE_PREFIX");
const SCREENSHOTS = path.resolve(import.meta.dirname, "../../docs/screenshots");

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set; run the end-to-end tests with scripts/e2e.sh`,
    );
  }
  return value;
}

async function screenshot(page: Page, name: string) {
  // Let tables and fonts settle, so that the pictures do not show loaders.
  await page.waitForLoadState("networkidle").catch(() => undefined);
  await page.screenshot({
    path: path.join(SCREENSHOTS, `${name}.png`),
    fullPage: true,
  });
}

/** Clicks an entry of the main navigation. */
async function openPage(page: Page, name: string) {
  await page
    .getByRole("navigation", { name: "Main navigation" })
    .getByRole("link", { name, exact: true })
    .click();
}

function startAgent(): ChildProcess {
  const agent = spawn(AGENT_BIN, [], {
    env: {
      ...process.env,
      SYSMANAGE_AGENT_SERVER_URL: SERVER_URL,
      SYSMANAGE_AGENT_STATE_DIR: AGENT_STATE_DIR,
      APT_CONFIG,
      RUST_LOG: process.env.RUST_LOG ?? "info",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  agent.on("error", (error) => {
    throw new Error(`failed to start ${AGENT_BIN}: ${error.message}`);
  });
  return agent;
}

test("administer a host from login to logout", async ({ page }) => {
  const host = hostname();
  const hello = `${PACKAGE_PREFIX}-hello`;
  const security = `${PACKAGE_PREFIX}-security`;
  let agent: ChildProcess | null = null;

  try {
    await test.step("log in", async () => {
      await page.goto("/");
      await expect(page).toHaveURL(/\/ui\/login$/);
      await expect(page.getByRole("button", { name: "Log in" })).toBeVisible();
      await screenshot(page, "login");

      await page.getByLabel(/^User ID/).fill("admin");
      await page.getByLabel(/^Password/).fill(ADMIN_PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await expect(
        page.getByRole("heading", { name: "Dashboard" }),
      ).toBeVisible();
      await expect(page.getByTestId("live-mode")).toHaveText("Live");
    });

    await test.step("see the new host as pending without a reload", async () => {
      agent = startAgent();
      await expect(page.getByTestId("stat-Pending approval")).toContainText(
        "1",
        { timeout: 60_000 },
      );
    });

    await test.step("approve the host", async () => {
      await openPage(page, "Hosts");
      const row = page.getByRole("row", { name: new RegExp(host) });
      await expect(
        row.getByRole("button", { name: `Approve ${host}` }),
      ).toBeVisible();
      await row.getByRole("button", { name: `Approve ${host}` }).click();
      await expect(row.getByText("approved")).toBeVisible();
      await expect(row.getByTestId("host-status")).toHaveText("up", {
        timeout: 60_000,
      });
      await screenshot(page, "hosts");
    });

    await test.step("see the host's updates", async () => {
      await page.getByRole("link", { name: host, exact: true }).click();
      await expect(page.getByRole("heading", { name: host })).toBeVisible();
      await expect(
        page.getByRole("row", { name: new RegExp(hello) }),
      ).toBeVisible({ timeout: 120_000 });
      const securityRow = page.getByRole("row", { name: new RegExp(security) });
      await expect(securityRow).toBeVisible();
      await expect(
        securityRow.getByText("security", { exact: true }),
      ).toBeVisible();
      await expect(page.getByTestId("availability-timeline")).toBeVisible();
    });

    await test.step("install one update and watch the job finish", async () => {
      await page
        .getByRole("row", { name: new RegExp(hello) })
        .getByRole("checkbox")
        .check();
      await page.getByRole("button", { name: "Install selected (1)" }).click();
      await expect(page.getByText(/Install job \d+ queued/)).toBeVisible();

      // The job row appears and reaches "succeeded" through live events, without a reload.
      const jobState = page.getByTestId("job-state").first();
      await expect(jobState).toHaveText("succeeded", { timeout: 180_000 });
      // The agent scans again after the install, so the package leaves the list.
      await expect(
        page.getByRole("row", { name: new RegExp(hello) }),
      ).toHaveCount(0, { timeout: 120_000 });
      await expect(
        page.getByRole("row", { name: new RegExp(security) }),
      ).toBeVisible();
      await screenshot(page, "host-detail");

      await page.getByRole("link", { name: /^\d+$/ }).first().click();
      await expect(
        page.getByRole("heading", { name: /^Job \d+$/ }),
      ).toBeVisible();
      const packageRow = page
        .getByTestId("job-packages")
        .getByRole("row", { name: new RegExp(hello) });
      await expect(packageRow).toContainText("installed");
      await expect(packageRow).toContainText("2.0");
      await screenshot(page, "job-detail");
    });

    await test.step("visit the fleet pages", async () => {
      await openPage(page, "Updates");
      await expect(
        page.getByRole("row", { name: new RegExp(security) }),
      ).toBeVisible();
      await screenshot(page, "updates");

      await openPage(page, "Jobs");
      await expect(page.getByTestId("job-state").first()).toHaveText(
        "succeeded",
      );
      await screenshot(page, "jobs");

      await openPage(page, "Users");
      await expect(page.getByRole("row", { name: /admin/ })).toBeVisible();
      await page.getByRole("button", { name: "New user" }).click();
      await page.getByLabel(/^User ID/).fill("operator1");
      await page.getByLabel(/^Password/).fill("a long enough password 1");
      await page.getByRole("button", { name: "Create user" }).click();
      await expect(page.getByRole("row", { name: /operator1/ })).toBeVisible();
      await screenshot(page, "users");

      await openPage(page, "Dashboard");
      await expect(page.getByTestId("stat-Hosts up")).toContainText("1");
      await screenshot(page, "dashboard");
    });

    await test.step("see the host go down when the agent stops", async () => {
      await openPage(page, "Hosts");
      await page.getByRole("link", { name: host, exact: true }).click();
      await expect(page.getByTestId("host-status").first()).toHaveText("up");
      agent?.kill("SIGKILL");
      await expect(page.getByTestId("host-status").first()).toHaveText("down", {
        timeout: 30_000,
      });
    });

    await test.step("log out", async () => {
      await page.getByRole("button", { name: "Log out" }).click();
      await expect(page).toHaveURL(/\/ui\/login$/);
      await expect(page.getByTestId("session-message")).toHaveText(
        "You have logged out.",
      );
    });
  } finally {
    (agent as ChildProcess | null)?.kill("SIGKILL");
  }
});
