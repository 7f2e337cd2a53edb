/** The batch processor without Kafka or PostgreSQL: an in-memory store and hand-made batches. */
import { type IncomingMessage, type MessageBatch, type OutgoingMessage } from '@udaconnect/common';
import { toMessage, type LocationPing } from '@udaconnect/domain';
import { BatchAbandonedError, createBatchProcessor, deadLetterMessage } from '../src/batch-processor';
import { pingKey, type PingStore } from '../src/location-store';
import { Registry } from 'prom-client';
import { WriterMetrics } from '../src/metrics';
import { makePing, testLogger } from './harness';

/** Stores pings by (event id, time) like the real table; `failures` are thrown by the next calls, in order. */
function memoryStore(personIds = [1, 5, 6, 8, 9], erasedIds = [4]) {
  const rows = new Map<string, LocationPing>();
  const insertCalls: LocationPing[][] = [];
  const failures: unknown[] = [];
  const store: PingStore = {
    async lookUpPersons(ids) {
      if (failures.length) throw failures.shift();
      return { known: new Set(ids.filter((id) => personIds.includes(id))), erased: new Set(ids.filter((id) => erasedIds.includes(id))) };
    },
    async insertPings(pings) {
      if (failures.length) throw failures.shift();
      insertCalls.push([...pings]);
      const keys = pings.map(pingKey);
      if (new Set(keys).size !== keys.length) throw new Error('one statement saw the same event id and time twice');
      let inserted = 0;
      for (const p of pings) {
        if (rows.has(pingKey(p))) continue;
        rows.set(pingKey(p), p);
        inserted++;
      }
      return { inserted, duplicates: pings.length - inserted, conflicts: [] };
    },
  };
  return { store, rows, insertCalls, failures };
}

function batchOf(messages: OutgoingMessage[], opts: { stale?: () => boolean } = {}) {
  const heartbeats = { count: 0 };
  const batch: MessageBatch = {
    topic: 'locations',
    partition: 2,
    messages: messages.map((m, i): IncomingMessage => ({
      topic: 'locations',
      partition: 2,
      offset: String(100 + i),
      key: m.key,
      value: m.value,
      headers: m.headers ?? {},
      timestamp: '0',
    })),
    heartbeat: async () => void heartbeats.count++,
    isStale: opts.stale ?? (() => false),
  };
  return { batch, heartbeats };
}

function processorWith(store: PingStore) {
  const metrics = new WriterMetrics(new Registry());
  const deadLetters: OutgoingMessage[] = [];
  const processor = createBatchProcessor({
    store,
    metrics,
    logger: testLogger('batch-processor-test'),
    sendToDeadLetter: async (messages) => void deadLetters.push(...messages),
    retryDelayMs: () => 1,
    now: () => Date.UTC(2024, 0, 2, 3, 4, 5, 678),
  });
  return { processor, metrics, deadLetters };
}

