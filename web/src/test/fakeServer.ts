import { TOKEN_HEADER } from "../api/client";

/** One request as the fake server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  token: string | null;
  body: unknown;
}

type Handler = (
  request: SeenRequest,
) =>
  | { status?: number; body?: unknown; headers?: Record<string, string> }
  | undefined;

/**
 * Creates a fetch mock that behaves like the SysManage token chain: every token is valid once, each
 * response carries the next one, and a reused token gets 403. Routes are `"METHOD /path"` keys.
 */
export function createFakeServer(routes: Record<string, Handler>) {
  const seen: SeenRequest[] = [];
  const used = new Set<string>();
  let counter = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  const issue = () => `token-${++counter}`;

  const fetchMock = async (
    input: RequestInfo | URL,
    init?: RequestInit,
  ): Promise<Response> => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      // Let other queued work run, so that overlapping calls would show up in maxInFlight.
      await new Promise((resolve) => setTimeout(resolve, 5));
      const url = new URL(String(input), "http://sysmanage.test");
      const method = init?.method ?? "GET";
      const authorization = new Headers(init?.headers).get("Authorization");
      const token = authorization?.replace(/^Bearer /, "") ?? null;
      const body =
        typeof init?.body === "string"
          ? (JSON.parse(init.body) as unknown)
          : undefined;
      const request = { method, path: url.pathname + url.search, token, body };
      seen.push(request);

      if (url.pathname === "/login") {
        return Response.json({ [TOKEN_HEADER]: issue() });
      }
      if (token === null || used.has(token) || !token.startsWith("token-")) {
        return Response.json(
          { error: { code: "forbidden", message: "forbidden" } },
          { status: 403 },
        );
      }
      used.add(token);
      const handler = routes[`${method} ${url.pathname}`];
      const result = handler?.(request) ?? {
        status: 404,
        body: { error: { code: "not_found", message: "not found" } },
      };
      const headers = new Headers({
        ...result.headers,
        [TOKEN_HEADER]: issue(),
      });
      if (result.body === undefined) {
        return new Response(null, { status: result.status ?? 204, headers });
      }
      headers.set("Content-Type", "application/json");
      return new Response(JSON.stringify(result.body), {
        status: result.status ?? 200,
        headers,
      });
    } finally {
      inFlight -= 1;
    }
  };

  return {
    fetch: fetchMock as typeof fetch,
    seen,
    get maxInFlight() {
      return maxInFlight;
    },
  };
}
