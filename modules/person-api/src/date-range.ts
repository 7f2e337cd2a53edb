import { z } from 'zod';

/** A calendar date YYYY-MM-DD that exists (2020-02-30 and 2020-13-01 are refused), as UTC midnight. */
export const isoDate = (description: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date written YYYY-MM-DD')
    .refine((s) => {
      const d = new Date(`${s}T00:00:00Z`);
      return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
    }, 'is not a real calendar date')
    .meta({ description, example: '2020-01-01' });

const DAY_MS = 86_400_000;

/** Whole UTC days, both ends included: [start 00:00, end + 1 day). */
export function dayRange(startDate: string, endDate: string): { start: Date; end: Date } {
  return { start: new Date(`${startDate}T00:00:00Z`), end: new Date(new Date(`${endDate}T00:00:00Z`).getTime() + DAY_MS) };
}

export const daysBetween = (startDate: string, endDate: string) =>
  (new Date(`${endDate}T00:00:00Z`).getTime() - new Date(`${startDate}T00:00:00Z`).getTime()) / DAY_MS;
