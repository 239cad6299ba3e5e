import { useQuery } from "@tanstack/react-query";
import { useApi } from "../api/ApiContext";
import { listUsers } from "../api/endpoints";
import type { User } from "../api/types";
import { useAuth } from "./useAuth";

export interface CurrentUser {
  /** The signed-in user's record, or null while it loads or when it cannot be found. */
  user: User | null;
  /** Whether the signed-in user may change things. False until the record has loaded. */
  isAdmin: boolean;
}

/**
 * Looks up the signed-in user in `GET /users`, which every user may read, by the user ID of the
 * login. The API has no endpoint that returns the caller's own record.
 */
export function useCurrentUser(): CurrentUser {
  const api = useApi();
  const { userid } = useAuth();
  const users = useQuery({
    queryKey: ["users"],
    queryFn: () => listUsers(api),
    enabled: userid !== null,
  });
  const user = users.data?.find((candidate) => candidate.userid === userid);
  return { user: user ?? null, isAdmin: user?.is_admin === true };
}
