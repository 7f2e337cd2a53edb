/**
 * The writer assembled from its parts: database pool, Kafka bus, batch processor, health
 * server. main.ts adds only the process wiring; tests start the same thing in-process with
 * port 0, their own database, group id and topic names.
 */
import {
  closeHttpServer,
  connectInBackground,
  createDatabase,
  createKafkaBus,
  createMetricsRegistry,
  createOperatorServer,
  databaseMetrics,
  listen,
  topicReplication,
  type BusProducer,
  type Database,
  type Logger,
  type ShutdownStep,
} from '@udaconnect/common';
import { createBatchProcessor } from './batch-processor';
import type { LocationWriterConfig } from './config';
import { EventWindows } from './event-windows';
import { pingStore } from './location-store';
import { PresenceMetrics, RetentionMetrics, WriterMetrics } from './metrics';
import { startPartitionUpkeep, type PartitionUpkeep } from './partitions';
import { startPresence, type Presence } from './presence';
import { startRetention, type Retention } from './retention';

export interface LocationWriter {
  /** Port of the health/metrics server. */
  port: number;
  metrics: WriterMetrics;
  db: Database;
  /** The periodic deletion of old pings (retention.ts); runOnce() runs one now. */
  retention: Retention;
  /** The day partitions of `location` made ahead (partitions.ts); runOnce() runs one now. */
  partitions: PartitionUpkeep;
  /** The presence worker (presence.ts): visits and attendance derived from the pings; runOnce() runs one now. */
  presence: Presence;
  /** True while the consumer is in its group and the database answers (what /readyz says). */
  isReady(): Promise<boolean>;
  /**
   * In order: stop the partition upkeep (no new run; the one in progress finishes), retention (no
   * new run; a run in progress ends after its current statement) and the presence worker (no new
   * run; the one in progress finishes), stop consuming (the batch in flight finishes and is
   * committed, or is handed back), then close the HTTP server, the database pool and the Kafka
   * clients.
   */
  shutdownSteps: ShutdownStep[];
  /** Runs shutdownSteps; rejects with the first failure after trying them all. */
  stop(): Promise<void>;
  /** `listener` is called once if the Kafka consumer gives up for good (no automatic restart). */
  onCrash(listener: (err: Error) => void): void;
}

