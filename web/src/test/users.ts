import type { User } from "../api/types";

/** Users of `GET /users` in tests: one administrator and one read-only user. */
export const TEST_USERS: User[] = [
  { id: 1, userid: "admin", is_admin: true, active: true },
  { id: 2, userid: "viewer", is_admin: false, active: true },
];
