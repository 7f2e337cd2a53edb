/**
 * The only module that knows the Kafka client library (kafkajs). Services see a small
 * interface — topics, a batching producer, a batch consumer — so the client can be swapped.
 */
import { CompressionTypes, Kafka, logLevel, Partitioners, type Admin, type Consumer, type IHeaders, type LogEntry, type Producer } from 'kafkajs';
import { retry } from './backoff';
import type { Logger } from './logger';

export interface TopicSpec {
  topic: string;
  numPartitions?: number;
  configs?: Record<string, string>;
}

/** How the topics `ensureTopics` creates are replicated. */
export interface TopicReplication {
  /** Copies of each partition. */
  factor: number;
  /** Copies that must have a message before it is acknowledged (acks=all). */
  minInsync: number;
}

/**
 * The replication a service's config asks for (kafkaTopicsConfigShape). Throws, naming both
 * variables, when fewer copies exist than must acknowledge: every send would be refused.
 */
export function topicReplication(config: { KAFKA_REPLICATION_FACTOR: number; KAFKA_MIN_INSYNC_REPLICAS?: number | undefined }): TopicReplication {
  const factor = config.KAFKA_REPLICATION_FACTOR;
  const minInsync = config.KAFKA_MIN_INSYNC_REPLICAS ?? Math.max(1, factor - 1);
  if (minInsync > factor)
    throw new Error(`KAFKA_MIN_INSYNC_REPLICAS (${minInsync}) is more than KAFKA_REPLICATION_FACTOR (${factor}): no message could ever be acknowledged`);
  return { factor, minInsync };
}

export interface OutgoingMessage {
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export interface MessageBatch {
  topic: string;
  partition: number;
  messages: IncomingMessage[];
  /** The partition's next offset to be written when the batch was fetched (for consumer lag). */
  highWatermark?: string;
  /** Keeps the consumer's group membership alive during long work on one batch. */
  heartbeat(): Promise<void>;
  /** True when the consumer is stopping or rebalancing: finish up, do not start new work. */
  isStale(): boolean;
}

export interface BusProducer {
  /** Resolves once every message is acknowledged by all in-sync replicas (acks=all). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

/** A position in a partition: the offset of the next message to read. */
export interface PartitionOffset {
  partition: number;
  offset: string;
}

export interface BusConsumer {
  /**
   * Consumes `topics` batch by batch. A batch's offsets are committed only after `handler`
   * resolves; if it throws, the batch is delivered again. A consumer made with
   * `commitOffsets: false` starts each partition at `startOffsets` (else where `fromBeginning` says)
   * and, after a rebalance, where its own handler left off.
   */
  run(
    topics: string[],
    handler: (batch: MessageBatch) => Promise<void>,
    opts?: { fromBeginning?: boolean; startOffsets?: Array<PartitionOffset & { topic: string }> },
  ): Promise<void>;
  /** Called once if the client gives up (crash without restart): the process should exit non-zero. */
  onCrash(listener: (err: Error) => void): void;
  close(): Promise<void>;
}

export interface KafkaBus {
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  producer(): Promise<BusProducer>;
  /**
   * `commitOffsets: false`: the group never commits, so a group of its own (one per process) reads every
   * partition from where `run` says and leaves nothing behind in Kafka once it disconnects.
   */
  consumer(opts: { groupId: string; maxBytesPerPartition?: number; maxWaitMs?: number; commitOffsets?: boolean }): BusConsumer;
  /** Per partition of `topic`, the offset of its first message written at or after `timestamp` (ms); the end offset where there is none. */
  offsetsAt(topic: string, timestamp: number): Promise<PartitionOffset[]>;
  /** Per partition of `topic`, the offset the next message written will get (the high watermark). */
  endOffsets(topic: string): Promise<PartitionOffset[]>;
  /** True if a broker answers a metadata request within `timeoutMs`. */
  isReachable(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs logs this at every start, for every idempotent producer whose retries are finite. Ours
 * are finite on purpose: a send must fail in bounded time, so ingest tells the device "not
 * accepted" and the device re-sends with the same event ids (the writer stores each id once),
 * rather than waiting forever while Kafka is down. docs/decisions.md explains what the warning
 * means here; this exact message, and nothing else, is dropped from the log.
 */
const IDEMPOTENT_RETRIES_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

function toHeaders(raw: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String).join(',') : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

export function createKafkaBus(opts: {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** For the topics this bus creates; default one copy (a single broker). */
  replication?: TopicReplication;
}): KafkaBus {
  const replication = opts.replication ?? { factor: 1, minInsync: 1 };
  const log = opts.logger.child({ component: 'kafka' });
  const settings = {
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level === logLevel.WARN && message === IDEMPOTENT_RETRIES_WARNING) return;
        log[LEVELS[level] ?? 'info'](rest, message);
      },
  };
  const kafka = new Kafka(settings);
  /** For one-shot admin requests: a broker that is down fails them at once (their caller retries). */
  const noRetries = new Kafka({ ...settings, retry: { retries: 0 } });
  const admin = kafka.admin();
  let adminConnected: Promise<void> | undefined;
  const connectAdmin = () =>
    (adminConnected ??= admin.connect().catch((err) => {
      adminConnected = undefined;
      throw err;
    }));
  const producers = new Set<Producer>();
  const consumers = new Set<Consumer>();
  const probes = new Set<Promise<unknown>>();
  /**
   * `work` on an admin client of its own without retries, disconnected afterwards: it fails at once
   * while the broker is down (the caller retries), and close() waits for it, so nothing is left behind.
   */
  const oneShotAdmin = <T>(work: (a: Admin) => Promise<T>): Promise<T> => {
    const a = noRetries.admin();
    const attempt = a
      .connect()
      .then(() => work(a))
      .finally(() => a.disconnect().catch(() => undefined));
    const settled = attempt.catch(() => undefined);
    probes.add(settled);
    void settled.finally(() => probes.delete(settled));
    return attempt;
  };

