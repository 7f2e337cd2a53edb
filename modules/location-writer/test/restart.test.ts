/** A writer stopped mid-stream and a new one in the same group: every ping is stored once, none lost. */
import { toMessage } from '@udaconnect/domain';
import { eventually } from '../../../test/support/eventually';
import { countStored, createWriterTestBed, makePing, type WriterTestBed } from './harness';

let bed: WriterTestBed;
beforeAll(async () => {
  bed = await createWriterTestBed('restart');
});
afterAll(() => bed.close());

/** Spaces the load generator's sends out, so that the stream is still flowing while writers change. */
const pace = () => new Promise((resolve) => setTimeout(resolve, 20));

test('stopping a writer while pings flow and starting another in its group stores every ping exactly once', async () => {
  const CHUNKS = 60;
  const CHUNK = 25;
  const pings = Array.from({ length: CHUNKS * CHUNK }, (_, i) => makePing(i));
  const ids = pings.map((p) => p.eventId);
  let sentChunks = 0;
  const first = await bed.startWriter();

  const producing = (async () => {
    for (let c = 0; c < CHUNKS; c++) {
      await bed.producer.send(bed.topic, pings.slice(c * CHUNK, (c + 1) * CHUNK).map(toMessage));
      sentChunks = c + 1;
      await pace();
    }
  })();

  // Stop the first writer once it has written part of the stream, while the rest is still being produced.
  await eventually(async () => expect((await first.metrics.values()).rowsInserted).toBeGreaterThanOrEqual(5 * CHUNK));
  await first.stop();
  const stoppedAt = { sent: sentChunks * CHUNK, stored: await countStored(bed.knex, ids) };
  expect(stoppedAt.sent).toBeLessThan(pings.length);
  expect(stoppedAt.stored).toBeLessThan(pings.length);

  const second = await bed.startWriter();
  await producing;
  await eventually(async () => expect(await countStored(bed.knex, ids)).toBe(pings.length), 30_000);

  const { rows } = await bed.knex.raw('SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM location WHERE event_id = ANY(?::uuid[])', [ids]);
  expect(rows[0]).toEqual({ n: pings.length, d: pings.length });
  // Each row was written by exactly one of the two writers.
  const both = async () => ({ first: await first.metrics.values(), second: await second.metrics.values() });
  await eventually(async () => {
    const w = await both();
    expect(w.first.rowsInserted + w.second.rowsInserted).toBe(pings.length);
  });
  const w = await both();
  expect(w.first.rowsInserted).toBe(stoppedAt.stored);
  // The first writer finished and committed its batch in flight when stopped: nothing was delivered twice.
  expect(w.second.duplicates).toBe(0);
  expect(w.first.deadLettered + w.second.deadLettered).toBe(0);
});
