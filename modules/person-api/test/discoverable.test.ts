/**
 * Consent (docs/contract.md §6, "Discoverability"): PATCH /api/persons/{id} with `discoverable: false` leaves the
 * person out of everyone else's connection answers — REST and connection-service's gRPC — while
 * their own answers still work; setting it back brings them back. Through person-api and a real
 * connection-service on one test database.
 */
import * as grpc from '@grpc/grpc-js';
import request from 'supertest';
import { ConnectionServiceClient, FindConnectionsRequest, type FindConnectionsResponse } from '@udaconnect/proto';
import { createPersons, insertPings } from '../../connection-service/test/harness';
import { bearer } from '../../../test/support/auth';
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
let alice: number, bob: number, carol: number;
const t0 = Date.parse('2023-05-05T10:00:00Z');
const range = 'start_date=2023-05-05&end_date=2023-05-06&distance=5';

beforeAll(async () => {
  h = await startTestPersonApi('discoverable', { connectionService: true });
  [alice, bob, carol] = (await createPersons(h.knex, 3, 'Consent')) as [number, number, number];
  // The three of them at one booth, a minute apart.
  await insertPings(
    h.knex,
    [alice, bob, carol].map((personId, i) => ({ personId, latitude: 48.2, longitude: 16.37, time: new Date(t0 + i * 60_000) })),
  );
});
afterAll(() => h.close());

const met = async (personId: number, token = h.auth.organizer): Promise<number[]> => {
  const res = await request(h.app).get(`/api/persons/${personId}/connection?${range}`).set(bearer(token)).expect(200);
  return res.body.map((c: { person: { id: number } }) => c.person.id).sort((a: number, b: number) => a - b);
};

test('a person who is not discoverable is in nobody else’s answers, and still gets their own', async () => {
  expect(await met(alice)).toEqual([bob, carol]);
  const bobToken = await h.auth.attendee(bob);

  const res = await request(h.app).patch(`/api/persons/${bob}`).set(bearer(bobToken)).send({ discoverable: false }).expect(200);
  expect(res.body).toEqual({ id: bob, first_name: 'Consent1', last_name: 'Walker1', company_name: 'Co 1', discoverable: false });

  expect(await met(alice)).toEqual([carol]);
  expect(await met(carol)).toEqual([alice]);
  // Grouped by person and paged answers leave them out too, totals included.
  const grouped = await h.http.get(`/api/persons/${alice}/connection?${range}&group_by=person&limit=10`).expect(200);
  expect(grouped.body.map((g: { person: { id: number } }) => g.person.id)).toEqual([carol]);
  expect(grouped.headers['x-total-count']).toBe('1');
  // Their own answer is whole, with their own token.
  expect(await met(bob, bobToken)).toEqual([alice, carol]);
  // connection-service's gRPC API answers the same (it is the one query).
  const client = new ConnectionServiceClient(`127.0.0.1:${h.connectionService!.port}`, grpc.credentials.createInsecure(), h.auth.grpcOptions());
  try {
    const viaGrpc = await new Promise<FindConnectionsResponse>((resolve, reject) =>
      client.findConnections(
        { ...FindConnectionsRequest.fromPartial({}), personId: alice, start: new Date(t0 - 1000), end: new Date(t0 + 3_600_000), distanceMeters: 5 },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    expect(viaGrpc.connections.map((c) => c.person!.id)).toEqual([carol]);
  } finally {
    client.close();
  }

  await request(h.app).patch(`/api/persons/${bob}`).set(bearer(bobToken)).send({ discoverable: true }).expect(200);
  expect(await met(alice)).toEqual([bob, carol]);
});

describe('PATCH /api/persons/{id}', () => {
  test('changes names too, keeps absent fields, and an empty object changes nothing', async () => {
    const [id] = await createPersons(h.knex, 1, 'Patch');
    const before = (await h.http.get(`/api/persons/${id}`).expect(200)).body;
    expect(before.discoverable).toBe(true);
    expect((await h.http.patch(`/api/persons/${id}`).send({}).expect(200)).body).toEqual(before);
    const after = (await h.http.patch(`/api/persons/${id}`).send({ company_name: '  Neue Firma ' }).expect(200)).body;
    expect(after).toEqual({ ...before, company_name: 'Neue Firma' });
    expect((await h.http.get(`/api/persons/${id}`).expect(200)).body).toEqual(after);
  });

  test.each([
    ['a string for the flag', { discoverable: 'no' }, 'discoverable'],
    ['null for the flag', { discoverable: null }, 'discoverable'],
    ['an unknown field', { hidden: true }, ''],
    ['an id', { id: 7 }, ''],
    ['an empty name', { first_name: '' }, 'first_name'],
    ['a control character in a name', { last_name: 'a\u0000b' }, 'last_name'],
  ])('refuses %s with 400 naming the field', async (_what, body, field) => {
    const res = await h.http.patch(`/api/persons/${alice}`).send(body).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    if (field) expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  test('who may call: the person and organizers; another attendee 403, no token 401, unknown person 404', async () => {
    const other = await h.auth.attendee(carol);
    await request(h.app).patch(`/api/persons/${alice}`).set(bearer(other)).send({ discoverable: false }).expect(403);
    await request(h.app).patch(`/api/persons/${alice}`).send({ discoverable: false }).expect(401);
    await h.http.patch('/api/persons/2000000000').send({ discoverable: false }).expect(404);
    expect((await h.http.get(`/api/persons/${alice}`).expect(200)).body.discoverable).toBe(true);
  });
});
