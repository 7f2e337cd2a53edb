/**
 * Times as the page shows them: in UTC, as the API gives them ("2026-05-05 09:00 UTC"), the same
 * for every viewer whatever their time zone. Text that is no time is shown as it came.
 */
const isoOf = (t: string): string | null => {
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
};

/** "2026-05-05" */
export const utcDay = (t: string): string => isoOf(t)?.slice(0, 10) ?? t;
/** "09:05" */
export const utcClock = (t: string): string => isoOf(t)?.slice(11, 16) ?? t;
/** "09:05:30" */
export const utcClockSeconds = (t: string): string => isoOf(t)?.slice(11, 19) ?? t;

/** "09:00–09:45" within one day, else "2026-05-05 23:30 – 2026-05-06 00:15". */
export function utcSpan(from: string, to: string): string {
  if (utcDay(from) === utcDay(to)) return `${utcClock(from)}–${utcClock(to)}`;
  return `${utcDay(from)} ${utcClock(from)} – ${utcDay(to)} ${utcClock(to)}`;
}

/** "14 min", "2.5 min" (the API counts minutes to one decimal). */
export const minutesText = (m: number): string => `${Math.round(m * 10) / 10} min`;

/** "2026-05-05 09:00–09:45" within one day, else "2026-05-05 23:30 – 2026-05-06 00:15". */
export const utcDaySpan = (from: string, to: string): string => (utcDay(from) === utcDay(to) ? `${utcDay(from)} ${utcSpan(from, to)}` : utcSpan(from, to));
