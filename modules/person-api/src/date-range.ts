/** A calendar date YYYY-MM-DD that exists, with its exact pattern in the OpenAPI document. */
export { isoDate } from './http/fields';

const DAY_MS = 86_400_000;

/** Whole UTC days, both ends included: [start 00:00, end + 1 day). */
export function dayRange(startDate: string, endDate: string): { start: Date; end: Date } {
  return { start: new Date(`${startDate}T00:00:00Z`), end: new Date(new Date(`${endDate}T00:00:00Z`).getTime() + DAY_MS) };
}

export const daysBetween = (startDate: string, endDate: string) =>
  (new Date(`${endDate}T00:00:00Z`).getTime() - new Date(`${startDate}T00:00:00Z`).getTime()) / DAY_MS;
