import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router";
import { ApiClient } from "../api/client";
import { Providers } from "../Providers";
import { createQueryClient } from "../queryClient";

/** Renders `element` at `path` with every provider, a fresh query cache and the given client. */
export function renderWithProviders(
  element: ReactElement,
  {
    api,
    path = "/",
    route = "*",
  }: { api: ApiClient; path?: string; route?: string },
) {
  const queryClient = createQueryClient();
  queryClient.setDefaultOptions({ queries: { retry: false } });
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Providers api={api} queryClient={queryClient}>
        <Routes>
          <Route path={route} element={element} />
          <Route path="/login" element={<p>login page</p>} />
        </Routes>
      </Providers>
    </MemoryRouter>,
  );
}
