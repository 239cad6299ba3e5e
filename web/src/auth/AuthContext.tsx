import {
  useCallback,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useApi } from "../api/ApiContext";
import { AuthContext } from "./useAuth";

/** Tracks whether the API client has a token, and ends the UI session when it loses it. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [authenticated, setAuthenticated] = useState(api.isAuthenticated);
  const [userid, setUserid] = useState(api.userid);
  const [message, setMessage] = useState<string | null>(null);

  useEffect(
    () =>
      api.onSessionEnd((reason) => {
        setAuthenticated(false);
        setUserid(null);
        setMessage(reason);
        // Data of the ended session must not show to the next user.
        queryClient.clear();
      }),
    [api, queryClient],
  );

  const login = useCallback(
    async (userid: string, password: string) => {
      await api.login(userid, password);
      setMessage(null);
      setUserid(api.userid);
      setAuthenticated(true);
    },
    [api],
  );

  const logout = useCallback(() => api.logout(), [api]);

  const value = useMemo(
    () => ({ authenticated, userid, message, login, logout }),
    [authenticated, userid, message, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
