/** The Kafka side of person-api: the same topic set-up, person cache and publisher as location-ingest. */
import { createKafkaBus, PersonDirectory, PingPublisher, type Knex, type Logger } from '@udaconnect/common';

export async function startPingPublishing(opts: { brokers: string[]; topic: string; partitions: number; knex: Knex; logger: Logger }) {
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
    bus,
    publisher,
    personDirectory,
    async close() {
      personDirectory.stop();
      await publisher.drain();
      await producer.close();
      await bus.close();
    },
  };
}
