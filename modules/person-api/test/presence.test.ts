/**
 * The attendee's presence answers over HTTP on a real database: GET /api/persons/{id}/visits and
 * /shared read the visits and attendance the writer derives (stored here directly: the writer's
 * own tests and test/e2e/presence.test.ts cover the deriving), /shared counts meetings from the
 * stored pings with the live rule, and /meetings/live relays the Watch stream as Server-Sent Events
 * (an in-memory Watch here; the real one in test/e2e/presence.test.ts).
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { bearer } from '../../../test/support/auth';
import { squareAt } from '../../../test/support/squares';
import { InMemoryMeetingWatcher } from './fakes';
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
const watcher = new InMemoryMeetingWatcher();
beforeAll(async () => {
  h = await startTestPersonApi('presence', { meetings: watcher });
});
afterAll(() => h.close());

const LAT = 37.7842;
const LON = -122.4016;
/** Degrees per meter here. */
const DLAT = 1 / 111_000;
const DLON = 1 / 88_000;
/** A square of `side` meters with its south-west corner `east` meters east of LON. */
const square = (east: number, side: number) => squareAt({ latitude: LAT, longitude: LON, degreesPerMeter: { north: DLAT, east: DLON } }, east, 0, side);
const T = (hhmm: string) => `2026-05-05T${hhmm}:00.000Z`;

let event: number;
let boothA: number;
let boothB: number;
let room: number;
let talk: number;
let ada: number;
let bob: number;
let cy: number;

async function person(first: string): Promise<number> {
  return (await h.http.post('/api/persons').send({ first_name: first, last_name: 'Test', company_name: 'Co' }).expect(201)).body.id;
}

async function ping(personId: number, hhmmss: string, metersEast: number, metersNorth: number) {
  await h.knex.raw(`INSERT INTO location (person_id, coordinate, creation_time, event_id) VALUES (?, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?, ?)`, [
    personId,
    LON + metersEast * DLON,
    LAT + metersNorth * DLAT,
    `2026-05-05T${hhmmss}.000Z`,
    randomUUID(),
  ]);
}

beforeAll(async () => {
  event = (
    await h.http
      .post('/api/events')
      .send({ name: 'Presence conf', starts_at: T('08:00'), ends_at: T('18:00') })
      .expect(201)
  ).body.id;
  const venue = await h.http
    .post(`/api/events/${event}/venue`)
    .send({
      places: [
        { name: 'Booth A', kind: 'booth', area: square(0, 5) },
        { name: 'Booth B', kind: 'booth', area: square(20, 5) },
        { name: 'Room 1', kind: 'room', area: square(40, 20) },
      ],
      sessions: [{ title: 'Keynote', place: 'Room 1', starts_at: T('11:00'), ends_at: T('12:00') }],
    })
    .expect(201);
  [boothA, boothB, room] = venue.body.places.map((p: { id: number }) => p.id);
  talk = venue.body.sessions[0].id;
  [ada, bob, cy] = [await person('Ada'), await person('Bob'), await person('Cy')];

  const visit = (p: number, place: number, from: string, to: string) => ({
    person_id: p,
    event_id: event,
    place_id: place,
    first_seen: T(from),
    last_seen: T(to),
  });
  await h
    .knex('visit')
    .insert([
      visit(ada, boothA, '10:00', '10:05'),
      visit(ada, boothB, '10:10', '10:13'),
      visit(ada, boothA, '10:30', '10:32'),
      visit(ada, room, '10:55', '12:00'),
      visit(bob, boothA, '10:01', '10:04'),
      visit(bob, room, '10:58', '11:40'),
      visit(cy, boothB, '14:00', '14:03'),
    ]);
  await h.knex('attendance').insert([
    { person_id: ada, event_id: event, session_id: talk, seconds_inside: 3600 },
    { person_id: bob, event_id: event, session_id: talk, seconds_inside: 2400 },
  ]);

  // Ada and Bob at booth A: 2 m apart at 10:01:00 and 10:01:30, again at 10:02 (the same meeting:
  // within 30 minutes), and at 10:45 (a second one); Cy 30 m away at 10:01 (no meeting).
  await ping(ada, '10:01:00', 2, 2);
  await ping(bob, '10:01:30', 4, 2);
  await ping(ada, '10:02:00', 2, 2.5);
  await ping(bob, '10:02:10', 3, 3);
  await ping(ada, '10:45:00', 1, 1);
  await ping(bob, '10:45:20', 1, 3);
  await ping(cy, '10:01:10', 32, 2);
});