const unavailable = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('within one batch', () => {
  it('writes each event id once, keeping the first message, and counts the others as duplicates', async () => {
    const mem = memoryStore();
    const { processor, metrics, deadLetters } = processorWith(mem.store);
    const a = makePing(0);
    const b = makePing(1);
    const aAgain = { ...a, eventId: a.eventId.toUpperCase(), latitude: 45 };
    const { batch } = batchOf([a, b, aAgain, b].map(toMessage));

    await processor.process(batch);

    expect(mem.insertCalls).toHaveLength(1);
    expect(mem.insertCalls[0]!.map((p) => p.eventId)).toEqual([a.eventId, b.eventId]);
    expect(mem.rows.get(pingKey(a))!.latitude).toBe(a.latitude);
    expect(deadLetters).toEqual([]);
    expect(await metrics.values()).toMatchObject({ messages: 4, rowsInserted: 2, duplicates: 2, deadLettered: 0, batches: 1, insertsTimed: 1 });
  });

  it("drops an erased person's pings, neither written nor dead-lettered, and counts them", async () => {
    const mem = memoryStore([5], [4]);
    const { processor, metrics, deadLetters } = processorWith(mem.store);
    const kept = makePing(0, { personId: 5 });
    const erased = [makePing(1, { personId: 4 }), makePing(2, { personId: 4 })];
    await processor.process(batchOf([kept, ...erased].map(toMessage)).batch);
    expect([...mem.rows.values()].map((p) => p.eventId)).toEqual([kept.eventId]);
    expect(deadLetters).toEqual([]);
    expect(await metrics.values()).toMatchObject({ messages: 3, rowsInserted: 1, erasedDropped: 2, deadLettered: 0 });
  });

  it('looks the persons up again when one is erased between the look-up and the insert (foreign-key violation)', async () => {
    const mem = memoryStore([4, 5], []);
    const lookUps: number[][] = [];
    let erasedNow = false;
    const store = {
      ...mem.store,
      async lookUpPersons(ids: readonly number[]) {
        lookUps.push([...ids]);
        return erasedNow ? { known: new Set([5]), erased: new Set([4]) } : { known: new Set([4, 5]), erased: new Set<number>() };
      },
      async insertPings(pings: readonly LocationPing[]) {
        if (pings.some((p) => p.personId === 4)) {
          erasedNow = true;
          throw Object.assign(new Error('insert or update on table "location" violates foreign key constraint'), { code: '23503' });
        }
        return mem.store.insertPings(pings);
      },
    };
    const { processor, metrics, deadLetters } = processorWith(store);
    const kept = makePing(0, { personId: 5 });
    await processor.process(batchOf([kept, makePing(1, { personId: 4 })].map(toMessage)).batch);
    expect(lookUps).toHaveLength(2);
    expect([...mem.rows.values()].map((p) => p.eventId)).toEqual([kept.eventId]);
    expect(deadLetters).toEqual([]);
    expect(await metrics.values()).toMatchObject({ rowsInserted: 1, erasedDropped: 1 });
  });

  it('keeps an event id repeated at another time as a ping of its own, as the table does (the key is the id and the time)', async () => {
    const mem = memoryStore();
    const { processor, metrics, deadLetters } = processorWith(mem.store);
    const a = makePing(0);
    const later = { ...a, recordedAt: new Date(a.recordedAt!.getTime() + 1) };
    const otherPersonLater = { ...a, personId: 6, recordedAt: new Date(a.recordedAt!.getTime() + 2) };
    await processor.process(batchOf([a, later, otherPersonLater].map(toMessage)).batch);
    expect(mem.insertCalls.map((call) => call.map((p) => [p.eventId, p.personId, p.recordedAt]))).toEqual([
      [a, later, otherPersonLater].map((p) => [p.eventId, p.personId, p.recordedAt]),
    ]);
    expect(deadLetters).toEqual([]);
    expect(await metrics.values()).toMatchObject({ messages: 3, rowsInserted: 3, duplicates: 0, eventIdReused: 0 });
  });

  it('counts event ids already stored as duplicates on a replay', async () => {
    const mem = memoryStore();
    const { processor, metrics } = processorWith(mem.store);
    const pings = [makePing(0), makePing(1), makePing(2)];
    await processor.process(batchOf(pings.map(toMessage)).batch);
    await processor.process(batchOf(pings.map(toMessage)).batch);
    expect(mem.rows.size).toBe(3);
    expect(await metrics.values()).toMatchObject({ messages: 6, rowsInserted: 3, duplicates: 3, batches: 2 });
  });
});

