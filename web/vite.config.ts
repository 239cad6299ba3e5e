/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The dev server proxies API calls to a running sysmanage-server, by default on the address it
// listens on without a configuration file.
const apiTarget = process.env.SYSMANAGE_API_URL ?? "http://127.0.0.1:8000";
const apiPaths = [
  "/login",
  "/logout",
  "/account",
  "/users",
  "/hosts",
  "/updates",
  "/jobs",
  "/summary",
  "/events",
  "/health",
];

export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(
      apiPaths.map((path) => [path, { target: apiTarget }]),
    ),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    // A guard against hangs, not a speed check: tests that click through Mantine dialogs in
    // jsdom take several seconds on a busy machine, beyond the default of 5 seconds.
    testTimeout: 30_000,
  },
});
