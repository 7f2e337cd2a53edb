/**
 * Publishing pings to Kafka for a service that must not wait for Kafka to start (location-ingest,
 * person-api): the topic and the producer are set up in the background, with backoff, until the
 * broker answers. Meanwhile publish() rejects with KafkaNotConnectedError, which callers turn into
 * 503 / UNAVAILABLE: nothing is acknowledged to a device before Kafka has it.
 */
import { connectInBackground, createKafkaBus, type BusProducer, type Logger, type TopicReplication } from '@udaconnect/common';
import type { PingMetrics } from './ping-metrics';
import { PingPublisher, type LocationPing } from './pings';

export class KafkaNotConnectedError extends Error {
  constructor() {
    super('the Kafka producer is not connected yet');
    this.name = 'KafkaNotConnectedError';
  }
}

export interface PingPublishing {
  /** Resolves once Kafka has the ping (acks=all); rejects when it cannot be handed over. */
  publish(ping: LocationPing): Promise<void>;
  /** Connected, and a broker answers now (for readiness and gRPC health). */
  isReachable(timeoutMs?: number): Promise<boolean>;
  /** Sends what is queued and waits for it. */
  drain(): Promise<void>;
  /** drain(), then close the producer and the client; stops a connection attempt in progress. */
  close(): Promise<void>;
}

export function startPingPublishing(opts: {
  brokers: string[];
  clientId: string;
  topic: string;
  partitions: number;
  /** How the topic is replicated if this creates it. */
  replication?: TopicReplication;
  logger: Logger;
  /** What callers see while Kafka is down, for the log line. */
  whileDown: string;
  batching?: { maxBatch?: number; lingerMs?: number };
  /** Each send's size and latency. */
  metrics?: PingMetrics;
}): PingPublishing {
  const bus = createKafkaBus({
    brokers: opts.brokers,
    clientId: opts.clientId,
    logger: opts.logger,
    ...(opts.replication ? { replication: opts.replication } : {}),
  });
  const connection = connectInBackground<{ producer: BusProducer; publisher: PingPublisher }>({
    what: 'Kafka producer',
    logger: opts.logger,
    whileDown: opts.whileDown,
    connect: async () => {
      // The DLQ belongs to location-writer, which creates it.
      await bus.ensureTopics([{ topic: opts.topic, numPartitions: opts.partitions }]);
      const producer = await bus.producer();
      const onSent = opts.metrics?.sent;
      return { producer, publisher: new PingPublisher(producer, opts.topic, { ...opts.batching, ...(onSent ? { onSent } : {}) }) };
    },
    discard: ({ producer }) => producer.close(),
  });
  return {
    publish(ping) {
      const connected = connection.current();
      if (!connected) return Promise.reject(new KafkaNotConnectedError());
      return connected.publisher.publish(ping);
    },
    isReachable: async (timeoutMs) => connection.current() !== undefined && (await bus.isReachable(timeoutMs)),
    drain: async () => connection.current()?.publisher.drain(),
    async close() {
      // Not awaiting an attempt in progress (with the broker down one can take tens of seconds):
      // closing the client ends it, and a producer it still makes is closed at once (discard).
      const made = connection.current();
      connection.stop();
      if (made) {
        await made.publisher.drain();
        await made.producer.close();
      }
      await bus.close();
    },
  };
}
