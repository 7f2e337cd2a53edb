/**
 * What `POST /api/locations` needs, behind a small interface so route tests can swap in an
 * in-memory one (test/fakes.ts): a publisher, the person check, and whether Kafka is reachable.
 * The real one is the same topic set-up, person cache and batching publisher as location-ingest.
 */
import { createKafkaBus, retry, type BusProducer, type Knex, type Logger } from '@udaconnect/common';
import { PersonDirectory, PingPublisher, type LocationPing } from '@udaconnect/domain';

export interface PingPublishing {
  /** Resolves once Kafka has the ping (acks=all); rejects when it cannot be handed over. */
  publisher: { publish(ping: LocationPing): Promise<void> };
  /** Whether a person id exists (cached; throws while the database is needed and down). */
  personDirectory: { exists(personId: number): Promise<boolean> };
  /** For /readyz (reported, not required). */
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Starts without waiting for Kafka: the topic and the producer are set up in the background, with
 * backoff, until the broker answers (or close() is called). Meanwhile the rest of the API works,
 * /readyz reports kafka: false, and a ping is refused (503) rather than queued: nothing is
 * acknowledged to a caller before Kafka has it.
 */
export async function startPingPublishing(opts: { brokers: string[]; topic: string; partitions: number; knex: Knex; logger: Logger }): Promise<PingPublishing> {
  const bus = createKafkaBus({ brokers: opts.brokers, clientId: 'person-api', logger: opts.logger });
  const personDirectory = new PersonDirectory(opts.knex);
  await personDirectory.start();
  let closed = false;
  let connected: { producer: BusProducer; publisher: PingPublisher } | undefined;
  void retry(
    async () => {
      await bus.ensureTopics([{ topic: opts.topic, numPartitions: opts.partitions }]);
      const producer = await bus.producer();
      if (closed) await producer.close();
      else connected = { producer, publisher: new PingPublisher(producer, opts.topic) };
    },
    {
      deadlineMs: Number.POSITIVE_INFINITY,
      capMs: 10_000,
      retryIf: () => !closed,
      onRetry: (err, attempt, waitMs) =>
        opts.logger.warn({ err: (err as Error).message, attempt, waitMs }, 'Kafka not reachable yet; POST /api/locations answers 503 until it is'),
    },
  ).then(
    () => connected && opts.logger.info('Kafka producer ready'),
    () => undefined,
  );
  return {
    publisher: {
      publish(ping) {
        if (!connected) return Promise.reject(new Error('the Kafka producer is not connected yet'));
        return connected.publisher.publish(ping);
      },
    },
    personDirectory,
    isReachable: async () => connected !== undefined && (await bus.isReachable()),
    async close() {
      closed = true;
      personDirectory.stop();
      // Not awaiting a connection attempt in progress (with the broker down one can take tens of
      // seconds): closing the bus ends it, and a producer it still makes is closed at once.
      if (connected) {
        await connected.publisher.drain();
        await connected.producer.close();
      }
      await bus.close();
    },
  };
}
