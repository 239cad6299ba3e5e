import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "mantine-datatable/styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { ApiClient } from "./api/client";
import { App } from "./App";
import { UI_BASENAME } from "./auth/nextPath";
import { Providers } from "./Providers";

// One client for the whole app: its queue is what keeps calls from reusing a token.
const api = new ApiClient();

const root = document.getElementById("root");
if (root === null) {
  throw new Error("index.html has no #root element");
}

createRoot(root).render(
  <StrictMode>
    <BrowserRouter basename={UI_BASENAME}>
      <Providers api={api}>
        <App />
      </Providers>
    </BrowserRouter>
  </StrictMode>,
);
