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

export type Role = 'organizer' | 'attendee';

/** GET /api/me: who the token speaks for. An attendee's answer carries their Person record. */
export interface Me {
  /** A Role for this page; other roles (a service's) may appear and cannot use it. */
  role: string;
  person_id: number | null;
  expires_at: string;
  person?: Person;
}

/** Where the API is and the bearer token to call it with. */
export interface ApiContext {
  /** Prefix for API calls; '' = same origin (the frontend server proxies /api). */
  base: string;
  token: string;
}

class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** 401: the token is missing, malformed, expired or revoked. The page drops it and asks again. */
export class UnauthorizedError extends ApiError {
  constructor(message: string) {
    super(message, 401);
    this.name = 'UnauthorizedError';
  }
}

async function getJson<T>(ctx: ApiContext, path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${ctx.base}${path}`, {
      signal,
      headers: { accept: 'application/json', authorization: `Bearer ${ctx.token}` },
      // Bearer tokens only: never send or accept cookies; personal data stays out of the HTTP cache.
      credentials: 'omit',
      cache: 'no-store',
    });
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
    const message = `The API answered ${res.status}${detail ? `: ${detail}` : ''}.`;
    if (res.status === 401) throw new UnauthorizedError(message);
    throw new ApiError(message, res.status);
  }
  return (await res.json()) as T;
}

const mePath = () => '/api/me';
const personsPath = () => '/api/persons';
const personPath = (id: number) => `/api/persons/${id}`;

function connectionsPath(id: number, p: QueryParams): string {
  const q = new URLSearchParams({ start_date: p.startDate, end_date: p.endDate, distance: p.distance, group_by: 'person' });
  if (p.timeWindow.trim() !== '') q.set('time_window', p.timeWindow.trim());
  return `/api/persons/${id}/connection?${q}`;
}

function locationsPath(id: number, p: QueryParams): string {
  const q = new URLSearchParams({ start_date: p.startDate, end_date: p.endDate });
  return `/api/persons/${id}/locations?${q}`;
}

export const fetchMe = (ctx: ApiContext, signal?: AbortSignal) => getJson<Me>(ctx, mePath(), signal);
export const fetchPersons = (ctx: ApiContext, signal?: AbortSignal) => getJson<Person[]>(ctx, personsPath(), signal);
export const fetchPerson = (ctx: ApiContext, id: number, signal?: AbortSignal) => getJson<Person>(ctx, personPath(id), signal);
export const fetchConnections = (ctx: ApiContext, id: number, p: QueryParams, signal?: AbortSignal) =>
  getJson<PersonConnection[]>(ctx, connectionsPath(id, p), signal);
export const fetchLocations = (ctx: ApiContext, id: number, p: QueryParams, signal?: AbortSignal) => getJson<Location[]>(ctx, locationsPath(id, p), signal);

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

// Events (docs/contract.md §2.3) and presence (docs/architecture.md, "Where presence and meetings come from").

/** GET /api/events: a conference. Times are ISO 8601 (UTC). */
export interface ConferenceEvent {
  id: number;
  name: string;
  starts_at: string;
  ends_at: string;
}
export type PlaceKind = 'booth' | 'room' | 'area';
/** GeoJSON Polygon: rings of [longitude, latitude], the first the outline, the others holes. */
interface Polygon {
  type: 'Polygon';
  coordinates: number[][][];
}
export interface Place {
  id: number;
  event_id: number;
  name: string;
  kind: PlaceKind;
  area: Polygon;
}
/** A talk, held in one place of the event. */
export interface EventSession {
  id: number;
  event_id: number;
  place_id: number;
  title: string;
  starts_at: string;
  ends_at: string;
}
interface PlaceRef {
  id: number;
  name: string;
  kind: PlaceKind;
}
type SessionRef = Omit<EventSession, 'event_id'>;
/** GET /api/persons/{id}/visits?event_id=E */
export interface PersonVisits {
  event_id: number;
  person_id: number;
  /** One entry per place visited, over all the visits there. */
  places: Array<{ place: PlaceRef; first_seen: string; last_seen: string; minutes: number; visits: number }>;
  /** The sessions attended. */
  sessions: Array<{ session: SessionRef; minutes_inside: number }>;
}
export interface SharedWith {
  person: Person;
  places: PlaceRef[];
  sessions: SessionRef[];
  meetings: number;
}
/** GET /api/persons/{id}/shared?event_id=E: most shared first. */
export interface PersonShared {
  event_id: number;
  person_id: number;
  shared: SharedWith[];
}

const eventQuery = (eventId: number) => new URLSearchParams({ event_id: String(eventId) });

export const fetchEvents = (ctx: ApiContext, signal?: AbortSignal) => getJson<ConferenceEvent[]>(ctx, '/api/events', signal);
export const fetchPlaces = (ctx: ApiContext, eventId: number, signal?: AbortSignal) => getJson<Place[]>(ctx, `/api/events/${eventId}/places`, signal);
export const fetchSessions = (ctx: ApiContext, eventId: number, signal?: AbortSignal) =>
  getJson<EventSession[]>(ctx, `/api/events/${eventId}/sessions`, signal);
export const fetchVisits = (ctx: ApiContext, personId: number, eventId: number, signal?: AbortSignal) =>
  getJson<PersonVisits>(ctx, `/api/persons/${personId}/visits?${eventQuery(eventId)}`, signal);
export const fetchShared = (ctx: ApiContext, personId: number, eventId: number, signal?: AbortSignal) =>
  getJson<PersonShared>(ctx, `/api/persons/${personId}/shared?${eventQuery(eventId)}`, signal);
/** The live meetings of a person: Server-Sent Events (sse.ts reads them). */
export const liveMeetingsPath = (personId: number) => `/api/persons/${personId}/meetings/live`;