describe('GET /api/persons/{id}/visits', () => {
  test('places visited (by first visit), minutes and visit counts; sessions attended', async () => {
    const res = await request(h.app)
      .get(`/api/persons/${ada}/visits?event_id=${event}`)
      .set(bearer(await h.auth.attendee(ada)))
      .expect(200);
    expect(res.body).toEqual({
      event_id: event,
      person_id: ada,
      places: [
        { place: { id: boothA, name: 'Booth A', kind: 'booth' }, first_seen: T('10:00'), last_seen: T('10:32'), minutes: 7, visits: 2 },
        { place: { id: boothB, name: 'Booth B', kind: 'booth' }, first_seen: T('10:10'), last_seen: T('10:13'), minutes: 3, visits: 1 },
        { place: { id: room, name: 'Room 1', kind: 'room' }, first_seen: T('10:55'), last_seen: T('12:00'), minutes: 65, visits: 1 },
      ],
      sessions: [{ session: { id: talk, title: 'Keynote', place_id: room, starts_at: T('11:00'), ends_at: T('12:00') }, minutes_inside: 60 }],
    });
  });

  test('another event, or none yet: empty lists', async () => {
    const other = (
      await h.http
        .post('/api/events')
        .send({ name: 'Empty conf', starts_at: T('08:00'), ends_at: T('18:00') })
        .expect(201)
    ).body.id;
    const res = await h.http.get(`/api/persons/${ada}/visits?event_id=${other}`).expect(200);
    expect(res.body).toEqual({ event_id: other, person_id: ada, places: [], sessions: [] });
  });

  test('who may ask: the person and organizers; not another attendee, not without a token', async () => {
    await h.http.get(`/api/persons/${ada}/visits?event_id=${event}`).expect(200);
    await request(h.app)
      .get(`/api/persons/${ada}/visits?event_id=${event}`)
      .set(bearer(await h.auth.attendee(bob)))
      .expect(403);
    await request(h.app).get(`/api/persons/${ada}/visits?event_id=${event}`).expect(401);
  });

  test('clear errors: no event_id, a bad one, an unknown event or person', async () => {
    const missing = await h.http.get(`/api/persons/${ada}/visits`).expect(400);
    expect(missing.body.errors.map((e: { field: string }) => e.field)).toEqual(['event_id']);
    await h.http.get(`/api/persons/${ada}/visits?event_id=abc`).expect(400);
    expect((await h.http.get(`/api/persons/${ada}/visits?event_id=999999`).expect(404)).body.detail).toBe('No event with id 999999');
    expect((await h.http.get(`/api/persons/999999/visits?event_id=${event}`).expect(404)).body.detail).toBe('No person with id 999999');
  });
});

describe('GET /api/persons/{id}/shared', () => {
  test('one entry per other person: shared places, sessions and meetings, most shared first', async () => {
    const res = await request(h.app)
      .get(`/api/persons/${ada}/shared?event_id=${event}`)
      .set(bearer(await h.auth.attendee(ada)))
      .expect(200);
    expect(res.body).toEqual({
      event_id: event,
      person_id: ada,
      shared: [
        {
          person: { id: bob, first_name: 'Bob', last_name: 'Test', company_name: 'Co' },
          places: [
            { id: boothA, name: 'Booth A', kind: 'booth' },
            { id: room, name: 'Room 1', kind: 'room' },
          ],
          sessions: [{ id: talk, title: 'Keynote', place_id: room, starts_at: T('11:00'), ends_at: T('12:00') }],
          // 10:01–10:02 at booth A is one meeting (within the 30-minute cooldown); 10:45 another.
          meetings: 2,
        },
        {
          person: { id: cy, first_name: 'Cy', last_name: 'Test', company_name: 'Co' },
          places: [{ id: boothB, name: 'Booth B', kind: 'booth' }],
          sessions: [],
          meetings: 0,
        },
      ],
    });
  });

  test('the same answer seen from Bob: symmetric', async () => {
    const res = await h.http.get(`/api/persons/${bob}/shared?event_id=${event}`).expect(200);
    expect(res.body.shared.map((s: { person: { id: number }; meetings: number }) => [s.person.id, s.meetings])).toEqual([[ada, 2]]);
  });

  test('a person who opts out of discovery leaves the others’ answers, and comes back on opting in', async () => {
    await h.http.patch(`/api/persons/${cy}`).send({ discoverable: false }).expect(200);
    const without = await h.http.get(`/api/persons/${ada}/shared?event_id=${event}`).expect(200);
    expect(without.body.shared.map((s: { person: { id: number } }) => s.person.id)).toEqual([bob]);
    // Their own answer still works.
    const own = await h.http.get(`/api/persons/${cy}/shared?event_id=${event}`).expect(200);
    expect(own.body.shared.map((s: { person: { id: number } }) => s.person.id)).toEqual([ada]);
    await h.http.patch(`/api/persons/${cy}`).send({ discoverable: true }).expect(200);
  });

  test('another attendee may not ask', async () => {
    await request(h.app)
      .get(`/api/persons/${ada}/shared?event_id=${event}`)
      .set(bearer(await h.auth.attendee(cy)))
      .expect(403);
  });
});

