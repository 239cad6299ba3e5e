import { describe, expect, it } from "vitest";
import { loginPathFor, routerPathFromNext } from "./nextPath";

const ORIGIN = "http://sysmanage.test";

describe("routerPathFromNext", () => {
  it.each([
    ["/ui/hosts/3", "/hosts/3"],
    ["/ui/hosts?status=down", "/hosts?status=down"],
    ["/ui/jobs/7#output", "/jobs/7#output"],
    ["/ui/", "/"],
    ["/ui", "/"],
  ])("accepts %s as %s", (next, expected) => {
    expect(routerPathFromNext(next, ORIGIN)).toBe(expected);
  });

  it.each([
    null,
    "",
    "https://evil.example",
    "https://evil.example/ui/hosts/3",
    "//evil.example",
    "//evil.example/ui/hosts/3",
    "/\\evil.example/ui/hosts",
    "\\\\evil.example",
    "javascript:alert(1)",
    "hosts/3",
    "/hosts/3",
    "/uiadmin",
    "/ui/../admin",
    "/ui//evil.example",
    "/ui/\\evil.example",
    "/ui/login",
    "/ui/login?next=%2Fui%2Fhosts",
    `${ORIGIN}/ui/hosts/3`,
  ])("ignores %s", (next) => {
    expect(routerPathFromNext(next, ORIGIN)).toBe("/");
  });
});

describe("loginPathFor", () => {
  it("keeps the requested page in next", () => {
    expect(loginPathFor("/ui/hosts/3?status=up")).toBe(
      "/login?next=%2Fui%2Fhosts%2F3%3Fstatus%3Dup",
    );
  });

  it("leaves next out for the dashboard", () => {
    expect(loginPathFor("/ui/")).toBe("/login");
    expect(loginPathFor("/ui")).toBe("/login");
  });

  it("round-trips through routerPathFromNext", () => {
    const loginPath = loginPathFor("/ui/updates?host_id=4&security=true");
    const next = new URLSearchParams(loginPath.split("?")[1]).get("next");
    expect(routerPathFromNext(next, ORIGIN)).toBe(
      "/updates?host_id=4&security=true",
    );
  });
});