  /**
   * Partitions per topic, known from creating it or asked once (partitions an operator adds later are
   * used after a restart). Asked with retries for 10 s: a topic another process has just created may
   * not be in every broker's metadata yet.
   */
  const partitionCounts = new Map<string, Promise<number>>();
  const partitionCount = (topic: string): Promise<number> => {
    let known = partitionCounts.get(topic);
    if (!known) {
      known = retry(
        async () => {
          await connectAdmin();
          const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
          return topics[0]!.partitions.length;
        },
        { deadlineMs: 10_000, baseMs: 100, capMs: 1_000 },
      );
      void known.catch(() => partitionCounts.delete(topic));
      partitionCounts.set(topic, known);
    }
    return known;
  };

  return {
    async ensureTopics(topics) {
      await connectAdmin();
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.numPartitions ?? 6,
          replicationFactor: replication.factor,
          configEntries: Object.entries({ 'min.insync.replicas': String(replication.minInsync), ...t.configs }).map(([name, value]) => ({ name, value })),
        })),
      });
      for (const t of missing) partitionCounts.set(t.topic, Promise.resolve(t.numPartitions ?? 6));
      log.info({ topics: missing.map((t) => t.topic), replicationFactor: replication.factor, minInsyncReplicas: replication.minInsync }, 'created topics');
    },

    async producer() {
      // kafkajs has no linger setting: callers batch messages into one send, and concurrent
      // sends are pipelined (idempotence keeps up to 5 requests in flight, in order).
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 5,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      producers.add(producer);
      // The same choice kafkajs makes (murmur2 of the key, modulo the partitions), made here so that
      // send() knows which partitions must answer.
      const choosePartition = Partitioners.DefaultPartitioner();
      return {
        /**
         * kafkajs 2.2.4 can resolve a send without writing some of it (its issue #1303): when one
         * broker fails and its partitions move to a broker that already answered for other
         * partitions of the same send, the retry skips them. So every message gets its partition
         * here, and the partitions missing from the answer are sent again (up to 3 times in all);
         * only then is the send acknowledged. test/faults/kafka-cluster-faults.test.ts lost pings
         * on a broker kill without this.
         */
        async send(topic, messages) {
          const partitionMetadata = Array.from({ length: await partitionCount(topic) }, (_, partitionId) => ({
            partitionId,
            leader: 0,
            replicas: [],
            isr: [],
            partitionErrorCode: 0,
          }));
          let pending = messages.map((m) => ({
            key: m.key,
            value: m.value,
            headers: m.headers,
            partition: choosePartition({ topic, partitionMetadata, message: { key: m.key, value: m.value } }),
          }));
          for (let attempt = 1; ; attempt++) {
            const answered = await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages: pending });
            const written = new Set(answered.filter((r) => r.errorCode === 0).map((r) => r.partition));
            const unsent = pending.filter((m) => !written.has(m.partition));
            if (unsent.length === 0) return;
            const partitions = [...new Set(unsent.map((m) => m.partition))];
            if (attempt === 3) throw new Error(`Kafka did not acknowledge partitions ${partitions.join(', ')} of ${topic} after ${attempt} sends`);
            log.warn(
              { topic, partitions, messages: unsent.length, attempt },
              'the Kafka client left partitions unsent after a leader change; sending them again',
            );
            pending = unsent;
          }
        },
        async close() {
          producers.delete(producer);
          await producer.disconnect();
        },
      };
    },

    consumer({ groupId, maxBytesPerPartition = 4 * 1024 * 1024, maxWaitMs = 100, commitOffsets = true }) {
      const consumer = kafka.consumer({
        groupId,
        maxBytesPerPartition,
        maxWaitTimeInMs: maxWaitMs,
        allowAutoTopicCreation: false,
        sessionTimeout: 30_000,
        heartbeatInterval: 3_000,
      });
      consumers.add(consumer);
      const crashListeners: Array<(err: Error) => void> = [];
      consumer.on(consumer.events.CRASH, (event) => {
        const { error, restart } = event.payload as { error: Error; restart: boolean };
        if (restart) return;
        for (const l of crashListeners) l(error);
      });
      /** Without commits: the next offset to read of each partition ("topic:partition"), set by startOffsets and by each batch handled. */
      const positions = new Map<string, string>();
      const at = (topic: string, partition: number) => `${topic}:${partition}`;
      return {
        async run(topics, handler, { fromBeginning = true, startOffsets = [] } = {}) {
          if (commitOffsets && startOffsets.length > 0) throw new Error('startOffsets needs a consumer made with commitOffsets: false');
          for (const s of startOffsets) positions.set(at(s.topic, s.partition), s.offset);
          if (!commitOffsets) {
            // Each join (the first, and after a rebalance) hands out partitions with no committed
            // offset; the seeks below run before its first fetch (kafkajs emits the event synchronously).
            consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
              for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
                for (const partition of partitions) {
                  const offset = positions.get(at(topic, partition));
                  if (offset !== undefined) consumer.seek({ topic, partition, offset });
                }
              }
            });
          }
          await consumer.connect();
          await consumer.subscribe({ topics, fromBeginning });
          await consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            eachBatch: async (payload) => {
              const { batch } = payload;
              const stale = () => !payload.isRunning() || payload.isStale();
              if (batch.messages.length === 0 || stale()) return;
              await handler({
                topic: batch.topic,
                partition: batch.partition,
                highWatermark: batch.highWatermark,
                messages: batch.messages.map((m) => ({
                  topic: batch.topic,
                  partition: batch.partition,
                  offset: m.offset,
                  key: m.key ? m.key.toString('utf8') : null,
                  value: m.value,
                  headers: toHeaders(m.headers),
                  timestamp: m.timestamp,
                })),
                heartbeat: () => payload.heartbeat(),
                isStale: stale,
              });
              payload.resolveOffset(batch.lastOffset());
              const next = (BigInt(batch.lastOffset()) + 1n).toString();
              if (!commitOffsets) {
                positions.set(at(batch.topic, batch.partition), next);
                return;
              }
              await payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
            },
          });
        },
        onCrash(listener) {
          crashListeners.push(listener);
        },
        async close() {
          consumers.delete(consumer);
          await consumer.disconnect();
        },
      };
    },

    offsetsAt: (topic, timestamp) =>
      oneShotAdmin(async (a) => (await a.fetchTopicOffsetsByTimestamp(topic, timestamp)).map(({ partition, offset }) => ({ partition, offset }))),

    endOffsets: (topic) => oneShotAdmin(async (a) => (await a.fetchTopicOffsets(topic)).map(({ partition, high }) => ({ partition, offset: high }))),

    async isReachable(timeoutMs = 2_000) {
      // A throwaway admin without retries: a probe must answer quickly and leave nothing behind.
      const probe = kafka.admin({ retry: { retries: 0 } });
      const attempt = probe
        .connect()
        .then(() => probe.describeCluster())
        .then(() => true)
        .catch(() => false)
        .finally(() => probe.disconnect().catch(() => undefined));
      // close() waits for probes that outlived their timeout, so no socket or timer is left.
      probes.add(attempt);
      void attempt.finally(() => probes.delete(attempt));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      try {
        return await Promise.race([attempt, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      await Promise.allSettled(probes);
      await Promise.allSettled([...consumers].map((c) => c.disconnect()));
      await Promise.allSettled([...producers].map((p) => p.disconnect()));
      if (adminConnected) await admin.disconnect().catch(() => undefined);
    },
  };
}
