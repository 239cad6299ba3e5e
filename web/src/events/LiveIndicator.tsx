import { Badge, Tooltip } from "@mantine/core";
import type { LiveMode } from "./liveEvents";

const LABELS: Record<LiveMode, { text: string; color: string; help: string }> =
  {
    live: {
      text: "Live",
      color: "green",
      help: "Changes appear as they happen.",
    },
    connecting: {
      text: "Connecting",
      color: "gray",
      help: "Opening the live event stream.",
    },
    polling: {
      text: "Polling",
      color: "yellow",
      help: "The live event stream is unavailable, so the data is reloaded every 15 seconds.",
    },
  };

export function LiveIndicator({ mode }: { mode: LiveMode }) {
  const label = LABELS[mode];
  return (
    <Tooltip label={label.help}>
      <Badge color={label.color} variant="dot" data-testid="live-mode">
        {label.text}
      </Badge>
    </Tooltip>
  );
}