describe('GET /api/persons/{id}/meetings/live', () => {
  /** Reads the SSE response until `until` matches what has arrived. */
  async function readUntil(body: ReadableStream<Uint8Array>, until: (text: string) => boolean): Promise<string> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!until(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    reader.releaseLock();
    return text;
  }

  test('relays the Watch stream of the person, with the caller’s own token, as meeting events', async () => {
    const token = await h.auth.attendee(ada);
    const abort = new AbortController();
    const res = await fetch(`${h.url}/api/persons/${ada}/meetings/live`, { headers: bearer(token), signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    await readUntil(res.body!, (t) => t.includes(': connected'));
    const stream = watcher.streams.at(-1)!;
    expect(stream).toMatchObject({ personId: ada, authorization: `Bearer ${token}`, cancelled: false });

    watcher.emit(ada, {
      otherPersonId: bob,
      at: new Date('2026-05-05T10:01:30.000Z'),
      placeId: boothA,
      distanceMeters: 2.0049,
      latitude: 37.78422,
      longitude: -122.40157,
      eventId: event,
      placeName: 'Booth A',
      otherFirstName: 'Bob',
      otherLastName: '<b>Test</b>',
    });
    const text = await readUntil(res.body!, (t) => t.includes('event: meeting'));
    const data = /event: meeting\ndata: (.*)\n\n/.exec(text)![1]!;
    expect(JSON.parse(data)).toEqual({
      other_person: { id: bob, first_name: 'Bob', last_name: '<b>Test</b>' },
      at: '2026-05-05T10:01:30.000Z',
      place: { id: boothA, name: 'Booth A' },
      event_id: event,
      latitude: 37.78422,
      longitude: -122.40157,
      distance_meters: 2,
    });

    // The client going away cancels the upstream stream.
    abort.abort();
    for (let i = 0; i < 50 && !stream.cancelled; i++) await new Promise((r) => setTimeout(r, 20));
    expect(stream.cancelled).toBe(true);
  });

  test('an upstream end is told as a last `end` event, then the response ends', async () => {
    const res = await fetch(`${h.url}/api/persons/${bob}/meetings/live`, { headers: bearer(await h.auth.attendee(bob)) });
    await readUntil(res.body!, (t) => t.includes(': connected'));
    watcher.streams.at(-1)!.handlers.onEnd({ code: 14, details: 'Kafka unreachable' });
    const text = await readUntil(res.body!, () => false);
    expect(text).toContain('event: end\ndata: {"reason":"UNAVAILABLE: Kafka unreachable"}\n\n');
  });

  test('who may listen: the person and organizers; 403 for another attendee, 401 without a token, 404 for nobody', async () => {
    await request(h.app)
      .get(`/api/persons/${ada}/meetings/live`)
      .set(bearer(await h.auth.attendee(bob)))
      .expect(403);
    await request(h.app).get(`/api/persons/${ada}/meetings/live`).expect(401);
    await h.http.get('/api/persons/999999/meetings/live').expect(404);
  });
});
