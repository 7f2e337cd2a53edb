/** POST /api/locations against the in-memory publisher: what reaches Kafka, and the 503 path, with no broker. */
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startTestPersonApi('locpublish');
});
afterAll(() => h.close());

const body = {
  person_id: 5,
  latitude: '37.553441',
  longitude: '-122.290524',
  creation_time: '2020-08-18T10:37:06',
  event_id: '6f1b9f5e-3c1d-4e55-9a51-0c2a1d4c7b10',
};

test('hands the validated ping to the publisher: UTC when no offset is given, the given event id kept', async () => {
  const res = await h.http.post('/api/locations').send(body).expect(202);
  expect(res.body).toEqual({ event_id: body.event_id });
  expect(h.pings!.published).toContainEqual({
    eventId: body.event_id,
    personId: 5,
    latitude: 37.553441,
    longitude: -122.290524,
    recordedAt: new Date('2020-08-18T10:37:06Z'),
  });
});

test('answers 503 with Retry-After while Kafka cannot take it, and nothing is published', async () => {
  const before = h.pings!.published.length;
  h.pings!.reachable = false;
  try {
    const res = await h.http
      .post('/api/locations')
      .send({ ...body, event_id: undefined })
      .expect(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body.detail).toMatch(/retry later with the same event_id/);
    expect((await h.http.get('/readyz').expect(200)).body.checks.kafka).toBe(false);
  } finally {
    h.pings!.reachable = true;
  }
  expect(h.pings!.published.length).toBe(before);
});

test('an unknown person is 404 and is not published', async () => {
  const before = h.pings!.published.length;
  await h.http
    .post('/api/locations')
    .send({ ...body, person_id: 424242, event_id: undefined })
    .expect(404);
  expect(h.pings!.published.length).toBe(before);
});
