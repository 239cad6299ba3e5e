import { createContext, useContext } from "react";

export interface AuthState {
  authenticated: boolean;
  /** User ID of the signed-in user, or null without a session. */
  userid: string | null;
  /** Reason the last session ended, shown on the login page. */
  message: string | null;
  login: (userid: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

export const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (state === null) {
    throw new Error("useAuth must be called inside <AuthProvider>");
  }
  return state;
}
