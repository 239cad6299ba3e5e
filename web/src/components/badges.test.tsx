import { MantineProvider } from "@mantine/core";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { UpdateStatusBadge } from "./badges";
import { isSelectableForInstall } from "./updateStatuses";

// Mantine mounts the tooltip on hover but keeps it `display: none` until its open transition
// runs, which on a loaded CI machine had not happened after 5 s. The tests look for the mounted
// tooltip, visible or not: it exists only while the badge is hovered.
const TOOLTIP = { hidden: true };
const TOOLTIP_WAIT = { timeout: 5000 };

function renderBadge(status: string) {
  return render(
    <MantineProvider>
      <UpdateStatusBadge status={status} />
    </MantineProvider>,
  );
}

describe("UpdateStatusBadge", () => {
  it("labels kept-back updates and explains them on hover", async () => {
    renderBadge("kept_back");

    const badge = screen.getByTestId("update-status");
    expect(badge).toHaveTextContent("kept back");
    await userEvent.hover(badge);
    expect(
      await screen.findByRole("tooltip", TOOLTIP, TOOLTIP_WAIT),
    ).toHaveTextContent(
      "apt keeps it back because the new version needs an installed package removed.",
    );
  });

  it("tells deferred apart from kept back", async () => {
    renderBadge("deferred");

    const badge = screen.getByTestId("update-status");
    expect(badge).toHaveTextContent("deferred");
    await userEvent.hover(badge);
    const tooltip = await screen.findByRole("tooltip", TOOLTIP, TOOLTIP_WAIT);
    expect(tooltip).toHaveTextContent("phased rollout");
    expect(tooltip).not.toHaveTextContent("kept back");
  });

  it("shows nothing for available updates", () => {
    renderBadge("available");

    expect(screen.queryByTestId("update-status")).not.toBeInTheDocument();
  });

  it("shows an unknown status by its name", () => {
    renderBadge("quarantined");

    expect(screen.getByTestId("update-status")).toHaveTextContent(
      "quarantined",
    );
  });
});

describe("isSelectableForInstall", () => {
  it("allows available and kept-back updates only", () => {
    expect(isSelectableForInstall("available")).toBe(true);
    expect(isSelectableForInstall("kept_back")).toBe(true);
    expect(isSelectableForInstall("held")).toBe(false);
    expect(isSelectableForInstall("deferred")).toBe(false);
  });
});
