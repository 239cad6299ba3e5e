import { defineConfig } from "@playwright/test";

// Runs against a server started by scripts/e2e.sh, which sets SYSMANAGE_URL. Chromium comes from
// Debian (`apt-get install chromium`), because Playwright's own browser download is not used.
export default defineConfig({
  testDir: "e2e",
  timeout: 300_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: process.env.SYSMANAGE_URL ?? "http://127.0.0.1:8000",
    viewport: { width: 1440, height: 900 },
    timezoneId: "Europe/Berlin",
    actionTimeout: 30_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      // Playwright starts each browser with a fresh temporary profile. The networking flags stop
      // Chromium from contacting Google services, which this test machine cannot reach.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
