import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api/client";

/** Creates the query cache. Client errors (4xx) are not retried, since a retry gets the same response. */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        refetchOnWindowFocus: false,
        retry: (failureCount, error) =>
          !(
            error instanceof ApiError &&
            error.status >= 400 &&
            error.status < 500
          ) && failureCount < 2,
      },
    },
  });
}
