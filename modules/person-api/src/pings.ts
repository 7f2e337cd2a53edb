/**
 * What `POST /api/locations` needs, behind a small interface so route tests can swap in an
 * in-memory one (test/fakes.ts): a publisher, the person check, and whether Kafka is reachable.
 * The real one is the same topic set-up, person cache and batching publisher as location-ingest.
 */
import { createKafkaBus, type Knex, type Logger } from '@udaconnect/common';
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

export async function startPingPublishing(opts: { brokers: string[]; topic: string; partitions: number; knex: Knex; logger: Logger }): Promise<PingPublishing> {
  const bus = createKafkaBus({ brokers: opts.brokers, clientId: 'person-api', logger: opts.logger });
  const producer = await bus
    .ensureTopics([{ topic: opts.topic, numPartitions: opts.partitions }])
    .then(() => bus.producer())
    .catch(async (err) => {
      await bus.close();
      throw err;
    });
  const publisher = new PingPublisher(producer, opts.topic);
  const personDirectory = new PersonDirectory(opts.knex);
  await personDirectory.start();
  return {
    publisher,
    personDirectory,
    isReachable: () => bus.isReachable(),
    async close() {
      personDirectory.stop();
      await publisher.drain();
      await producer.close();
      await bus.close();
    },
  };
}
