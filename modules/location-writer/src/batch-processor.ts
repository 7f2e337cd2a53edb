/**
 * What the writer does with one Kafka batch, independent of the Kafka client: decode and
 * re-check every ping, write the good ones with one statement, dead-letter the ones that can
 * never be written, and wait out a database outage without skipping anything. The batch's
 * offsets are committed by the caller only after `process` resolves.
 */
import { performance } from 'node:perf_hooks';
import {
  backoffDelay,
  consumerSpans,
  isDatabaseUnavailable,
  tracedQuery,
  type ConsumerSpans,
  type IncomingMessage,
  type Logger,
  type MessageBatch,
  type OutgoingMessage,
} from '@udaconnect/common';
import { checkPing, decodePing, type LocationPing } from '@udaconnect/domain';
import { FOREIGN_KEY_VIOLATION, pingKey, type InsertResult, type PingStore } from './location-store';
import type { WriterMetrics } from './metrics';

export interface BatchProcessorDeps {
  store: PingStore;
  /** Sends to the dead-letter topic; resolves once Kafka has acknowledged every message. */
  sendToDeadLetter(messages: OutgoingMessage[]): Promise<void>;
  metrics: WriterMetrics;
  logger: Logger;
  /** Clock for the dead-letter timestamp; tests may fix it. */
  now?: () => number;
  /** Wait before retry number `attempt` while the database is unavailable. */
  retryDelayMs?: (attempt: number) => number;
}

export interface BatchProcessor {
  process(batch: MessageBatch): Promise<void>;
  /** False from the first failed attempt of an outage until an attempt succeeds again. */
  readonly databaseAvailable: boolean;
}

interface Parsed {
  message: IncomingMessage;
  ping: LocationPing;
}

/** Thrown to hand a batch back to Kafka (it is delivered again) when the consumer stops or rebalances mid-outage. */
export class BatchAbandonedError extends Error {
  constructor(cause: unknown) {
    super('consumer is stopping or rebalancing while the database is unavailable; the batch will be delivered again', { cause });
    this.name = 'BatchAbandonedError';
  }
}

/**
 * Decodes one message and checks it with ingest's own checkPing, the 5-minute future rule
 * included (against the writer's clock: a ping ingest accepted is never later in the future
 * than it was then, and a replay of old messages passes, since the rule only forbids the future).
 */
function parseMessage(message: IncomingMessage, now: number): LocationPing | { reason: string } {
  let ping: LocationPing;
  try {
    ping = decodePing(message.value);
  } catch (err) {
    return { reason: `undecodable: not a LocationPing protobuf (${(err as Error).message})` };
  }
  const problem = checkPing(ping, now);
  if (problem) return { reason: `invalid: ${problem.reason}` };
  // Ingest always assigns one; without it a replay could not be recognised as one.
  if (ping.eventId === '') return { reason: 'invalid: event_id: is empty; the writer needs it to store the ping exactly once' };
  return ping;
}

/** Why a ping is dead-lettered when its event id and time are already another person's. */
const eventIdReused = (ping: LocationPing) =>
  `event_id reused: ${ping.eventId} at ${ping.recordedAt!.toISOString()} already belongs to another person's ping, not person_id ${ping.personId}'s; nothing was written for this message`;

/**
 * Keeps the first message of each idempotence key (`pingKey`: the event id, compared as PostgreSQL
 * compares uuids, and the time), the key the table's unique constraint sees, so that what is stored
 * does not depend on how the messages fall into batches.
 */
function dedupeByKey<T extends { ping: LocationPing }>(items: readonly T[]): { unique: T[]; repeated: T[] } {
  const seen = new Set<string>();
  const unique: T[] = [];
  const repeated: T[] = [];
  for (const item of items) {
    const id = pingKey(item.ping);
    if (seen.has(id)) repeated.push(item);
    else {
      seen.add(id);
      unique.push(item);
    }
  }
  return { unique, repeated };
}

/** The same key and value bytes, the original headers, and headers saying where it came from and why it failed. */
export function deadLetterMessage(message: IncomingMessage, reason: string, failedAt: Date): OutgoingMessage {
  return {
    key: message.key,
    value: message.value ?? Buffer.alloc(0),
    headers: {
      ...message.headers,
      'dlq-reason': reason,
      'dlq-original-topic': message.topic,
      'dlq-original-partition': String(message.partition),
      'dlq-original-offset': message.offset,
      'dlq-failed-at': failedAt.toISOString(),
    },
  };
}

const SLICE_MS = 250;

