import { randomUUID } from 'node:crypto';
import { createKafkaBus, createLogger } from '@udaconnect/common';
import { decodePing, type LocationPing } from '@udaconnect/domain';
import seed from '../../../db/seed-data/starter-seed.json';
import { eventually } from '../../../test/support/eventually';
import { infraEnv, runId } from '../../../test/support/test-env';
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
const bus = createKafkaBus({ brokers: infraEnv().kafkaBrokers.split(','), clientId: 'locations-test', logger: createLogger('t', 'silent') });
const published: LocationPing[] = [];
let closeConsumer: () => Promise<void>;

beforeAll(async () => {
  h = await startTestPersonApi('locations', { kafka: true });
  const consumer = bus.consumer({ groupId: `test-${runId()}-rest-locations` });
  await consumer.run([h.topic], async (batch) => {
    for (const m of batch.messages) published.push(decodePing(m.value));
  });
  closeConsumer = () => consumer.close();
});
afterAll(async () => {
  await closeConsumer();
  await bus.close();
  await h.close();
});

describe('GET /api/locations/{id}', () => {
  it('returns a seeded location with string coordinates in the right order and a UTC time', async () => {
    const res = await h.http.get('/api/locations/29').expect(200);
    expect(res.body).toEqual({ id: 29, person_id: 1, latitude: '37.553441', longitude: '-122.290524', creation_time: '2020-08-18T10:37:06Z' });
  });
  it('404 for an unknown id, 400 for a bad one', async () => {
    await h.http
      .get('/api/locations/1')
      .expect(404)
      .expect('content-type', /problem\+json/);
    const bad = await h.http.get('/api/locations/x1').expect(400);
    expect(bad.body.errors[0].field).toBe('id');
  });
});

describe('GET /api/persons/{id}/locations', () => {
  const own = (personId: number) => seed.locations.filter((l) => l.person_id === personId);

  it("lists the person's pings ordered by time, then id", async () => {
    const res = await h.http.get('/api/persons/6/locations').expect(200);
    const expected = [...own(6)].sort((a, b) => a.creation_time.localeCompare(b.creation_time) || a.id - b.id).map((l) => l.id);
    expect(res.body.map((l: { id: number }) => l.id)).toEqual(expected);
    expect(res.body.every((l: { person_id: number }) => l.person_id === 6)).toBe(true);
  });

  it('filters by whole UTC days, both ends included', async () => {
    const res = await h.http.get('/api/persons/6/locations?start_date=2020-07-06&end_date=2020-07-07').expect(200);
    const expected = own(6).filter((l) => l.creation_time >= '2020-07-06' && l.creation_time < '2020-07-08');
    expect(res.body).toHaveLength(expected.length);
    expect(expected.length).toBeGreaterThan(0);
  });

  it('rejects a bad date and an end before the start, naming the parameter; 404 for an unknown person', async () => {
    const r1 = await h.http.get('/api/persons/6/locations?start_date=2020-13-01').expect(400);
    expect(r1.body.errors[0].field).toBe('start_date');
    const r2 = await h.http.get('/api/persons/6/locations?start_date=2020-07-07&end_date=2020-07-06').expect(400);
    expect(r2.body.errors[0].field).toBe('end_date');
    await h.http.get('/api/persons/3/locations').expect(404);
  });
});

describe('POST /api/locations', () => {
  it('accepts the old body with string coordinates (202 + event_id) and publishes it to Kafka', async () => {
    const res = await h.http
      .post('/api/locations')
      .send({ person_id: 5, latitude: '37.553441', longitude: '-122.290524', creation_time: '2020-08-18T10:37:06' })
      .expect(202);
    expect(res.body).toEqual({ event_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const ping = await eventually(() => {
      const p = published.find((x) => x.eventId === res.body.event_id);
      if (!p) throw new Error('not published yet');
      return p;
    });
    expect(ping).toEqual({
      eventId: res.body.event_id,
      personId: 5,
      latitude: 37.553441,
      longitude: -122.290524,
      recordedAt: new Date('2020-08-18T10:37:06Z'),
    });
  });

  it('keeps a client-chosen event_id and numeric coordinates', async () => {
    const eventId = randomUUID();
    const res = await h.http
      .post('/api/locations')
      .send({ person_id: 1, latitude: 10.5, longitude: -20.25, creation_time: '2020-08-18T10:37:06.123Z', event_id: eventId })
      .expect(202);
    expect(res.body.event_id).toBe(eventId);
    await eventually(() => expect(published.find((x) => x.eventId === eventId)?.recordedAt).toEqual(new Date('2020-08-18T10:37:06.123Z')));
  });

  const bad: Array<[string, object, number, string]> = [
    ['latitude out of range', { person_id: 5, latitude: '91', longitude: '0', creation_time: '2020-08-18T10:37:06Z' }, 400, 'latitude'],
    ['latitude not a number', { person_id: 5, latitude: 'north', longitude: '0', creation_time: '2020-08-18T10:37:06Z' }, 400, 'latitude'],
    ['longitude missing', { person_id: 5, latitude: '1', creation_time: '2020-08-18T10:37:06Z' }, 400, 'longitude'],
    ['a bad time', { person_id: 5, latitude: '1', longitude: '2', creation_time: 'yesterday' }, 400, 'creation_time'],
    ['a time in the future', { person_id: 5, latitude: '1', longitude: '2', creation_time: '2999-01-01T00:00:00Z' }, 400, 'creation_time'],
    ['an unknown key', { person_id: 5, latitude: '1', longitude: '2', creation_time: '2020-08-18T10:37:06Z', altitude: 3 }, 400, 'altitude'],
    ['an unknown person', { person_id: 4242, latitude: '1', longitude: '2', creation_time: '2020-08-18T10:37:06Z' }, 404, 'person_id'],
  ];
  it.each(bad)('rejects %s, naming the field, and publishes nothing', async (_what, body, statusCode, field) => {
    const before = published.length;
    const res = await h.http.post('/api/locations').send(body).expect(statusCode);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    // A valid ping sent afterwards arrives; the bad one never did.
    const marker = randomUUID();
    await h.http.post('/api/locations').send({ person_id: 5, latitude: 1, longitude: 2, creation_time: '2020-01-01T00:00:00Z', event_id: marker }).expect(202);
    await eventually(() => expect(published.some((p) => p.eventId === marker)).toBe(true));
    expect(published.length).toBe(before + 1);
  });
});
