/** The database goes away while pings keep coming: nothing is skipped or dead-lettered, every ping lands once when it is back. */
import { toMessage } from '@udaconnect/domain';
import { eventually } from '../../../test/support/eventually';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import { infraEnv } from '../../../test/support/test-env';
import type { LocationWriter } from '../src/location-writer';
import { countStored, createWriterTestBed, httpGet, makePing, type WriterTestBed } from './harness';

let bed: WriterTestBed;
let proxy: TcpProxy;
let writer: LocationWriter;
beforeAll(async () => {
  bed = await createWriterTestBed('outage');
  const pg = new URL(infraEnv().databaseUrl);
  proxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
  const viaProxy = new URL(bed.testDb.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  writer = await bed.startWriter({ databaseUrl: viaProxy.toString() });
});
afterAll(async () => {
  await bed.close();
  await proxy.close();
});

test('while the database is down the writer is not ready and commits nothing; afterwards every ping lands exactly once', async () => {
  const warmUp = makePing(0);
  await bed.producer.send(bed.topic, [toMessage(warmUp)]);
  await eventually(async () => expect(await countStored(bed.knex, [warmUp.eventId])).toBe(1));
  await eventually(async () => expect((await httpGet(writer.port, '/readyz')).status).toBe(200));

  await proxy.cut();
  const N = 300;
  const pings = Array.from({ length: N }, (_, i) => makePing(i + 1));
  const ids = pings.map((p) => p.eventId);
  for (let i = 0; i < N; i += 50) await bed.producer.send(bed.topic, pings.slice(i, i + 50).map(toMessage));

  const notReady = await eventually(async () => {
    const res = await httpGet(writer.port, '/readyz');
    expect(res.status).toBe(503);
    return res;
  });
  expect(notReady.contentType).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(notReady.body)).toMatchObject({ status: 503, title: 'Service Unavailable', detail: expect.stringMatching(/database/) });
  expect((await httpGet(writer.port, '/healthz')).status).toBe(200);
  // Let the writer fail and back off several times: the outage lasts, nothing moves.
  await eventually(async () => expect((await writer.metrics.values()).dbRetries).toBeGreaterThanOrEqual(6), 30_000);
  expect(await countStored(bed.knex, ids)).toBe(0);
  expect(await writer.metrics.values()).toMatchObject({ messages: 1, rowsInserted: 1, deadLettered: 0, databaseUp: 0 });
  expect((await httpGet(writer.port, '/metrics')).body).toContain('location_writer_database_up{service="location-writer"} 0\n');

  await proxy.restore();
  await eventually(async () => expect(await countStored(bed.knex, ids)).toBe(N), 30_000);
  await eventually(async () => expect((await httpGet(writer.port, '/readyz')).status).toBe(200), 30_000);
  await eventually(async () => expect(await writer.metrics.values()).toMatchObject({ messages: N + 1, rowsInserted: N + 1, deadLettered: 0, databaseUp: 1 }));
  // Retried in place, not redelivered: no event was seen twice.
  expect((await writer.metrics.values()).duplicates).toBe(0);
  const { rows } = await bed.knex.raw('SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM location WHERE event_id = ANY(?::uuid[])', [ids]);
  expect(rows[0]).toEqual({ n: N, d: N });
});
