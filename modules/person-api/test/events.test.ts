/**
 * Events and venues (docs/contract.md §2.3) over HTTP on a real database: organizers create events,
 * places (GeoJSON polygons, checked by PostGIS) and sessions, one by one or as a whole venue in
 * one transaction; any signed-in caller reads them.
 */
import request from 'supertest';
import { bearer } from '../../../test/support/auth';
import { demoVenue, DEMO_EVENT_NAME, seedDemoEvent } from '../../../scripts/simulator/demo-event';
import { DEFAULT_CENTER, metersPerDegree } from '../../../scripts/simulator/venue';
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startTestPersonApi('events');
});
afterAll(() => h.close());

const DAY = { starts_at: '2026-05-05T08:00:00.000Z', ends_at: '2026-05-05T18:00:00.000Z' };

/** A square `side` degrees wide with its south-west corner at (lon, lat), counterclockwise and closed. */
const square = (lon: number, lat: number, side = 0.0001) => ({
  type: 'Polygon',
  coordinates: [
    [
      [lon, lat],
      [lon + side, lat],
      [lon + side, lat + side],
      [lon, lat + side],
      [lon, lat],
    ],
  ],
});

async function newEvent(name = 'Test conference', times = DAY): Promise<number> {
  return (
    await h.http
      .post('/api/events')
      .send({ name, ...times })
      .expect(201)
  ).body.id;
}

async function newPlace(eventId: number, name: string, lon = -122.4016, kind = 'room'): Promise<number> {
  return (
    await h.http
      .post(`/api/events/${eventId}/places`)
      .send({ name, kind, area: square(lon, 37.7842) })
      .expect(201)
  ).body.id;
}

const fields = (res: { body: { errors?: Array<{ field: string }> } }) => res.body.errors!.map((e) => e.field);