export async function startLocationWriter(config: LocationWriterConfig, logger: Logger): Promise<LocationWriter> {
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: config.DB_POOL_MAX });
  const bus = createKafkaBus({ brokers: config.KAFKA_BROKERS, clientId: 'location-writer', logger, replication: topicReplication(config) });
  const registry = createMetricsRegistry('location-writer');
  const metrics = new WriterMetrics(registry);
  databaseMetrics(registry, db.knex);
  const consumer = bus.consumer({ groupId: config.KAFKA_GROUP_ID });
  const presenceRules = {
    minVisitMs: config.PRESENCE_MIN_VISIT_SECONDS * 1000,
    maxGapMs: config.PRESENCE_MAX_GAP_SECONDS * 1000,
    maxCoverMs: config.PRESENCE_MAX_COVER_SECONDS * 1000,
  };
  // Presence off: no marks either (PRESENCE_INTERVAL_MS=0).
  const eventWindows = config.PRESENCE_INTERVAL_MS > 0 ? new EventWindows(db.knex, presenceRules.maxCoverMs) : undefined;

  let consuming = false;
  let crashed: Error | undefined;
  const crashListeners: Array<(err: Error) => void> = [];
  consumer.onCrash((err) => {
    consuming = false;
    crashed = err;
    if (crashListeners.length === 0) logger.error({ err }, 'Kafka consumer crashed');
    for (const l of crashListeners) l(err);
  });

  // Created before the processor exists so that /healthz answers during start-up.
  let processor: ReturnType<typeof createBatchProcessor> | undefined;
  const checks = {
    consumer: () => consuming,
    database: async () => (processor?.databaseAvailable ?? true) && (await db.isReady()),
  };
  const server = createOperatorServer({ registry, readiness: checks, logger });

  // A failed start leaves nothing open behind it.
  const closeAll = async () => {
    await consumer.close().catch(() => undefined);
    if (server.listening) await closeHttpServer(server).catch(() => undefined);
    await db.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
  };

  let port: number;
  try {
    port = await listen(server, config.PORT, config.METRICS_HOST);
  } catch (err) {
    // A port in use: leave nothing open behind the failed start.
    await closeAll();
    throw err;
  }

  // Today's and the next days' partitions of location; a database that is down only fails a run
  // (its pings go to the default partition meanwhile, and move when their day's partition is made).
  const partitions = startPartitionUpkeep({ knex: db.knex, logger, daysAhead: config.LOCATION_PARTITION_DAYS_AHEAD });

  // Kafka in the background (docs/decisions.md, "Start without dependencies"): /readyz says
  // consumer: false until the consumer is in its group; a database that is down only pauses batches.
  let deadLetterProducer: BusProducer | undefined;
  const joining = connectInBackground({
    what: 'Kafka consumer',
    logger,
    whileDown: '/readyz reports consumer: false until it is',
    connect: async () => {
      await bus.ensureTopics([
        { topic: config.LOCATIONS_TOPIC, numPartitions: config.LOCATIONS_PARTITIONS },
        { topic: config.LOCATIONS_DLQ_TOPIC, numPartitions: config.LOCATIONS_PARTITIONS },
      ]);
      deadLetterProducer ??= await bus.producer();
      const dlq = deadLetterProducer;
      processor ??= createBatchProcessor({
        store: pingStore(db.knex, eventWindows),
        sendToDeadLetter: (messages) => dlq.send(config.LOCATIONS_DLQ_TOPIC, messages),
        metrics,
        logger,
      });
      const batchProcessor = processor;
      // The days ahead exist before the first batch is written (a failure is only logged).
      await partitions.runOnce();
      await consumer.run([config.LOCATIONS_TOPIC], (batch) => batchProcessor.process(batch));
      consuming = crashed === undefined;
    },
  });

  // Old pings deleted periodically; a database that is down only fails a run (the next one retries).
  const retention = startRetention({
    knex: db.knex,
    metrics: new RetentionMetrics(registry),
    logger,
    days: config.RETENTION_DAYS,
    batchRows: config.RETENTION_BATCH_ROWS,
    intervalMs: config.RETENTION_INTERVAL_MINUTES * 60_000,
    firstRunDelayMs: config.RETENTION_FIRST_RUN_DELAY_MS,
  });

  // Visits and attendance derived from the marked pings; a database that is down only fails a run.
  const presence = startPresence({
    knex: db.knex,
    metrics: new PresenceMetrics(registry),
    logger,
    intervalMs: config.PRESENCE_INTERVAL_MS,
    personsPerRun: config.PRESENCE_PERSONS_PER_RUN,
    rules: presenceRules,
    retentionDays: config.RETENTION_DAYS,
  });

  const shutdownSteps: ShutdownStep[] = [
    // No new run; the one in progress finishes (one statement).
    { name: 'partitions', run: () => partitions.stop() },
    // No new run; the one in progress ends after its current DELETE statement.
    { name: 'retention', run: () => retention.stop() },
    // No new run; the one in progress finishes (its marks are deleted only with what it stored).
    { name: 'presence', run: () => presence.stop() },
    {
      name: 'kafka consumer',
      run: async () => {
        consuming = false; // not ready from now on
        joining.stop();
        await consumer.close();
      },
    },
    { name: 'http', run: () => closeHttpServer(server) },
    { name: 'database', run: () => db.close() },
    { name: 'kafka', run: () => bus.close() },
  ];

  return {
    port,
    metrics,
    db,
    retention,
    partitions,
    presence,
    async isReady() {
      return consuming && (await checks.database());
    },
    shutdownSteps,
    async stop() {
      const errors: unknown[] = [];
      for (const step of shutdownSteps) {
        try {
          await step.run();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw errors[0];
    },
    onCrash(listener) {
      if (crashed) listener(crashed);
      else crashListeners.push(listener);
    },
  };
}
