import { Box, Group, Stack, Text, Tooltip } from "@mantine/core";
import type { HostEvent } from "../api/types";
import { formatAbsolute, formatDuration } from "../components/time";
import {
  availabilityPeriods,
  uptimeRatio,
  type Availability,
} from "./availability";

const COLORS: Record<Availability, string> = {
  up: "var(--mantine-color-green-6)",
  down: "var(--mantine-color-red-6)",
  unknown: "var(--mantine-color-gray-3)",
};

/** Renders a horizontal bar of up/down periods over the last `days` days, oldest on the left. */
export function AvailabilityTimeline({
  events,
  days = 7,
  now,
}: {
  events: HostEvent[];
  days?: number;
  now: number;
}) {
  const from = now - days * 24 * 60 * 60 * 1000;
  const periods = availabilityPeriods(events, from, now);
  const ratio = uptimeRatio(periods);
  const downCount = periods.filter((period) => period.state === "down").length;

  return (
    <Stack gap={4}>
      <Box
        style={{
          display: "flex",
          height: 24,
          borderRadius: 4,
          overflow: "hidden",
        }}
        role="img"
        aria-label={`Availability over the last ${days} days`}
        data-testid="availability-timeline"
      >
        {periods.map((period) => (
          <Tooltip
            key={period.start}
            label={`${period.state}: ${formatAbsolute(period.start)} to ${formatAbsolute(period.end)} (${formatDuration(period.end - period.start)})`}
          >
            <Box
              style={{
                flexGrow: period.end - period.start,
                flexBasis: 0,
                background: COLORS[period.state],
                minWidth: 2,
              }}
            />
          </Tooltip>
        ))}
      </Box>
      <Group justify="space-between">
        <Text size="xs" c="dimmed">
          {days} days ago
        </Text>
        <Text size="xs" c="dimmed">
          {ratio === null
            ? "No availability data yet"
            : `${(ratio * 100).toFixed(2)}% up, ${downCount} outage${downCount === 1 ? "" : "s"}`}
        </Text>
        <Text size="xs" c="dimmed">
          now
        </Text>
      </Group>
    </Stack>
  );
}