describe('create and read', () => {
  test('an event, a place and a session: each GET answers exactly what the POST did', async () => {
    const event = await h.http.post('/api/events').send({ name: '  Cloud Summit ', starts_at: '2026-05-05T10:00:00+02:00', ends_at: DAY.ends_at }).expect(201);
    expect(event.body).toEqual({ id: expect.any(Number), name: 'Cloud Summit', starts_at: DAY.starts_at, ends_at: DAY.ends_at });
    expect(event.headers.location).toBe(`/api/events/${event.body.id}`);
    const e = event.body.id as number;

    const area = square(-122.4016, 37.7842);
    const place = await h.http.post(`/api/events/${e}/places`).send({ name: 'Room A', kind: 'room', area }).expect(201);
    expect(place.body).toEqual({ id: expect.any(Number), event_id: e, name: 'Room A', kind: 'room', area });
    expect(place.headers.location).toBe(`/api/events/${e}/places/${place.body.id}`);

    const session = await h.http
      .post(`/api/events/${e}/sessions`)
      .send({ title: 'Keynote', place_id: place.body.id, starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' })
      .expect(201);
    expect(session.body).toEqual({
      id: expect.any(Number),
      event_id: e,
      title: 'Keynote',
      place_id: place.body.id,
      starts_at: '2026-05-05T09:00:00.000Z',
      ends_at: '2026-05-05T10:00:00.000Z',
    });

    expect((await h.http.get(`/api/events/${e}`).expect(200)).body).toEqual(event.body);
    expect((await h.http.get('/api/events').expect(200)).body).toContainEqual(event.body);
    expect((await h.http.get(`/api/events/${e}/places`).expect(200)).body).toEqual([place.body]);
    expect((await h.http.get(`/api/events/${e}/places/${place.body.id}`).expect(200)).body).toEqual(place.body);
    expect((await h.http.get(`/api/events/${e}/sessions`).expect(200)).body).toEqual([session.body]);
    expect((await h.http.get(`/api/events/${e}/sessions/${session.body.id}`).expect(200)).body).toEqual(session.body);

    // Stored as geography with X = longitude.
    const { rows } = await h.knex.raw('SELECT ST_X(ST_StartPoint(ST_ExteriorRing(area::geometry))) AS lon FROM place WHERE id = ?', [place.body.id]);
    expect(rows[0].lon).toBe(-122.4016);
  });

  test('back-to-back sessions in one room are fine; sessions list in time order', async () => {
    const e = await newEvent();
    const room = await newPlace(e, 'Room B');
    const late = await h.http
      .post(`/api/events/${e}/sessions`)
      .send({ title: 'Second', place_id: room, starts_at: '2026-05-05T10:00:00Z', ends_at: '2026-05-05T11:00:00Z' })
      .expect(201);
    const early = await h.http
      .post(`/api/events/${e}/sessions`)
      .send({ title: 'First', place_id: room, starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' })
      .expect(201);
    expect((await h.http.get(`/api/events/${e}/sessions`).expect(200)).body).toEqual([early.body, late.body]);
  });
});

describe('400s name the field', () => {
  let e: number;
  let room: number;
  beforeAll(async () => {
    e = await newEvent('Validation conference');
    room = await newPlace(e, 'Main room');
    await h.http
      .post(`/api/events/${e}/sessions`)
      .send({ title: 'Opening', place_id: room, starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' })
      .expect(201);
  });

  test.each([
    ['ends before it starts', { name: 'X', starts_at: DAY.ends_at, ends_at: DAY.starts_at }, 'must be after starts_at'],
    ['ends when it starts', { name: 'X', starts_at: DAY.starts_at, ends_at: DAY.starts_at }, 'must be after starts_at'],
    ['lasts more than 31 days', { name: 'X', starts_at: '2026-05-01T00:00:00Z', ends_at: '2026-06-01T00:00:01Z' }, 'at most 31 days'],
  ])('an event that %s: 400 on ends_at', async (_what, body, message) => {
    const res = await h.http
      .post('/api/events')
      .send(body)
      .expect(400)
      .expect('content-type', /application\/problem\+json/);
    expect(res.body.errors).toEqual([{ field: 'ends_at', message: expect.stringContaining(message) }]);
  });

  test('an event without an offset, or named with control characters: 400 on the field', async () => {
    expect(fields(await h.http.post('/api/events').send({ name: 'X', starts_at: '2026-05-05T08:00:00', ends_at: DAY.ends_at }).expect(400))).toEqual([
      'starts_at',
    ]);
    expect(
      fields(
        await h.http
          .post('/api/events')
          .send({ name: 'A\u202Eb', ...DAY })
          .expect(400),
      ),
    ).toEqual(['name']);
  });

  test('a self-intersecting (bow-tie) polygon: 400 on area with PostGIS’s reason, nothing stored', async () => {
    const bowTie = {
      type: 'Polygon',
      coordinates: [
        [
          [-122.402, 37.784],
          [-122.401, 37.785],
          [-122.401, 37.784],
          [-122.402, 37.785],
          [-122.402, 37.784],
        ],
      ],
    };
    const res = await h.http.post(`/api/events/${e}/places`).send({ name: 'Bow tie', kind: 'booth', area: bowTie }).expect(400);
    expect(res.body.errors).toEqual([{ field: 'area', message: expect.stringMatching(/^is not a valid polygon: Self-intersection/) }]);
    expect(await h.knex('place').where({ name: 'Bow tie' })).toEqual([]);
  });

  test('an unclosed ring, too few positions, a wrong type: 400 naming the ring or field', async () => {
    const open = square(-122.4, 37.78);
    open.coordinates[0]![4] = [-122.39, 37.78];
    const res = await h.http.post(`/api/events/${e}/places`).send({ name: 'Open', kind: 'area', area: open }).expect(400);
    expect(res.body.errors).toEqual([{ field: 'area.coordinates.0', message: expect.stringContaining('not closed') }]);
    const short = {
      type: 'Polygon',
      coordinates: [
        [
          [-122.4, 37.78],
          [-122.39, 37.78],
          [-122.4, 37.78],
        ],
      ],
    };
    expect(fields(await h.http.post(`/api/events/${e}/places`).send({ name: 'Short', kind: 'area', area: short }).expect(400))).toEqual(['area.coordinates.0']);
    const point = { type: 'Point', coordinates: [-122.4, 37.78] };
    expect(fields(await h.http.post(`/api/events/${e}/places`).send({ name: 'Point', kind: 'area', area: point }).expect(400))).toContain('area.type');
    expect(
      fields(
        await h.http
          .post(`/api/events/${e}/places`)
          .send({ name: 'Kiosk', kind: 'kiosk', area: square(-122.4, 37.78) })
          .expect(400),
      ),
    ).toEqual(['kind']);
  });

  test('[latitude, longitude] swapped: the latitude -122.4 is out of range, each position named', async () => {
    const swapped = { type: 'Polygon', coordinates: [square(-122.4016, 37.7842).coordinates[0]!.map(([lon, lat]) => [lat, lon])] };
    const res = await h.http.post(`/api/events/${e}/places`).send({ name: 'Swapped', kind: 'booth', area: swapped }).expect(400);
    expect(fields(res)).toEqual([0, 1, 2, 3, 4].map((i) => `area.coordinates.0.${i}.1`));
    expect(res.body.errors[0].message).toContain('latitude must be in [-90, 90]');
    // A longitude past 180 is out of range too.
    const east = square(179.99995, 0);
    expect(fields(await h.http.post(`/api/events/${e}/places`).send({ name: 'East', kind: 'booth', area: east }).expect(400))).toContain(
      'area.coordinates.0.1.0',
    );
  });

  test('a place name the event already has: 400 on name', async () => {
    const res = await h.http
      .post(`/api/events/${e}/places`)
      .send({ name: 'Main room', kind: 'room', area: square(-122.4, 37.78) })
      .expect(400);
    expect(res.body.errors).toEqual([{ field: 'name', message: 'the event already has a place named "Main room"' }]);
  });

  test.each([
    ['starts before the event', '2026-05-05T07:30:00Z', '2026-05-05T08:30:00Z', ['starts_at']],
    ['ends after the event', '2026-05-05T17:30:00Z', '2026-05-05T18:30:00Z', ['ends_at']],
    ['lies after the event', '2026-05-06T09:00:00Z', '2026-05-06T10:00:00Z', ['starts_at', 'ends_at']],
    ['ends before it starts', '2026-05-05T12:00:00Z', '2026-05-05T11:00:00Z', ['ends_at']],
  ])('a session that %s: 400', async (_what, starts_at, ends_at, expected) => {
    const res = await h.http.post(`/api/events/${e}/sessions`).send({ title: 'Late', place_id: room, starts_at, ends_at }).expect(400);
    expect(fields(res)).toEqual(expected);
  });

  test('a session in a place of another event, or in no place: 400 on place_id', async () => {
    const other = await newEvent('Other conference');
    const otherRoom = await newPlace(other, 'Other room');
    for (const placeId of [otherRoom, 2_000_000_000]) {
      const res = await h.http
        .post(`/api/events/${e}/sessions`)
        .send({ title: 'Lost', place_id: placeId, starts_at: '2026-05-05T11:00:00Z', ends_at: '2026-05-05T12:00:00Z' })
        .expect(400);
      expect(res.body.errors).toEqual([{ field: 'place_id', message: `the event has no place ${placeId}` }]);
    }
  });

  test('a session overlapping another in the same room: 400 naming the other session', async () => {
    const [opening] = await h.knex('session').where({ event_id: e, title: 'Opening' });
    const res = await h.http
      .post(`/api/events/${e}/sessions`)
      .send({ title: 'Clash', place_id: room, starts_at: '2026-05-05T09:30:00Z', ends_at: '2026-05-05T10:30:00Z' })
      .expect(400);
    expect(res.body.errors).toEqual([
      {
        field: 'starts_at',
        message: `overlaps session ${opening.id} ("Opening", 2026-05-05T09:00:00.000Z to 2026-05-05T10:00:00.000Z) in the same place`,
      },
    ]);
    // Another room at the same time is fine.
    const side = await newPlace(e, 'Side room', -122.4);
    await h.http
      .post(`/api/events/${e}/sessions`)
      .send({ title: 'Parallel', place_id: side, starts_at: '2026-05-05T09:30:00Z', ends_at: '2026-05-05T10:30:00Z' })
      .expect(201);
  });

  test('the database refuses overlapping sessions itself (exclusion constraint), whoever writes', async () => {
    await expect(
      h.knex('session').insert({ event_id: e, place_id: room, title: 'Sneaky', starts_at: '2026-05-05T09:59:00Z', ends_at: '2026-05-05T10:01:00Z' }),
    ).rejects.toMatchObject({ code: '23P01', constraint: 'session_place_overlap' });
  });
});

describe('404s and access', () => {
  test('unknown event, place or session ids: 404 problem+json', async () => {
    const e = await newEvent('Lookup conference');
    const other = await newEvent('Another conference');
    const foreign = await newPlace(other, 'Foreign room');
    for (const path of [
      '/api/events/2000000000',
      '/api/events/2000000000/places',
      '/api/events/2000000000/sessions',
      `/api/events/${e}/places/2000000000`,
      `/api/events/${e}/places/${foreign}`,
      `/api/events/${e}/sessions/2000000000`,
    ]) {
      const res = await h.http
        .get(path)
        .expect(404)
        .expect('content-type', /application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 404, title: 'Not Found' });
    }
    await h.http
      .post('/api/events/2000000000/places')
      .send({ name: 'R', kind: 'room', area: square(-122.4, 37.78) })
      .expect(404);
    await h.http.post('/api/events/2000000000/venue').send({ places: [], sessions: [] }).expect(404);
    expect((await h.http.get('/api/events/0').expect(400)).body.errors).toEqual([expect.objectContaining({ field: 'event_id' })]);
  });

  test('an attendee may read (GET) but not write (403); no token is 401', async () => {
    const e = await newEvent('Access conference');
    const room = await newPlace(e, 'Access room');
    const attendee = bearer(await h.auth.attendee(5));
    for (const path of ['/api/events', `/api/events/${e}`, `/api/events/${e}/places`, `/api/events/${e}/places/${room}`, `/api/events/${e}/sessions`]) {
      await request(h.app).get(path).set(attendee).expect(200);
      await request(h.app)
        .get(path)
        .expect(401)
        .expect('www-authenticate', /Bearer/);
    }
    const writes: Array<[string, object]> = [
      ['/api/events', { name: 'Mine', ...DAY }],
      [`/api/events/${e}/places`, { name: 'Mine', kind: 'booth', area: square(-122.4, 37.78) }],
      [`/api/events/${e}/sessions`, { title: 'Mine', place_id: room, starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' }],
      [`/api/events/${e}/venue`, { places: [], sessions: [] }],
    ];
    for (const [path, body] of writes) {
      await request(h.app).post(path).set(attendee).send(body).expect(403);
      await request(h.app).post(path).send(body).expect(401);
    }
    expect(await h.knex('place').where({ event_id: e })).toHaveLength(1);
    expect(await h.knex('session').where({ event_id: e })).toHaveLength(0);
  });
});

describe('POST /api/events/{event_id}/venue', () => {
  test('3 places and 2 sessions in one request; the GETs list them', async () => {
    const e = await newEvent('Import conference');
    const body = {
      places: [
        { name: 'Hall', kind: 'area', area: square(-122.402, 37.784, 0.001) },
        { name: 'Room 1', kind: 'room', area: square(-122.4016, 37.7842) },
        { name: 'Booth 7', kind: 'booth', area: square(-122.4012, 37.7842, 0.00005) },
      ],
      sessions: [
        { title: 'Welcome', place: 'Room 1', starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T09:30:00Z' },
        { title: 'Demo', place: 'Booth 7', starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T09:30:00Z' },
      ],
    };
    const res = await h.http.post(`/api/events/${e}/venue`).send(body).expect(201);
    expect(res.body.places).toEqual(body.places.map((p) => ({ id: expect.any(Number), event_id: e, ...p })));
    const ids = Object.fromEntries(res.body.places.map((p: { name: string; id: number }) => [p.name, p.id]));
    expect(res.body.sessions).toEqual(
      body.sessions.map(({ place, ...s }) => ({
        id: expect.any(Number),
        event_id: e,
        ...s,
        place_id: ids[place],
        starts_at: s.starts_at.replace('Z', '.000Z'),
        ends_at: s.ends_at.replace('Z', '.000Z'),
      })),
    );
    expect((await h.http.get(`/api/events/${e}/places`).expect(200)).body).toEqual(res.body.places);
    expect((await h.http.get(`/api/events/${e}/sessions`).expect(200)).body).toEqual(res.body.sessions);

    // A second import may name the places the event has.
    const more = await h.http
      .post(`/api/events/${e}/venue`)
      .send({ places: [], sessions: [{ title: 'Q&A', place: 'Room 1', starts_at: '2026-05-05T09:30:00Z', ends_at: '2026-05-05T10:00:00Z' }] })
      .expect(201);
    expect(more.body).toEqual({ places: [], sessions: [expect.objectContaining({ title: 'Q&A', place_id: ids['Room 1'] })] });
  });

  test('one bad session: 400 naming it, and nothing of the import is stored', async () => {
    const e = await newEvent('Failed import conference');
    const sessions = [
      { title: 'Fine', place: 'Room 1', starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' },
      { title: 'Also fine', place: 'Room 1', starts_at: '2026-05-05T10:00:00Z', ends_at: '2026-05-05T11:00:00Z' },
      { title: 'Fine too', place: 'Room 2', starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' },
      { title: 'Too late', place: 'Room 2', starts_at: '2026-05-05T17:30:00Z', ends_at: '2026-05-05T19:00:00Z' },
    ];
    const places = [
      { name: 'Room 1', kind: 'room', area: square(-122.4016, 37.7842) },
      { name: 'Room 2', kind: 'room', area: square(-122.4014, 37.7842) },
    ];
    const res = await h.http.post(`/api/events/${e}/venue`).send({ places, sessions }).expect(400);
    expect(res.body.errors).toEqual([{ field: 'sessions.3.ends_at', message: expect.stringContaining('must be within the event') }]);
    expect(await h.knex('place').where({ event_id: e })).toEqual([]);
    expect(await h.knex('session').where({ event_id: e })).toEqual([]);
  });

  test.each([
    ['a session in an unknown place', (v: Venue) => void (v.sessions[1]!.place = 'Nowhere'), ['sessions.1.place']],
    ['two places of one name', (v: Venue) => void (v.places[1]!.name = 'Room 1'), ['places.1.name', 'sessions.1.place']],
    ['overlapping sessions in one room', (v: Venue) => void (v.sessions[1]!.place = 'Room 1'), ['sessions.1.starts_at']],
    [
      'a self-intersecting polygon',
      (v: Venue) =>
        void (v.places[1]!.area.coordinates[0] = [
          [0, 0],
          [1, 1],
          [1, 0],
          [0, 1],
          [0, 0],
        ]),
      ['places.1.area'],
    ],
    ['a session ending before it starts', (v: Venue) => void (v.sessions[0]!.ends_at = '2026-05-05T08:30:00Z'), ['sessions.0.ends_at']],
  ])('%s: 400 naming the item, nothing stored', async (_what, spoil, expected) => {
    const e = await newEvent('Spoiled import conference');
    const venue: Venue = {
      places: [
        { name: 'Room 1', kind: 'room', area: square(-122.4016, 37.7842) },
        { name: 'Room 2', kind: 'room', area: square(-122.4014, 37.7842) },
      ],
      sessions: [
        { title: 'A', place: 'Room 1', starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' },
        { title: 'B', place: 'Room 2', starts_at: '2026-05-05T09:30:00Z', ends_at: '2026-05-05T10:30:00Z' },
      ],
    };
    spoil(venue);
    const res = await h.http.post(`/api/events/${e}/venue`).send(venue).expect(400);
    expect(fields(res)).toEqual(expected);
    expect(await h.knex('place').where({ event_id: e })).toEqual([]);
  });

  test('a session overlapping a stored one in an existing room: 400 naming the stored session', async () => {
    const e = await newEvent('Second import conference');
    const room = await newPlace(e, 'Room 1');
    const stored = await h.http
      .post(`/api/events/${e}/sessions`)
      .send({ title: 'Stored', place_id: room, starts_at: '2026-05-05T09:00:00Z', ends_at: '2026-05-05T10:00:00Z' })
      .expect(201);
    const res = await h.http
      .post(`/api/events/${e}/venue`)
      .send({ places: [], sessions: [{ title: 'New', place: 'Room 1', starts_at: '2026-05-05T09:45:00Z', ends_at: '2026-05-05T10:15:00Z' }] })
      .expect(400);
    expect(res.body.errors).toEqual([{ field: 'sessions.0.starts_at', message: expect.stringContaining(`overlaps session ${stored.body.id} ("Stored"`) }]);
  });

  test('takes a body over 16 kB (up to 2 MB) on this route; a place up to 64 kB', async () => {
    const e = await newEvent('Large import conference');
    const places = Array.from({ length: 300 }, (_, i) => ({ name: `Booth ${i + 1}`, kind: 'booth', area: square(-122.41 + i * 0.0001, 37.78, 0.00005) }));
    expect(JSON.stringify({ places, sessions: [] }).length).toBeGreaterThan(40_000);
    const res = await h.http.post(`/api/events/${e}/venue`).send({ places, sessions: [] }).expect(201);
    expect(res.body.places).toHaveLength(300);
    // Larger than 64 kB is too large for a single place, larger than 16 kB elsewhere.
    await h.http
      .post(`/api/events/${e}/places`)
      .send({ name: 'x', kind: 'booth', area: square(-122.4, 37.78), padding: 'x'.repeat(70_000) })
      .expect(413);
    await h.http
      .post('/api/events')
      .send({ name: 'x', ...DAY, padding: 'x'.repeat(20_000) })
      .expect(413);
    await h.http
      .post(`/api/events/${e}/venue`)
      .send({ places: [], sessions: [], padding: 'x'.repeat(2_100_000) })
      .expect(413);
  });

  test('a venue at the limits, 2,000 places and 10,000 sessions, in one request', async () => {
    const e = await newEvent('Full import conference', { starts_at: '2026-05-01T00:00:00.000Z', ends_at: '2026-05-08T00:00:00.000Z' });
    const places = Array.from({ length: 2000 }, (_, i) => ({
      name: `B${i}`,
      kind: 'booth',
      area: square(-122.4 + (i % 50) * 0.0001, 37.78 + Math.floor(i / 50) * 0.0001, 0.00005),
    }));
    // 5 sessions of an hour in each place, on the hour.
    const sessions = Array.from({ length: 10_000 }, (_, i) => ({
      title: `T${i}`,
      place: `B${i % 2000}`,
      starts_at: new Date(Date.parse('2026-05-01T09:00:00Z') + Math.floor(i / 2000) * 3_600_000).toISOString(),
      ends_at: new Date(Date.parse('2026-05-01T10:00:00Z') + Math.floor(i / 2000) * 3_600_000).toISOString(),
    }));
    const res = await h.http.post(`/api/events/${e}/venue`).send({ places, sessions }).expect(201);
    expect(res.body.places).toHaveLength(2000);
    expect(res.body.sessions).toHaveLength(10_000);
    expect(res.body.sessions[9999]).toMatchObject({ title: 'T9999', place_id: res.body.places[1999].id, starts_at: '2026-05-01T13:00:00.000Z' });
    expect(Number((await h.knex('session').where({ event_id: e }).count('* as n'))[0]!.n)).toBe(10_000);
  });

  test('the limits: at most 2,000 places, 1,000 positions per polygon', async () => {
    const e = await newEvent('Limits conference');
    const tiny = { name: 'p', kind: 'booth', area: square(0, 0) };
    const res = await h.http
      .post(`/api/events/${e}/venue`)
      .send({ places: Array.from({ length: 2001 }, () => tiny), sessions: [] })
      .expect(400);
    expect(fields(res)).toEqual(['places']);
    const ring = Array.from({ length: 1000 }, (_, i) => [Math.cos((i / 1000) * 2 * Math.PI) / 1000, Math.sin((i / 1000) * 2 * Math.PI) / 1000]);
    const circle = (n: number) => ({ type: 'Polygon', coordinates: [[...ring.slice(0, n - 1), ring[0]]] });
    await h.http
      .post(`/api/events/${e}/places`)
      .send({ name: 'Round', kind: 'area', area: circle(1000) })
      .expect(201);
    const big = { type: 'Polygon', coordinates: [[...ring, ring[0]]] };
    expect(fields(await h.http.post(`/api/events/${e}/places`).send({ name: 'Rounder', kind: 'area', area: big }).expect(400))).toContain('area.coordinates.0');
  });
});

type Venue = {
  places: Array<{ name: string; kind: string; area: { type: string; coordinates: number[][][] } }>;
  sessions: Array<{ title: string; place: string; starts_at: string; ends_at: string }>;
};

describe('the demo event (npm start)', () => {
  test("the simulator's venue imports through the API: 29 places, 32 talks in the 4 rooms", async () => {
    const demo = demoVenue('2026-05-05');
    const event = await h.http
      .post('/api/events')
      .send({ ...demo.event, name: 'Demo through the API' })
      .expect(201);
    expect(event.body).toMatchObject({ starts_at: '2026-05-05T00:00:00.000Z', ends_at: '2026-05-06T00:00:00.000Z' });
    const res = await h.http.post(`/api/events/${event.body.id}/venue`).send(demo.venue).expect(201);
    expect(res.body.places.map((p: { kind: string }) => p.kind).sort()).toEqual([
      ...Array(1).fill('area'),
      ...Array(24).fill('booth'),
      ...Array(4).fill('room'),
    ]);
    expect(res.body.sessions).toHaveLength(32);
    // A booth is about 5 m × 5 m, a room 20 m × 20 m, the lounge 16 m × 16 m (PostGIS's area on the spheroid).
    const { rows } = await h.knex.raw(
      'SELECT kind, min(ST_Area(area)) AS min, max(ST_Area(area)) AS max FROM place WHERE event_id = ? GROUP BY kind ORDER BY kind',
      [event.body.id],
    );
    const squareMeters = { area: 256, booth: 25, room: 400 } as Record<string, number>;
    for (const r of rows) {
      expect(r.min).toBeGreaterThan(squareMeters[r.kind]! * 0.99);
      expect(r.max).toBeLessThan(squareMeters[r.kind]! * 1.01);
    }
    expect(rows.map((r: { kind: string }) => r.kind)).toEqual(['area', 'booth', 'room']);
    // Everything within the 200 m × 200 m hall around Moscone Center.
    const scale = metersPerDegree(DEFAULT_CENTER.latitude);
    const positions = res.body.places.flatMap((p: { area: { coordinates: number[][][] } }) => p.area.coordinates[0]!);
    for (const [lon, lat] of positions) {
      expect(Math.abs(lon - DEFAULT_CENTER.longitude) * scale.lon).toBeLessThanOrEqual(100);
      expect(Math.abs(lat - DEFAULT_CENTER.latitude) * scale.lat).toBeLessThanOrEqual(100);
    }
    // The talks: 8 per room, 45 minutes from 09:00 on the hour, in rooms only.
    const rooms = new Set(res.body.places.filter((p: { kind: string }) => p.kind === 'room').map((p: { id: number }) => p.id));
    expect(res.body.sessions.every((s: { place_id: number }) => rooms.has(s.place_id))).toBe(true);
    expect(res.body.sessions[0]).toMatchObject({ starts_at: '2026-05-05T09:00:00.000Z', ends_at: '2026-05-05T09:45:00.000Z' });
  });

  test('seedDemoEvent creates the event once (idempotent)', async () => {
    const first = await seedDemoEvent(h.knex, '2026-05-05');
    expect(first).toEqual(expect.any(Number));
    expect(await seedDemoEvent(h.knex, '2026-05-06')).toBeUndefined();
    const events = (await h.http.get('/api/events').expect(200)).body.filter((ev: { name: string }) => ev.name === DEMO_EVENT_NAME);
    expect(events).toEqual([{ id: first, name: DEMO_EVENT_NAME, starts_at: '2026-05-05T00:00:00.000Z', ends_at: '2026-05-06T00:00:00.000Z' }]);
    expect((await h.http.get(`/api/events/${first}/places`).expect(200)).body).toHaveLength(29);
    expect((await h.http.get(`/api/events/${first}/sessions`).expect(200)).body).toHaveLength(32);
  });
});
