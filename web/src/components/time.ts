import dayjs from "dayjs";
import relativeTime from "dayjs/plugin/relativeTime";

dayjs.extend(relativeTime);

/** Parses an API time (RFC 3339 string, or Unix milliseconds) or returns null. */
export function parseTime(
  value: string | number | null | undefined,
): dayjs.Dayjs | null {
  if (value === null || value === undefined || value === "") {
    return null;
  }
  const time = dayjs(value);
  return time.isValid() ? time : null;
}

/** Formats a time in the browser's time zone with its UTC offset, for tooltips and details. */
export function formatAbsolute(
  value: string | number | null | undefined,
): string {
  const time = parseTime(value);
  return time ? time.format("YYYY-MM-DD HH:mm:ss [UTC]Z") : "never";
}

/** Formats a duration in milliseconds as `2 d 3 h`, `4 h 5 min` or `12 min`. */
export function formatDuration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days > 0) {
    return `${days} d ${hours} h`;
  }
  if (hours > 0) {
    return `${hours} h ${rest} min`;
  }
  return `${rest} min`;
}

export { dayjs };
