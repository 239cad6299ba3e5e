/**
 * The REST API client. Every call goes through one queue, so calls run one at a time and each
 * sends the token returned by the response before it.
 *
 * The server issues one-use bearer tokens: each response to an authenticated request carries the
 * next token in the `X_Reauthorization` header, and presenting a used token revokes the whole
 * chain. Two calls in flight with the same token would therefore log the user out. The token
 * lives in this object only, never in browser storage, so a page reload requires a new login.
 */

/** Response header that carries the next token. Header names are case-insensitive in fetch. */
export const TOKEN_HEADER = "X_Reauthorization";

/** An error response of the API, or a failure to reach it (`status` 0). */
export class ApiError extends Error {
  readonly status: number;
  /** Stable machine-readable code from the error body, such as `invalid` or `conflict`. */
  readonly code: string;
  /** The request field that failed validation, on 422 responses. */
  readonly field?: string;
  /** Seconds to wait before retrying, from the `Retry-After` header of a 429 response. */
  readonly retryAfterSecs?: number;

  constructor(
    status: number,
    code: string,
    message: string,
    field?: string,
    retryAfterSecs?: number,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfterSecs = retryAfterSecs;
  }
}

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface ApiClientOptions {
  /** Prefix of every request path; empty for the same origin. */
  baseUrl?: string;
  /** The fetch implementation; tests pass a mock. */
  fetch?: typeof fetch;
}

/** Listener called when the session ends, with a message for the login page. */
export type SessionEndListener = (message: string) => void;

interface ErrorBody {
  error?: { code?: string; message?: string; field?: string };
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private token: string | null = null;
  private sessionUserid: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly sessionEndListeners = new Set<SessionEndListener>();

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? "";
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  get isAuthenticated(): boolean {
    return this.token !== null;
  }

  /** User ID that the current session logged in with, or null without a session. */
  get userid(): string | null {
    return this.token === null ? null : this.sessionUserid;
  }

  /** Registers a listener for the end of the session (403, logout); returns its remover. */
  onSessionEnd(listener: SessionEndListener): () => void {
    this.sessionEndListeners.add(listener);
    return () => this.sessionEndListeners.delete(listener);
  }

  /** Logs in with `POST /login` and keeps the first token. Throws ApiError on 401 and 429. */
  login(userid: string, password: string): Promise<void> {
    return this.enqueue(async () => {
      const response = await this.send("/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ userid, password }),
      });
      const body = await readJson(response);
      if (response.status === 401) {
        throw new ApiError(
          401,
          "invalid_credentials",
          "Invalid user ID or password.",
        );
      }
      if (response.status === 429) {
        const retryAfter = response.headers.get("Retry-After");
        const wait = retryAfter
          ? ` Try again in ${retryAfter} seconds.`
          : " Try again later.";
        throw new ApiError(
          429,
          "rate_limited",
          `Too many failed logins.${wait}`,
        );
      }
      if (!response.ok) {
        throw errorFromBody(response.status, body);
      }
      const token = (body as Record<string, unknown> | null)?.[TOKEN_HEADER];
      if (typeof token !== "string" || token === "") {
        throw new ApiError(
          response.status,
          "invalid_response",
          "The login response has no token.",
        );
      }
      this.token = token;
      this.sessionUserid = userid;
    });
  }

  /** Revokes the token chain with `POST /logout` and drops the token, even if the call fails. */
  logout(): Promise<void> {
    return this.enqueue(async () => {
      const token = this.token;
      this.token = null;
      if (token !== null) {
        try {
          await this.send("/logout", {
            method: "POST",
            headers: { Authorization: `Bearer ${token}` },
          });
        } catch {
          // The token is forgotten either way, and an unreachable server cannot use it.
        }
      }
      this.notifySessionEnd("You have logged out.");
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /**
   * Queues an authenticated call and resolves with its parsed JSON body (`undefined` when the
   * body is empty). Rejects with ApiError on an error status, and ends the session on 403.
   */
  request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    return this.enqueue(() => this.authenticatedCall<T>(method, path, body));
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    // The next call waits for this one to settle, whether it succeeded or not.
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async authenticatedCall<T>(
    method: HttpMethod,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const token = this.token;
    if (token === null) {
      throw new ApiError(403, "not_logged_in", "You are not logged in.");
    }
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
    };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    const response = await this.send(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });

    // The token just sent is spent whatever the status, so the next one replaces it at once.
    const next = response.headers.get(TOKEN_HEADER);
    this.token = next && next !== "" ? next : null;
    const parsed = await readJson(response);

    if (response.status === 403) {
      const error = errorFromBody(403, parsed);
      // A user without administrator rights who calls an endpoint for administrators gets
      // `admin_required` together with the next token, so that session goes on.
      if (error.code !== "admin_required" || this.token === null) {
        this.endSession("Your session has expired or was ended. Log in again.");
      }
      throw error;
    }
    if (this.token === null) {
      // Sending the spent token again would revoke the chain, so the session cannot go on.
      this.endSession(
        "The server did not send a new session token. Log in again.",
      );
    }
    if (!response.ok) {
      throw errorFromBody(
        response.status,
        parsed,
        retryAfterSecs(response.headers.get("Retry-After")),
      );
    }
    return parsed as T;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(`${this.baseUrl}${path}`, init);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, "network", `Failed to reach the server: ${reason}`);
    }
  }

  private endSession(message: string): void {
    this.token = null;
    this.notifySessionEnd(message);
  }

  private notifySessionEnd(message: string): void {
    for (const listener of this.sessionEndListeners) {
      listener(message);
    }
  }
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === "") {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Parses a `Retry-After` value in seconds; the HTTP-date form is not used by the server. */
function retryAfterSecs(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) {
    return undefined;
  }
  return Number(value.trim());
}

function errorFromBody(
  status: number,
  body: unknown,
  retryAfter?: number,
): ApiError {
  const detail = (body as ErrorBody | undefined)?.error;
  const message =
    detail?.message ??
    (typeof body === "string" && body !== "" ? body : `HTTP ${status}`);
  return new ApiError(
    status,
    detail?.code ?? "http_error",
    message,
    detail?.field,
    retryAfter,
  );
}
