import { Text, Tooltip } from "@mantine/core";
import { formatAbsolute, parseTime } from "./time";
import { useNow } from "./useNow";

/** Shows "5 minutes ago", with the absolute time in the browser's time zone on hover. */
export function RelativeTime({
  value,
  empty = "never",
}: {
  value: string | number | null | undefined;
  empty?: string;
}) {
  const now = useNow(30_000);
  const time = parseTime(value);
  if (!time) {
    return (
      <Text span c="dimmed" size="sm">
        {empty}
      </Text>
    );
  }
  const label = time.isAfter(now) ? "just now" : time.from(now);
  return (
    <Tooltip label={formatAbsolute(value)} withArrow>
      <Text
        span
        size="sm"
        component="time"
        dateTime={time.toISOString()}
        title={formatAbsolute(value)}
      >
        {label}
      </Text>
    </Tooltip>
  );
}
