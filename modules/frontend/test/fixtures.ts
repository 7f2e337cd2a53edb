import { vi } from 'vitest';
import type { Location, Me, Person, PersonConnection } from '../src/api';

/** Look like JWTs (three base64url parts); the stubbed API decides what they mean. */
export const ORGANIZER_TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJyb2xlIjoib3JnYW5pemVyIn0.b3JnYW5pemVyLXNpZw';
export const ATTENDEE_TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJyb2xlIjoiYXR0ZW5kZWUifQ.YXR0ZW5kZWUtc2ln';
export const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
export const organizerMe = (): Me => ({ role: 'organizer', person_id: null, expires_at: inAnHour() });

export const persons: Person[] = [
  { id: 1, first_name: 'Pam', last_name: 'Trexler', company_name: 'Hampton, Hampton and McQuill' },
  { id: 5, first_name: 'Taco', last_name: 'Fargo', company_name: 'Alpha Omega Upholstery' },
  { id: 6, first_name: 'Frank', last_name: 'Shader', company_name: 'USDA' },
];

export const loc = (id: number, person_id: number, t: string): Location => ({
  id,
  person_id,
  latitude: '37.553441',
  longitude: '-122.290524',
  creation_time: t,
});

export const connections: PersonConnection[] = [
  {
    person: persons[0]!,
    first_met: '2020-08-15T10:37:06Z',
    last_met: '2020-08-18T10:37:06Z',
    match_count: 2,
    closest_distance_meters: 0,
    meeting_points: [loc(30, 1, '2020-08-15T10:37:06Z'), loc(31, 1, '2020-08-18T10:37:06Z')],
  },
];

type Answer = { status?: number; body: unknown };
export type Handler = (url: URL, init: RequestInit | undefined) => Answer | Promise<Answer>;

/** The URL fetch was called with, whichever form it took (a string, a URL or a Request). */
const requestUrl = (input: RequestInfo | URL) => new URL(input instanceof Request ? input.url : input, 'http://test.local');

/** Stubs fetch with a router over the request URL; returns the mock to inspect calls. */
export function stubApi(handler: Handler) {
  const mock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = requestUrl(input);
    const { status = 200, body } = await handler(url, init);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', mock);
  return mock;
}

export const calledUrls = (mock: ReturnType<typeof stubApi>) => mock.mock.calls.map((c) => requestUrl(c[0]));
/** The Authorization header of each call, in order. */
export const calledAuth = (mock: ReturnType<typeof stubApi>) => mock.mock.calls.map((c) => new Headers(c[1]?.headers).get('authorization'));
export const bearer = (init: RequestInit | undefined) => new Headers(init?.headers).get('authorization');

/** The default API, for the organizer's token: three persons, person 5 met person 1. */
export const defaultApi: Handler = (url) => {
  if (url.pathname === '/api/me') return { body: organizerMe() };
  if (url.pathname === '/api/persons') return { body: persons };
  if (/^\/api\/persons\/\d+\/connection$/.test(url.pathname)) return { body: url.pathname.includes('/5/') ? connections : [] };
  if (/^\/api\/persons\/\d+\/locations$/.test(url.pathname)) return { body: [loc(40, 5, '2020-08-15T10:37:06Z')] };
  return { status: 404, body: { title: 'Not Found', status: 404 } };
};
