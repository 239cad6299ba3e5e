import { MantineProvider } from "@mantine/core";
import { ModalsProvider } from "@mantine/modals";
import { Notifications } from "@mantine/notifications";
import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { ApiContext } from "./api/ApiContext";
import type { ApiClient } from "./api/client";
import { AuthProvider } from "./auth/AuthContext";
import { createQueryClient } from "./queryClient";
import { theme } from "./theme";

/** Provides every context the pages need: theme, notifications, API client, query cache and login state. */
export function Providers({
  api,
  children,
  queryClient,
}: {
  api: ApiClient;
  children: ReactNode;
  queryClient?: QueryClient;
}) {
  const [client] = useState(() => queryClient ?? createQueryClient());
  return (
    <MantineProvider theme={theme}>
      <Notifications position="top-right" />
      <ApiContext.Provider value={api}>
        <QueryClientProvider client={client}>
          <AuthProvider>
            <ModalsProvider>{children}</ModalsProvider>
          </AuthProvider>
        </QueryClientProvider>
      </ApiContext.Provider>
    </MantineProvider>
  );
}