export function createBatchProcessor(deps: BatchProcessorDeps): BatchProcessor {
  const { store, metrics } = deps;
  const logger = deps.logger.child({ component: 'batch-processor' });
  const retryDelayMs = deps.retryDelayMs ?? ((attempt: number) => backoffDelay(attempt, 200, 5_000));
  let databaseAvailable = true;

  const setDatabaseAvailable = (up: boolean) => {
    if (up === databaseAvailable) return;
    databaseAvailable = up;
    metrics.setDatabaseUp(up);
    if (up) logger.info('database available again; writing resumes');
  };

  /** Waits `ms`, keeping the group membership alive; returns early if the batch went stale. */
  const waitWithHeartbeats = async (batch: MessageBatch, ms: number) => {
    const end = Date.now() + ms;
    while (!batch.isStale()) {
      await batch.heartbeat();
      const left = end - Date.now();
      if (left <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(SLICE_MS, left)));
    }
  };

  /** Runs `work` until it succeeds; an unavailable database is waited out, anything else is thrown. */
  const untilDatabaseAnswers = async <T>(batch: MessageBatch, work: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const value = await work();
        setDatabaseAvailable(true);
        return value;
      } catch (err) {
        const where = { topic: batch.topic, partition: batch.partition, firstOffset: batch.messages[0]?.offset };
        if (!isDatabaseUnavailable(err)) {
          logger.error({ err, ...where }, 'writing the batch failed; it will be delivered again');
          throw err;
        }
        metrics.databaseRetry();
        setDatabaseAvailable(false);
        if (batch.isStale()) throw new BatchAbandonedError(err);
        const waitMs = retryDelayMs(attempt);
        logger.warn({ err: (err as Error).message, attempt, waitMs, ...where }, 'database unavailable; retrying the batch');
        await waitWithHeartbeats(batch, waitMs);
        if (batch.isStale()) throw new BatchAbandonedError(err);
      }
    }
  };

  /**
   * Traced: the messages that carry a trace context (their producer's span) get a CONSUMER span in
   * each of those traces, and the insert a SQL span in each of them (common/src/tracing.ts).
   */
  const process = async (batch: MessageBatch): Promise<void> => {
    const spans = consumerSpans(batch.topic, batch.messages);
    try {
      await processBatch(batch, spans);
    } catch (err) {
      spans.end(err);
      throw err;
    }
    spans.end();
  };

  const processBatch = async (batch: MessageBatch, spans: ConsumerSpans<IncomingMessage>): Promise<void> => {
    const dead: Array<{ message: IncomingMessage; reason: string }> = [];
    const valid: Parsed[] = [];
    const now = Date.now();
    for (const message of batch.messages) {
      const parsed = parseMessage(message, now);
      if ('reason' in parsed) dead.push({ message, reason: parsed.reason });
      else valid.push({ message, ping: parsed });
    }
    const { unique, repeated: sameKey } = dedupeByKey(valid);
    // A repeat within the batch is a replay if it is the same person's, else an event id reused.
    const firstOwner = new Map(unique.map((u) => [pingKey(u.ping), u.ping.personId]));
    const repeated = sameKey.filter((r) => firstOwner.get(pingKey(r.ping)) === r.ping.personId);
    let reused = 0;
    for (const r of sameKey) {
      if (firstOwner.get(pingKey(r.ping)) !== r.ping.personId) {
        dead.push({ message: r.message, reason: eventIdReused(r.ping) });
        reused++;
      }
    }

    let written: InsertResult = { inserted: 0, duplicates: 0, conflicts: [] };
    let erasedDropped = 0;
    if (unique.length > 0) {
      const { persons, result } = await untilDatabaseAnswers(batch, async () => {
        const started = performance.now();
        const ids = [...new Set(unique.map((u) => u.ping.personId))];
        // A person erased between the look-up and the insert fails the insert's foreign-key check
        // (erasure locks the person's row first): look up again, and their pings are dropped.
        for (let attempt = 1; ; attempt++) {
          const persons = await store.lookUpPersons(ids);
          const rows = unique.filter((u) => persons.known.has(u.ping.personId));
          try {
            const result = await tracedQuery(
              { operation: 'INSERT', table: 'location', batchSize: rows.length },
              () => store.insertPings(rows.map((u) => u.ping)),
              spans.contexts(rows.map((u) => u.message)),
            );
            metrics.observeInsert((performance.now() - started) / 1000);
            return { persons, result };
          } catch (err) {
            if ((err as { code?: string }).code !== FOREIGN_KEY_VIOLATION || attempt >= 3) throw err;
            logger.info({ attempt }, 'a person was erased while their pings were being written; looking the persons up again');
          }
        }
      });
      written = result;
      const conflicts = new Set(result.conflicts);
      for (const u of unique) {
        // An erased person's pings are dropped, not dead-lettered: the dead-letter topic would keep them.
        if (persons.erased.has(u.ping.personId)) erasedDropped++;
        else if (!persons.known.has(u.ping.personId)) dead.push({ message: u.message, reason: `unknown person: person_id ${u.ping.personId} does not exist` });
        else if (conflicts.has(u.ping)) {
          dead.push({ message: u.message, reason: eventIdReused(u.ping) });
          reused++;
        }
      }
    }

    if (dead.length > 0) {
      // In offset order, so the dead-letter topic keeps the order of the original partition.
      dead.sort((a, b) => (BigInt(a.message.offset) < BigInt(b.message.offset) ? -1 : 1));
      const failedAt = new Date(deps.now?.() ?? Date.now());
      spans.count(
        dead.map((d) => d.message),
        'udaconnect.dead_lettered',
      );
      await deps.sendToDeadLetter(dead.map((d) => deadLetterMessage(d.message, d.reason, failedAt)));
      logger.warn(
        {
          count: dead.length,
          topic: batch.topic,
          partition: batch.partition,
          examples: dead.slice(0, 3).map((d) => ({ offset: d.message.offset, reason: d.reason })),
        },
        'sent messages that can never be written to the dead-letter topic',
      );
    }

    metrics.batchHandled({
      size: batch.messages.length,
      inserted: written.inserted,
      duplicates: written.duplicates + repeated.length,
      deadLettered: dead.length,
      eventIdReused: reused,
      erasedDropped,
      partition: batch.partition,
      ...(batch.highWatermark !== undefined ? { lag: Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(batch.messages.at(-1)!.offset) - 1n)) } : {}),
    });
    logger.debug(
      {
        topic: batch.topic,
        partition: batch.partition,
        size: batch.messages.length,
        inserted: written.inserted,
        duplicates: written.duplicates + repeated.length,
        dead: dead.length,
      },
      'batch written',
    );
  };

  return {
    process,
    get databaseAvailable() {
      return databaseAvailable;
    },
  };
}
