import { render, screen, within } from "@testing-library/react";
import { MantineProvider } from "@mantine/core";
import type { ReactElement } from "react";
import { describe, expect, it } from "vitest";
import type { HostInventory, ResourceSnapshot } from "../api/types";
import { formatBytes, usagePercent } from "./bytes";
import { HostInventoryView, HostResources } from "./HostInventory";

const GIB = 1024 ** 3;

const INVENTORY: HostInventory = {
  os_name: "Debian GNU/Linux",
  os_version: "12",
  os_codename: "bookworm",
  kernel: "6.1.0-18-amd64",
  architecture: "x86_64",
  cpu_model: "AMD EPYC 7763",
  cpu_count: 4,
  memory_total_bytes: 16 * GIB,
  swap_total_bytes: 0,
  disks: [
    {
      mount_point: "/",
      file_system: "ext4",
      total_bytes: 100 * GIB,
      available_bytes: 60 * GIB,
    },
  ],
  network_interfaces: [
    {
      name: "eth0",
      mac_address: "52:54:00:12:34:56",
      addresses: ["192.0.2.7/24", "2001:db8::7/64"],
    },
    { name: "lo", mac_address: null, addresses: [] },
  ],
  boot_time: 1_765_000_000,
  uptime_secs: 90_000,
};

const RESOURCES: ResourceSnapshot = {
  load_average: [0.5, 0.25, 1.75],
  memory_used_bytes: 12 * GIB,
  memory_total_bytes: 16 * GIB,
  disk_used_bytes: 95 * GIB,
  disk_total_bytes: 100 * GIB,
};

function renderPlain(element: ReactElement) {
  return render(<MantineProvider>{element}</MantineProvider>);
}

describe("formatBytes", () => {
  it("uses binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(16 * GIB)).toBe("16.0 GiB");
    expect(formatBytes(512 * GIB)).toBe("512 GiB");
  });
});

describe("usagePercent", () => {
  it("handles an unknown total", () => {
    expect(usagePercent(5, 0)).toBe(0);
    expect(usagePercent(1, 4)).toBe(25);
    expect(usagePercent(5, 4)).toBe(100);
  });
});

describe("HostInventoryView", () => {
  it("shows facts, disks and interfaces", () => {
    renderPlain(<HostInventoryView inventory={INVENTORY} updatedAt={null} />);
    expect(screen.getByText("bookworm")).toBeInTheDocument();
    expect(screen.getByText("AMD EPYC 7763 × 4")).toBeInTheDocument();
    expect(screen.getByText("16.0 GiB")).toBeInTheDocument();
    expect(screen.getByText("1 d 1 h")).toBeInTheDocument();
    expect(screen.getByText("/ (ext4)")).toBeInTheDocument();
    expect(screen.getByText("40.0 GiB of 100 GiB (40%)")).toBeInTheDocument();
    const eth0 = screen.getByText("eth0").closest("tr");
    expect(eth0).not.toBeNull();
    expect(within(eth0!).getByText("2001:db8::7/64")).toBeInTheDocument();
    expect(within(eth0!).getByText("52:54:00:12:34:56")).toBeInTheDocument();
  });

  it("shows an empty state without inventory", () => {
    renderPlain(<HostInventoryView inventory={null} updatedAt={null} />);
    expect(screen.getByText(/No inventory yet/)).toBeInTheDocument();
  });
});

describe("HostResources", () => {
  it("shows load and usage", () => {
    renderPlain(
      <HostResources resources={RESOURCES} at={new Date().toISOString()} />,
    );
    expect(screen.getByText("0.50 / 0.25 / 1.75")).toBeInTheDocument();
    expect(screen.getByText("12.0 GiB of 16.0 GiB (75%)")).toBeInTheDocument();
    expect(screen.getByText("95.0 GiB of 100 GiB (95%)")).toBeInTheDocument();
    expect(
      screen.getByRole("progressbar", { name: "Root file system usage" }),
    ).toBeInTheDocument();
  });

  it("shows an empty state without a snapshot", () => {
    renderPlain(<HostResources resources={null} at={null} />);
    expect(screen.getByText(/No resource data yet/)).toBeInTheDocument();
  });
});
