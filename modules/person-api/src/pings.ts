/**
 * What `POST /api/locations` needs, behind a small interface so route tests can swap in an
 * in-memory one (test/fakes.ts): a publisher, the person check, and whether Kafka is reachable.
 * The real one is location-ingest's: the person cache and the background-connected batching
 * publisher of @udaconnect/domain.
 */
import type { Knex, Logger, TopicReplication } from '@udaconnect/common';
import { PersonDirectory, startPingPublishing as connectPublisher, type LocationPing, type PingMetrics } from '@udaconnect/domain';

export interface PingPublishing {
  /** Resolves once Kafka has the ping (acks=all); rejects when it cannot be handed over. */
  publisher: { publish(ping: LocationPing): Promise<void> };
  /** Whether a person id exists (cached; throws while the database is needed and down). */
  personDirectory: { exists(personId: number): Promise<boolean>; forget(personId: number): void };
  /** For /readyz (reported, not required). */
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Starts without waiting for Kafka or the database. Until the producer is connected the rest of
 * the API works, /readyz reports kafka: false, and a ping is refused (503) rather than queued:
 * nothing is acknowledged to a caller before Kafka has it.
 */
export function startPingPublishing(opts: {
  brokers: string[];
  topic: string;
  partitions: number;
  replication: TopicReplication;
  knex: Knex;
  logger: Logger;
  metrics?: PingMetrics;
}): PingPublishing {
  const personDirectory = new PersonDirectory(opts.knex);
  personDirectory.start();
  const publisher = connectPublisher({
    brokers: opts.brokers,
    clientId: 'person-api',
    topic: opts.topic,
    partitions: opts.partitions,
    replication: opts.replication,
    logger: opts.logger,
    whileDown: 'POST /api/locations answers 503 until it is',
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
  });
  return {
    publisher,
    personDirectory,
    isReachable: () => publisher.isReachable(),
    async close() {
      personDirectory.stop();
      await publisher.close();
    },
  };
}
