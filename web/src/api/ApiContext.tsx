import { createContext, useContext } from "react";
import type { ApiClient } from "./client";

export const ApiContext = createContext<ApiClient | null>(null);

/** Returns the app's single API client. Every component must use this one instance. */
export function useApi(): ApiClient {
  const client = useContext(ApiContext);
  if (client === null) {
    throw new Error("useApi must be called inside <ApiContext.Provider>");
  }
  return client;
}
