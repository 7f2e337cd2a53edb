/**
 * Erasure (docs/decisions.md, "Erasure keeps the erased id, and nothing else"), end to end over the
 * real broker and PostGIS: DELETE /api/persons/{id} removes the person, every ping, every device;
 * their pings still in Kafka are dropped by the writer, and a replay of the whole topic (a new
 * consumer group) brings nothing back; their tokens stop working on REST and gRPC.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { LocationIngestClient, type LocationPing } from '@udaconnect/proto';
import { eventually } from '../support/eventually';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { bearer } from '../support/auth';

let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline('erasure');
});
afterAll(() => p.close());

const t0 = Date.UTC(2026, 10, 25, 9, 0, 0);
const ping = (personId: number, i: number): LocationPing => ({
  eventId: randomUUID(),
  personId,
  latitude: 52.52 + i * 1e-5,
  longitude: 13.405 + i * 1e-5,
  recordedAt: new Date(t0 + i * 5_000),
});

const api = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${p.apiUrl}${path}`, {
    ...init,
    headers: { ...bearer(init.token ?? p.auth.organizer), ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });

const countRows = async (table: string, column: string, id: number) => Number((await p.knex(table).where(column, id).count<{ n: string }[]>('* as n'))[0]!.n);

/** Every table of the schema with a column that holds a person id, and how many rows hold `id`. */
async function rowsMentioning(id: number): Promise<Record<string, number>> {
  const { rows } = await p.knex.raw<{ rows: Array<{ table_name: string; column_name: string }> }>(
    // Partitions (of location, migration 0009) are counted through their parent.
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
       JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = 'public'::regnamespace
      WHERE c.table_schema = 'public' AND NOT k.relispartition
        AND (c.column_name = 'person_id' OR (c.table_name = 'person' AND c.column_name = 'id'))
      ORDER BY c.table_name`,
  );
  const out: Record<string, number> = {};
  for (const r of rows) out[r.table_name] = await countRows(r.table_name, r.column_name, id);
  return out;
}

test('DELETE /api/persons/{id} leaves nothing of the person but their id on the erased list, and a replay of the topic brings nothing back', async () => {
  const created = await api('/api/persons', { method: 'POST', body: JSON.stringify({ first_name: 'Eve', last_name: 'Gone', company_name: 'Nowhere' }) });
  const { id } = (await created.json()) as { id: number };
  const issued = await api(`/api/persons/${id}/devices`, { method: 'POST', body: '{"label":"phone"}' });
  expect(issued.status).toBe(201);
  const { token } = (await issued.json()) as { token: string };
  const device = new LocationIngestClient(`127.0.0.1:${p.ingestPort}`, grpc.credentials.createInsecure(), p.auth.grpcOptions(token));
  const record = (pg: LocationPing) => new Promise<grpc.status>((resolve) => device.record(pg, (err) => resolve(err ? err.code : grpc.status.OK)));

  try {
    // 20 pings written, then 10 more acknowledged while the writer is stopped: those wait in Kafka.
    const written = Array.from({ length: 20 }, (_, i) => ping(id, i));
    for (const pg of written) expect(await record(pg)).toBe(grpc.status.OK);
    await eventually(async () => expect(await countRows('location', 'person_id', id)).toBe(20), 20_000);
    await p.stopWriter();
    for (let i = 20; i < 30; i++) expect(await record(ping(id, i))).toBe(grpc.status.OK);
    // Someone else's pings in the same stretch of the topic, which must still be written.
    const others = Array.from({ length: 10 }, (_, i) => ping(5, 100 + i));
    expect((await p.recordStream(others)).accepted).toBe(10);

    // Another attendee may not erase them; the person may.
    expect((await api(`/api/persons/${id}`, { method: 'DELETE', token: await p.auth.attendee(6) })).status).toBe(403);
    expect((await api(`/api/persons/${id}`, { method: 'DELETE', token })).status).toBe(204);

    // Their token is refused at once by person-api, and by ingest within its revocation poll
    // (until then ingest still acknowledges their pings: the writer drops those too).
    expect((await api(`/api/persons/${id}`, { token })).status).toBe(401);
    let acceptedAfter = 0;
    await eventually(async () => {
      const code = await record(ping(id, 40 + acceptedAfter));
      if (code === grpc.status.OK) acceptedAfter++;
      expect(code).toBe(grpc.status.UNAUTHENTICATED);
    }, 10_000);

    // The writer comes back: the waiting pings of theirs are dropped, the others written.
    const writer = await p.startWriter();
    await eventually(async () => {
      const stored = await p
        .knex('location')
        .whereIn(
          'event_id',
          others.map((o) => o.eventId),
        )
        .count<{ n: string }[]>('* as n');
      expect(Number(stored[0]!.n)).toBe(10);
      expect((await writer.metrics.values()).erasedDropped).toBe(10 + acceptedAfter);
    }, 30_000);
    expect(await rowsMentioning(id)).toEqual({ attendance: 0, device: 0, erased_person: 1, location: 0, person: 0, presence_dirty: 0, visit: 0 });
    // What the erased list keeps: the id and when, nothing else.
    expect(Object.keys(await p.knex('erased_person').where({ person_id: id }).first()).sort()).toEqual(['erased_at', 'person_id']);

    // A replay of the whole topic by a new consumer group: every ping of theirs seen again, none written.
    await p.stopWriter();
    const replay = await p.startWriter({ KAFKA_GROUP_ID: `${randomUUID()}.replay` });
    await eventually(async () => expect((await replay.metrics.values()).erasedDropped).toBe(30 + acceptedAfter), 30_000);
    expect(await rowsMentioning(id)).toEqual({ attendance: 0, device: 0, erased_person: 1, location: 0, person: 0, presence_dirty: 0, visit: 0 });

    // A second DELETE: 404 (never was, or already erased).
    expect((await api(`/api/persons/${id}`, { method: 'DELETE' })).status).toBe(404);
  } finally {
    device.close();
  }
});

test('DELETE /api/persons/{id} without a token is 401 and erases nothing', async () => {
  const res = await fetch(`${p.apiUrl}/api/persons/5`, { method: 'DELETE' });
  expect(res.status).toBe(401);
  expect(await countRows('person', 'id', 5)).toBe(1);
});