describe('messages that can never be written', () => {
  it('go to the dead-letter sink in offset order with the original bytes and headers saying why', async () => {
    const mem = memoryStore();
    const { processor, metrics, deadLetters } = processorWith(mem.store);
    const good = makePing(0);
    const garbage = { key: '7', value: Buffer.from([0x0a, 0x7f, 0x01]), headers: { trace: 'abc' } };
    const unknown = toMessage(makePing(1, { personId: 4242 }));
    const south = toMessage(makePing(2, { latitude: -91 }));
    const noEventId = toMessage(makePing(3, { eventId: '' }));
    const noTime = toMessage(makePing(4, { recordedAt: undefined }));
    const future = makePing(5, { recordedAt: new Date(Date.now() + 365 * 86_400_000) });
    const farFuture = toMessage(future);
    const { batch } = batchOf([unknown, garbage, toMessage(good), south, noEventId, noTime, farFuture]);

    await processor.process(batch);

    // The writer applies ingest's checkPing, the 5-minute future rule included (docs/decisions.md,
    // "The writer applies the 5-minute future rule, against its own clock").
    expect([...mem.rows.values()].map((p) => p.eventId)).toEqual([good.eventId]);
    expect(deadLetters.map((d) => d.headers!['dlq-original-offset'])).toEqual(['100', '101', '103', '104', '105', '106']);
    const reasons = deadLetters.map((d) => d.headers!['dlq-reason']);
    expect(reasons[0]).toBe('unknown person: person_id 4242 does not exist');
    expect(reasons[1]).toMatch(/^undecodable: not a LocationPing protobuf/);
    expect(reasons[2]).toMatch(/^invalid: latitude: /);
    expect(reasons[3]).toMatch(/^invalid: event_id: is empty/);
    expect(reasons[4]).toMatch(/^invalid: recorded_at: is required/);
    expect(reasons[5]).toMatch(/^invalid: recorded_at: is \d+ s in the future/);
    expect(deadLetters[1]).toEqual({
      key: '7',
      value: garbage.value,
      headers: {
        trace: 'abc',
        'dlq-reason': reasons[1],
        'dlq-original-topic': 'locations',
        'dlq-original-partition': '2',
        'dlq-original-offset': '101',
        'dlq-failed-at': '2024-01-02T03:04:05.678Z',
      },
    });
    expect(await metrics.values()).toMatchObject({ messages: 7, rowsInserted: 1, duplicates: 0, deadLettered: 6 });
  });

  it('a message without a value is dead-lettered with an empty value', () => {
    const m: IncomingMessage = { topic: 't', partition: 0, offset: '5', key: null, value: null, headers: {}, timestamp: '0' };
    expect(deadLetterMessage(m, 'why', new Date(0))).toMatchObject({ key: null, value: Buffer.alloc(0), headers: { 'dlq-reason': 'why' } });
  });
});

describe('when the database is unavailable', () => {
  it('retries the same batch with heartbeats until it answers, and says so meanwhile', async () => {
    const mem = memoryStore();
    const { processor, metrics, deadLetters } = processorWith(mem.store);
    mem.failures.push(unavailable(), unavailable(), Object.assign(new Error('Connection terminated unexpectedly')));
    const pings = [makePing(0), makePing(1, { personId: 4242 })];
    const { batch, heartbeats } = batchOf(pings.map(toMessage));
    let sawUnavailable = false;
    const watching = setInterval(() => (sawUnavailable ||= !processor.databaseAvailable), 0);

    await processor.process(batch).finally(() => clearInterval(watching));

    expect(sawUnavailable).toBe(true);
    expect(processor.databaseAvailable).toBe(true);
    expect(heartbeats.count).toBeGreaterThanOrEqual(3);
    expect(await metrics.values()).toMatchObject({ dbRetries: 3, messages: 2, rowsInserted: 1, deadLettered: 1, databaseUp: 1 });
    // The unknown person is only known to be unknown once the database answered.
    expect(deadLetters).toHaveLength(1);
  });

  it('hands the batch back (throws) when the consumer stops meanwhile, having counted and sent nothing', async () => {
    const mem = memoryStore();
    const { processor, metrics, deadLetters } = processorWith(mem.store);
    mem.failures.push(...Array.from({ length: 100 }, unavailable));
    let stopping = false;
    const { batch } = batchOf([toMessage(makePing(0)), { key: '1', value: Buffer.from([0xff]) }], { stale: () => stopping });
    const running = processor.process(batch);
    setTimeout(() => (stopping = true), 20);

    await expect(running).rejects.toBeInstanceOf(BatchAbandonedError);
    expect(processor.databaseAvailable).toBe(false);
    expect(deadLetters).toEqual([]);
    expect(mem.rows.size).toBe(0);
    const values = await metrics.values();
    expect(values).toMatchObject({ messages: 0, batches: 0, deadLettered: 0, databaseUp: 0 });
    expect(values.dbRetries).toBeGreaterThan(0);
  });

  it('any other database error is thrown at once, so the batch is delivered again rather than dropped', async () => {
    const mem = memoryStore();
    const { processor, metrics, deadLetters } = processorWith(mem.store);
    mem.failures.push(Object.assign(new Error('insert or update on table "location" violates foreign key constraint'), { code: '23503' }));
    await expect(processor.process(batchOf([toMessage(makePing(0))]).batch)).rejects.toThrow(/foreign key/);
    expect(await metrics.values()).toMatchObject({ dbRetries: 0, messages: 0, batches: 0 });
    expect(deadLetters).toEqual([]);
    expect(processor.databaseAvailable).toBe(true);
  });
});
