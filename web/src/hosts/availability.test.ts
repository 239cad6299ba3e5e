import { describe, expect, it } from "vitest";
import { availabilityPeriods, uptimeRatio } from "./availability";

const HOUR = 3_600_000;
const at = (hours: number) =>
  new Date(Date.UTC(2026, 0, 1) + hours * HOUR).toISOString();
const base = Date.UTC(2026, 0, 1);

describe("availabilityPeriods", () => {
  it("is unknown without events", () => {
    expect(availabilityPeriods([], base, base + 10 * HOUR)).toEqual([
      { state: "unknown", start: base, end: base + 10 * HOUR },
    ]);
  });

  it("splits the window at transitions", () => {
    const events = [
      { id: 1, kind: "registered", at: at(1) },
      { id: 2, kind: "up", at: at(1) },
      { id: 3, kind: "down", at: at(5) },
      { id: 4, kind: "up", at: at(6) },
    ];
    expect(availabilityPeriods(events, base, base + 10 * HOUR)).toEqual([
      { state: "unknown", start: base, end: base + 1 * HOUR },
      { state: "up", start: base + 1 * HOUR, end: base + 5 * HOUR },
      { state: "down", start: base + 5 * HOUR, end: base + 6 * HOUR },
      { state: "up", start: base + 6 * HOUR, end: base + 10 * HOUR },
    ]);
  });

  it("carries the state from before the window", () => {
    const events = [
      { id: 2, kind: "down", at: at(-3) },
      { id: 1, kind: "up", at: at(-5) },
    ];
    expect(availabilityPeriods(events, base, base + 2 * HOUR)).toEqual([
      { state: "down", start: base, end: base + 2 * HOUR },
    ]);
  });

  it("ignores repeated states and unparsable times", () => {
    const events = [
      { id: 1, kind: "up", at: at(1) },
      { id: 2, kind: "up", at: at(2) },
      { id: 3, kind: "down", at: "not a time" },
      { id: 4, kind: "down", at: null },
    ];
    expect(availabilityPeriods(events, base, base + 4 * HOUR)).toHaveLength(2);
  });
});

describe("uptimeRatio", () => {
  it("counts known time only", () => {
    const periods = [
      { state: "unknown" as const, start: 0, end: 10 },
      { state: "up" as const, start: 10, end: 40 },
      { state: "down" as const, start: 40, end: 50 },
    ];
    expect(uptimeRatio(periods)).toBe(0.75);
  });

  it("is null without known time", () => {
    expect(uptimeRatio([{ state: "unknown", start: 0, end: 10 }])).toBeNull();
  });
});
