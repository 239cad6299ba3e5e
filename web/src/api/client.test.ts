import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError } from "./client";
import { createFakeServer } from "../test/fakeServer";

describe("ApiClient", () => {
  it("serializes concurrent calls", async () => {
    const server = createFakeServer({
      "GET /hosts": () => ({ body: [] }),
      "GET /jobs": () => ({ body: [] }),
      "GET /users": () => ({ body: [] }),
    });
    const client = new ApiClient({ fetch: server.fetch });
    await client.login("admin", "secret");

    await Promise.all([
      client.get("/hosts"),
      client.get("/jobs"),
      client.get("/users"),
    ]);

    expect(server.maxInFlight).toBe(1);
    expect(server.seen.map((request) => request.path)).toEqual([
      "/login",
      "/hosts",
      "/jobs",
      "/users",
    ]);
  });

  it("sends the token from the previous response", async () => {
    const server = createFakeServer({
      "GET /hosts": () => ({ body: [] }),
      "POST /hosts/1/approve": () => ({ body: {} }),
    });
    const client = new ApiClient({ fetch: server.fetch });
    await client.login("admin", "secret");

    await Promise.all([
      client.get("/hosts"),
      client.post("/hosts/1/approve", {}),
      client.get("/hosts"),
    ]);

    const tokens = server.seen.slice(1).map((request) => request.token);
    expect(tokens).toEqual(["token-1", "token-2", "token-3"]);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it("takes the next token from error responses", async () => {
    const server = createFakeServer({
      "POST /users": () => ({
        status: 422,
        body: {
          error: {
            code: "invalid",
            message: "invalid userid: too short",
            field: "userid",
          },
        },
      }),
      "GET /users": () => ({ body: [] }),
    });
    const client = new ApiClient({ fetch: server.fetch });
    await client.login("admin", "secret");

    const failure = await client
      .post("/users", { userid: "" })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(422);
    expect((failure as ApiError).field).toBe("userid");

    await expect(client.get("/users")).resolves.toEqual([]);
    expect(server.seen.at(-1)?.token).toBe("token-2");
  });

  it("ends the session on 403", async () => {
    const server = createFakeServer({ "GET /hosts": () => ({ body: [] }) });
    const client = new ApiClient({ fetch: server.fetch });
    const onSessionEnd = vi.fn();
    client.onSessionEnd(onSessionEnd);
    await client.login("admin", "secret");

    await client.get("/hosts");
    // Simulates a token chain revoked elsewhere: the client's next token is one already used.
    (client as unknown as { token: string }).token = "token-1";
    const queued = [client.get("/hosts"), client.get("/hosts")];
    const results = await Promise.allSettled(queued);

    expect(results.map((result) => result.status)).toEqual([
      "rejected",
      "rejected",
    ]);
    expect(onSessionEnd).toHaveBeenCalledTimes(1);
    expect(onSessionEnd.mock.calls[0]?.[0]).toMatch(/log in again/i);
    expect(client.isAuthenticated).toBe(false);
    // The call queued behind the 403 never reached the server with a stale token.
    expect(
      server.seen.filter((request) => request.token === "token-1"),
    ).toHaveLength(2);
  });

  it("keeps the session on admin_required", async () => {
    const server = createFakeServer({
      "POST /jobs": () => ({
        status: 403,
        body: {
          error: {
            code: "admin_required",
            message: "forbidden: this action requires an administrator",
          },
        },
      }),
      "GET /hosts": () => ({ body: [] }),
    });
    const client = new ApiClient({ fetch: server.fetch });
    const onSessionEnd = vi.fn();
    client.onSessionEnd(onSessionEnd);
    await client.login("viewer", "secret");

    await expect(client.post("/jobs", { host_ids: [1] })).rejects.toMatchObject(
      { status: 403, code: "admin_required" },
    );

    expect(onSessionEnd).not.toHaveBeenCalled();
    expect(client.isAuthenticated).toBe(true);
    await expect(client.get("/hosts")).resolves.toEqual([]);
    expect(server.seen.at(-1)?.token).toBe("token-2");
  });

  it("ends the session on admin_required without a next token", async () => {
    const client = new ApiClient({
      fetch: async (input) =>
        String(input) === "/login"
          ? Response.json({ X_Reauthorization: "token-1" })
          : Response.json(
              { error: { code: "admin_required", message: "forbidden" } },
              { status: 403 },
            ),
    });
    const onSessionEnd = vi.fn();
    client.onSessionEnd(onSessionEnd);
    await client.login("viewer", "secret");

    await expect(client.post("/jobs", {})).rejects.toMatchObject({
      status: 403,
    });

    expect(onSessionEnd).toHaveBeenCalledTimes(1);
    expect(client.isAuthenticated).toBe(false);
  });

  it("reads Retry-After of a 429 response", async () => {
    const server = createFakeServer({
      "POST /account/password": () => ({
        status: 429,
        headers: { "Retry-After": "42" },
        body: { error: { code: "rate_limited", message: "too many" } },
      }),
    });
    const client = new ApiClient({ fetch: server.fetch });
    await client.login("viewer", "secret");

    await expect(client.post("/account/password", {})).rejects.toMatchObject({
      status: 429,
      code: "rate_limited",
      retryAfterSecs: 42,
    });
    expect(client.isAuthenticated).toBe(true);
  });

  it("stores the user ID of the session", async () => {
    const server = createFakeServer({
      "POST /logout": () => ({ status: 204 }),
    });
    const client = new ApiClient({ fetch: server.fetch });
    expect(client.userid).toBeNull();

    await client.login("viewer", "secret");
    expect(client.userid).toBe("viewer");

    await client.logout();
    expect(client.userid).toBeNull();
  });

  it("reports wrong credentials", async () => {
    const client = new ApiClient({
      fetch: async () =>
        Response.json(
          { error: { code: "invalid_credentials" } },
          { status: 401 },
        ),
    });
    await expect(client.login("admin", "wrong")).rejects.toMatchObject({
      status: 401,
      message: "Invalid user ID or password.",
    });
    expect(client.isAuthenticated).toBe(false);
  });

  it("reports the login rate limit", async () => {
    const client = new ApiClient({
      fetch: async () =>
        new Response("{}", { status: 429, headers: { "Retry-After": "300" } }),
    });
    await expect(client.login("admin", "wrong")).rejects.toMatchObject({
      status: 429,
      message: "Too many failed logins. Try again in 300 seconds.",
    });
  });

  it("rejects calls before login", async () => {
    const server = createFakeServer({});
    const client = new ApiClient({ fetch: server.fetch });
    await expect(client.get("/hosts")).rejects.toMatchObject({
      status: 403,
      code: "not_logged_in",
    });
    expect(server.seen).toHaveLength(0);
  });

  it("revokes the chain on logout", async () => {
    const server = createFakeServer({
      "POST /logout": () => ({ status: 204 }),
    });
    const client = new ApiClient({ fetch: server.fetch });
    const onSessionEnd = vi.fn();
    client.onSessionEnd(onSessionEnd);
    await client.login("admin", "secret");

    await client.logout();

    expect(server.seen.at(-1)).toMatchObject({
      method: "POST",
      path: "/logout",
      token: "token-1",
    });
    expect(client.isAuthenticated).toBe(false);
    expect(onSessionEnd).toHaveBeenCalledWith("You have logged out.");
  });

  it("keeps the queue going after a network failure", async () => {
    let calls = 0;
    const server = createFakeServer({
      "GET /hosts": () => ({ body: [{ id: 1 }] }),
    });
    const flaky: typeof fetch = async (input, init) => {
      calls += 1;
      if (calls === 2) {
        throw new TypeError("connection refused");
      }
      return server.fetch(input, init);
    };
    const client = new ApiClient({ fetch: flaky });
    await client.login("admin", "secret");

    const [first, second] = await Promise.allSettled([
      client.get("/hosts"),
      client.get("/hosts"),
    ]);
    expect(first.status).toBe("rejected");
    expect((first as PromiseRejectedResult).reason).toMatchObject({
      status: 0,
      code: "network",
    });
    expect(second).toMatchObject({ status: "fulfilled", value: [{ id: 1 }] });
  });
});
