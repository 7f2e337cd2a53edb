/** Typed calls to person-api. Errors carry the problem+json detail when the API sends one. */
export interface Person {
  id: number;
  first_name: string;
  last_name: string;
  company_name: string;
}
export interface Location {
  id: number;
  person_id: number;
  latitude: string;
  longitude: string;
  creation_time: string;
}
export interface PersonConnection {
  person: Person;
  first_met: string;
  last_met: string;
  match_count: number;
  closest_distance_meters: number;
  meeting_points: Location[];
}
export interface QueryParams {
  startDate: string;
  endDate: string;
  /** meters */
  distance: string;
  /** minutes; empty = any time */
  timeWindow: string;
}

export const defaultParams: QueryParams = { startDate: '2020-01-01', endDate: '2020-12-30', distance: '5', timeWindow: '' };

export class ApiError extends Error {}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json' } });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(`The API cannot be reached (${(err as Error).message}).`);
  }
  if (!res.ok) {
    let detail = '';
    try {
      const body = (await res.json()) as { detail?: string; title?: string };
      detail = body.detail ?? body.title ?? '';
    } catch {
      /* not JSON */
    }
    throw new ApiError(`The API answered ${res.status}${detail ? `: ${detail}` : ''}.`);
  }
  return (await res.json()) as T;
}

export function personsUrl(base: string): string {
  return `${base}/api/persons`;
}

export function connectionsUrl(base: string, id: number, p: QueryParams): string {
  const q = new URLSearchParams({ start_date: p.startDate, end_date: p.endDate, distance: p.distance, group_by: 'person' });
  if (p.timeWindow.trim() !== '') q.set('time_window', p.timeWindow.trim());
  return `${base}/api/persons/${id}/connection?${q}`;
}

export function locationsUrl(base: string, id: number, p: QueryParams): string {
  const q = new URLSearchParams({ start_date: p.startDate, end_date: p.endDate });
  return `${base}/api/persons/${id}/locations?${q}`;
}

export const fetchPersons = (base: string, signal?: AbortSignal) => getJson<Person[]>(personsUrl(base), signal);
export const fetchConnections = (base: string, id: number, p: QueryParams, signal?: AbortSignal) =>
  getJson<PersonConnection[]>(connectionsUrl(base, id, p), signal);
export const fetchLocations = (base: string, id: number, p: QueryParams, signal?: AbortSignal) =>
  getJson<Location[]>(locationsUrl(base, id, p), signal);

/** Checks the controls before asking the API; returns a message for the user or null. */
export function validateParams(p: QueryParams): string | null {
  const date = /^\d{4}-\d{2}-\d{2}$/;
  if (!date.test(p.startDate)) return 'Enter a start date.';
  if (!date.test(p.endDate)) return 'Enter an end date.';
  if (p.endDate < p.startDate) return 'The end date is before the start date.';
  const d = Number(p.distance);
  if (p.distance.trim() === '' || !Number.isFinite(d) || d <= 0 || d > 10000) return 'Distance must be more than 0 and at most 10000 m.';
  if (p.timeWindow.trim() !== '') {
    const w = Number(p.timeWindow);
    if (!Number.isFinite(w) || w <= 0) return 'Time window must be a positive number of minutes (or empty).';
  }
  return null;
}

export const fullName = (p: Person) => `${p.first_name} ${p.last_name}`;
