import {
  Badge,
  Group,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Text,
} from "@mantine/core";
import type { ReactNode } from "react";
import type { HostInventory, ResourceSnapshot } from "../api/types";
import { RelativeTime } from "../components/RelativeTime";
import { formatAbsolute, formatDuration } from "../components/time";
import { formatBytes, usagePercent } from "./bytes";

function usageColor(percent: number): string {
  if (percent >= 90) {
    return "red";
  }
  return percent >= 75 ? "yellow" : "blue";
}

/** A labelled usage bar: `used of total (percent)`. */
function UsageBar({
  label,
  used,
  total,
}: {
  label: string;
  used: number;
  total: number;
}) {
  const percent = usagePercent(used, total);
  return (
    <Stack gap={2}>
      <Group justify="space-between" gap="xs">
        <Text size="sm">{label}</Text>
        <Text size="sm" c="dimmed">
          {formatBytes(used)} of {formatBytes(total)} ({percent.toFixed(0)}%)
        </Text>
      </Group>
      <Progress
        value={percent}
        color={usageColor(percent)}
        aria-label={`${label} usage`}
      />
    </Stack>
  );
}

function FactTable({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <Table withRowBorders={false} verticalSpacing={4}>
      <Table.Tbody>
        {rows.map(([label, value]) => (
          <Table.Tr key={label}>
            <Table.Th w={180}>{label}</Table.Th>
            <Table.Td>{value}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** Latest load, memory and root file system usage of a host, or an empty state. */
export function HostResources({
  resources,
  at,
}: {
  resources: ResourceSnapshot | null;
  at: string | null;
}) {
  if (!resources) {
    return (
      <Text c="dimmed" size="sm">
        No resource data yet. Agents report load, memory and disk usage with
        each heartbeat once the host is approved.
      </Text>
    );
  }
  const [one, five, fifteen] = resources.load_average;
  return (
    <Stack gap="sm">
      <Group gap="xs">
        <Text size="sm" fw={500}>
          Load average
        </Text>
        <Text size="sm">
          {one.toFixed(2)} / {five.toFixed(2)} / {fifteen.toFixed(2)}
        </Text>
        <Text size="xs" c="dimmed">
          (1, 5, 15 min)
        </Text>
      </Group>
      <UsageBar
        label="Memory"
        used={resources.memory_used_bytes}
        total={resources.memory_total_bytes}
      />
      <UsageBar
        label="Root file system"
        used={resources.disk_used_bytes}
        total={resources.disk_total_bytes}
      />
      <Text size="xs" c="dimmed">
        Reported <RelativeTime value={at} />
      </Text>
    </Stack>
  );
}

/** Hardware, OS, disks and network interfaces of a host, or an empty state. */
export function HostInventoryView({
  inventory,
  updatedAt,
}: {
  inventory: HostInventory | null;
  updatedAt: string | null;
}) {
  if (!inventory) {
    return (
      <Text c="dimmed" size="sm">
        No inventory yet. The agent sends it after it connects as an approved
        host.
      </Text>
    );
  }
  const bootTime = inventory.boot_time * 1000;
  const rows: [string, ReactNode][] = [
    ["Operating system", `${inventory.os_name} ${inventory.os_version}`.trim()],
    ["Codename", inventory.os_codename ?? "none"],
    ["Kernel", inventory.kernel],
    ["Architecture", inventory.architecture],
    [
      "CPU",
      `${inventory.cpu_model || "unknown model"} × ${inventory.cpu_count}`,
    ],
    ["Memory", formatBytes(inventory.memory_total_bytes)],
    ["Swap", formatBytes(inventory.swap_total_bytes)],
    ["Booted", bootTime > 0 ? formatAbsolute(bootTime) : "unknown"],
    ["Uptime when reported", formatDuration(inventory.uptime_secs * 1000)],
    ["Inventory updated", <RelativeTime key="updated" value={updatedAt} />],
  ];
  return (
    <Stack>
      <FactTable rows={rows} />
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Stack gap="xs">
          <Text fw={500}>Disks</Text>
          {inventory.disks.length === 0 ? (
            <Text c="dimmed" size="sm">
              No disks reported.
            </Text>
          ) : (
            inventory.disks.map((disk) => (
              <UsageBar
                key={disk.mount_point}
                label={`${disk.mount_point} (${disk.file_system})`}
                used={Math.max(0, disk.total_bytes - disk.available_bytes)}
                total={disk.total_bytes}
              />
            ))
          )}
        </Stack>
        <Stack gap="xs">
          <Text fw={500}>Network interfaces</Text>
          {inventory.network_interfaces.length === 0 ? (
            <Text c="dimmed" size="sm">
              No network interfaces reported.
            </Text>
          ) : (
            <Table verticalSpacing={4}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>MAC address</Table.Th>
                  <Table.Th>Addresses</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {inventory.network_interfaces.map((network) => (
                  <Table.Tr key={network.name}>
                    <Table.Td>{network.name}</Table.Td>
                    <Table.Td>
                      <Text size="sm" ff="monospace">
                        {network.mac_address ?? "none"}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {network.addresses.length === 0 ? (
                          <Text c="dimmed" size="sm">
                            none
                          </Text>
                        ) : (
                          network.addresses.map((address) => (
                            <Badge
                              key={address}
                              variant="light"
                              color="gray"
                              tt="none"
                            >
                              {address}
                            </Badge>
                          ))
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      </SimpleGrid>
    </Stack>
  );
}
