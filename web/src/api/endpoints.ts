/** Typed calls of the REST API, on top of the queued client. */

import type { ApiClient } from "./client";
import type {
  BulkInstallRequest,
  BulkInstallResult,
  Host,
  HostDetail,
  HostEvent,
  InstallRequest,
  Job,
  Page,
  Summary,
  Update,
  UpdateStatus,
  User,
} from "./types";

/** Maximum page size the server accepts on list endpoints. */
export const MAX_PAGE_SIZE = 500;

/** Accepts a bare array or a `{items, total}` page, since list endpoints may return either. */
export function toPage<T>(body: unknown): Page<T> {
  if (Array.isArray(body)) {
    return { items: body as T[], total: body.length };
  }
  const page = body as Partial<Page<T>> | undefined;
  const items = page?.items ?? [];
  return { items, total: page?.total ?? items.length };
}

function query(
  params: Record<string, string | number | boolean | undefined | null>,
): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") {
      search.set(key, String(value));
    }
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

export interface HostQuery {
  page?: number;
  perPage?: number;
  /** A column name, `-` first for descending. */
  sort?: string;
  status?: string;
  approval?: string;
  hostname?: string;
}

export async function listHosts(
  api: ApiClient,
  filter: HostQuery = {},
): Promise<Page<Host>> {
  const path = `/hosts${query({
    page: filter.page,
    per_page: filter.perPage ?? MAX_PAGE_SIZE,
    sort: filter.sort,
    status: filter.status,
    approval: filter.approval,
    hostname: filter.hostname,
  })}`;
  return toPage<Host>(await api.get(path));
}

export const getHost = (api: ApiClient, id: number) =>
  api.get<HostDetail>(`/hosts/${id}`);

export const approveHost = (api: ApiClient, id: number, replace = false) =>
  api.post<unknown>(`/hosts/${id}/approve`, { replace });

export const rejectHost = (api: ApiClient, id: number) =>
  api.post<unknown>(`/hosts/${id}/reject`, {});

export async function listHostEvents(
  api: ApiClient,
  id: number,
): Promise<HostEvent[]> {
  return toPage<HostEvent>(
    await api.get(`/hosts/${id}/events${query({ per_page: MAX_PAGE_SIZE })}`),
  ).items;
}

export async function listHostUpdates(
  api: ApiClient,
  id: number,
): Promise<Update[]> {
  return toPage<Update>(
    await api.get(`/hosts/${id}/updates${query({ per_page: MAX_PAGE_SIZE })}`),
  ).items;
}

export const refreshUpdates = (api: ApiClient, id: number) =>
  api.post<unknown>(`/hosts/${id}/updates/refresh`, {});

export const installUpdates = (
  api: ApiClient,
  hostId: number,
  request: InstallRequest,
) => api.post<{ job_id: number }>(`/hosts/${hostId}/updates/install`, request);

/**
 * Creates the same install job on every approved host of `request.host_ids` in one call. Hosts
 * that do not exist, are not approved or have an identical job queued or running come back in
 * `skipped`. The call fails with 409 when none of the hosts gets a job.
 */
export const installOnHosts = (api: ApiClient, request: BulkInstallRequest) =>
  api.post<BulkInstallResult>("/jobs", request);

export interface UpdateQuery {
  hostId?: number;
  manager?: string;
  security?: boolean;
  status?: UpdateStatus;
}

export async function listUpdates(
  api: ApiClient,
  filter: UpdateQuery = {},
): Promise<Page<Update>> {
  const path = `/updates${query({
    host_id: filter.hostId,
    manager: filter.manager,
    security: filter.security,
    status: filter.status,
    per_page: MAX_PAGE_SIZE,
  })}`;
  return toPage<Update>(await api.get(path));
}

export interface JobQuery {
  hostId?: number;
  state?: string;
}

export async function listJobs(
  api: ApiClient,
  filter: JobQuery = {},
): Promise<Page<Job>> {
  const path = `/jobs${query({ host_id: filter.hostId, state: filter.state, per_page: MAX_PAGE_SIZE })}`;
  return toPage<Job>(await api.get(path));
}

/** Fetches the fleet counts of the dashboard, computed by the server over every host. */
export const getSummary = (api: ApiClient) => api.get<Summary>("/summary");

export const getJob = (api: ApiClient, id: number) =>
  api.get<Job>(`/jobs/${id}`);

export async function listUsers(api: ApiClient): Promise<User[]> {
  return toPage<User>(await api.get("/users")).items;
}

export interface UserInput {
  userid?: string;
  password?: string;
  is_admin?: boolean;
  active?: boolean;
}

export const createUser = (api: ApiClient, input: UserInput) =>
  api.post<User>("/users", input);

export const updateUser = (api: ApiClient, id: number, input: UserInput) =>
  api.put<User>(`/users/${id}`, input);

export const deleteUser = (api: ApiClient, id: number) =>
  api.delete<unknown>(`/users/${id}`);

/**
 * Changes the signed-in user's own password. The server ends the user's other sessions and keeps
 * this one. Fails with 422 naming `current_password` or `new_password`, and with 429 after too
 * many wrong current passwords.
 */
export const changeOwnPassword = (
  api: ApiClient,
  currentPassword: string,
  newPassword: string,
) =>
  api.post<undefined>("/account/password", {
    current_password: currentPassword,
    new_password: newPassword,
  });
