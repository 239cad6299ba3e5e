/**
 * Live updates from the server's event stream. Opening a stream takes a one-time ticket from
 * `POST /events/ticket` (a queued API call like any other), then `GET /events?ticket=...` as an
 * EventSource. A burned ticket cannot reconnect, so after an error the stream is closed and a new
 * ticket is requested with backoff. While the stream is down the UI polls instead.
 */

import type { QueryClient, QueryKey } from "@tanstack/react-query";
import { ApiError, type ApiClient } from "../api/client";

export type LiveMode = "connecting" | "live" | "polling";

/** Event names the server sends, besides `ready` and `resync`. */
export const EVENT_NAMES = [
  "host_status",
  "host_registered",
  "host_approval",
  "updates_changed",
  "job_state",
] as const;

export interface LiveEvent {
  type: string;
  host_id?: number;
  job_id?: number;
  status?: string;
  state?: string;
}

/**
 * Returns the query keys whose data `event` makes stale. Keys are prefixes. Every event
 * may change a count of the fleet summary.
 */
export function staleKeys(event: LiveEvent): QueryKey[] {
  const hostKeys: QueryKey[] =
    event.host_id === undefined ? [] : [["host", event.host_id]];
  switch (event.type) {
    case "host_status":
    case "host_registered":
    case "host_approval":
      return [["hosts"], ["summary"], ...hostKeys];
    case "updates_changed":
      return [["hosts"], ["updates"], ["summary"], ...hostKeys];
    case "job_state":
      return [
        ["jobs"],
        ["hosts"],
        ["updates"],
        ["summary"],
        ...hostKeys,
        ...(event.job_id === undefined ? [] : [["job", event.job_id]]),
      ];
    default:
      return [];
  }
}

const POLL_INTERVAL_MS = 15_000;
/** Failures in a row after which the UI polls until a stream opens again. */
const FAILURES_BEFORE_POLLING = 2;
const MAX_RECONNECT_DELAY_MS = 60_000;
/** Events arriving within this window cause one refetch per query. */
const BATCH_DELAY_MS = 200;

interface Options {
  api: ApiClient;
  queryClient: QueryClient;
  onModeChange: (mode: LiveMode) => void;
  /** Stream URL prefix; empty for the same origin. */
  baseUrl?: string;
}

/** Starts the live connection and returns a function that stops it. */
export function startLiveEvents({
  api,
  queryClient,
  onModeChange,
  baseUrl = "",
}: Options): () => void {
  let stopped = false;
  let source: EventSource | null = null;
  let failures = 0;
  let everConnected = false;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let batchTimer: ReturnType<typeof setTimeout> | undefined;
  const pending: QueryKey[] = [];

  const flush = () => {
    batchTimer = undefined;
    const keys = pending.splice(0);
    const seen = new Set<string>();
    for (const key of keys) {
      const id = JSON.stringify(key);
      if (!seen.has(id)) {
        seen.add(id);
        void queryClient.invalidateQueries({ queryKey: key });
      }
    }
  };

  const invalidate = (keys: QueryKey[]) => {
    pending.push(...keys);
    batchTimer ??= setTimeout(flush, BATCH_DELAY_MS);
  };

  const refetchEverything = () => void queryClient.invalidateQueries();

  const startPolling = () => {
    onModeChange("polling");
    pollTimer ??= setInterval(refetchEverything, POLL_INTERVAL_MS);
  };

  const stopPolling = () => {
    clearInterval(pollTimer);
    pollTimer = undefined;
  };

  const scheduleReconnect = () => {
    if (stopped) {
      return;
    }
    failures += 1;
    if (failures >= FAILURES_BEFORE_POLLING) {
      startPolling();
    } else {
      onModeChange("connecting");
    }
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, 1000 * 2 ** failures);
    reconnectTimer = setTimeout(() => void connect(), delay);
  };

  const connect = async () => {
    if (stopped) {
      return;
    }
    if (typeof EventSource === "undefined") {
      startPolling();
      return;
    }
    let ticket: string;
    try {
      ticket = (await api.post<{ ticket: string }>("/events/ticket")).ticket;
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        return; // The session ended; the login page takes over.
      }
      scheduleReconnect();
      return;
    }
    if (stopped) {
      return;
    }

    const stream = new EventSource(
      `${baseUrl}/events?ticket=${encodeURIComponent(ticket)}`,
    );
    source = stream;
    stream.addEventListener("ready", () => {
      failures = 0;
      stopPolling();
      onModeChange("live");
      if (everConnected) {
        // Events published while the stream was down are lost.
        refetchEverything();
      }
      everConnected = true;
    });
    stream.addEventListener("resync", refetchEverything);
    for (const name of EVENT_NAMES) {
      stream.addEventListener(name, (message) => {
        try {
          invalidate(
            staleKeys(
              JSON.parse((message as MessageEvent<string>).data) as LiveEvent,
            ),
          );
        } catch {
          refetchEverything();
        }
      });
    }
    stream.onerror = () => {
      // EventSource would retry with the burned ticket, so close it and start over.
      stream.close();
      if (source === stream) {
        source = null;
        scheduleReconnect();
      }
    };
  };

  onModeChange("connecting");
  void connect();

  return () => {
    stopped = true;
    source?.close();
    clearTimeout(reconnectTimer);
    clearTimeout(batchTimer);
    stopPolling();
  };
}
