/**
 * The writer's own metrics, on the service's prom-client registry (common/src/metrics.ts adds the
 * process, pool and query metrics beside them). Served at /metrics by the operator server.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Upper bounds of the insert-latency histogram, in seconds. */
const INSERT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Upper bounds of the batch-size histogram, in messages. */
const BATCH_SIZE_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export interface WriterValues {
  messages: number;
  rowsInserted: number;
  duplicates: number;
  deadLettered: number;
  /** Messages dead-lettered because their event_id is already another person's. */
  eventIdReused: number;
  batches: number;
  dbRetries: number;
  databaseUp: number;
  /** Batches whose insert was timed (the histogram's count). */
  insertsTimed: number;
}

export class WriterMetrics {
  private readonly messages: Counter;
  private readonly rowsInserted: Counter;
  private readonly duplicates: Counter;
  private readonly deadLettered: Counter;
  private readonly eventIdReused: Counter;
  private readonly batches: Counter;
  private readonly dbRetries: Counter;
  private readonly databaseUp: Gauge;
  private readonly consumerLag: Gauge<'partition'>;
  private readonly batchSize: Histogram;
  private readonly insertSeconds: Histogram;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.messages = counter('location_writer_messages_total', 'Kafka messages handled (written, duplicate or dead-lettered).');
    this.rowsInserted = counter('location_writer_rows_inserted_total', 'Rows inserted into the location table.');
    this.duplicates = counter('location_writer_duplicates_total', 'Messages whose event_id was already stored (replays).');
    this.deadLettered = counter('location_writer_dlq_total', 'Messages sent to the dead-letter topic.');
    this.eventIdReused = counter(
      'location_writer_event_id_reused_total',
      'Messages dead-lettered because their event_id is already stored (or earlier in the batch) for a different person.',
    );
    this.batches = counter('location_writer_batches_total', 'Kafka batches handled to the end.');
    this.dbRetries = counter('location_writer_db_retries_total', 'Database attempts that failed because the database was unavailable.');
    this.databaseUp = new Gauge({ name: 'location_writer_database_up', help: '1 unless the last database attempt found the database unavailable.', registers });
    this.databaseUp.set(1);
    this.consumerLag = new Gauge({
      name: 'location_writer_consumer_lag',
      help: 'Messages behind the partition’s high watermark after the last batch, by partition.',
      labelNames: ['partition'],
      registers,
    });
    this.batchSize = new Histogram({ name: 'location_writer_batch_size', help: 'Messages per Kafka batch handled.', buckets: BATCH_SIZE_BUCKETS, registers });
    this.insertSeconds = new Histogram({
      name: 'location_writer_insert_duration_seconds',
      help: 'Time to write one batch (person lookup and insert transaction).',
      buckets: INSERT_SECONDS_BUCKETS,
      registers,
    });
  }

  setDatabaseUp(up: boolean): void {
    this.databaseUp.set(up ? 1 : 0);
  }

  databaseRetry(): void {
    this.dbRetries.inc();
  }

  observeInsert(seconds: number): void {
    this.insertSeconds.observe(seconds);
  }

  batchHandled(batch: {
    size: number;
    inserted: number;
    duplicates: number;
    deadLettered: number;
    eventIdReused?: number;
    partition: number;
    lag?: number;
  }): void {
    this.batches.inc();
    this.batchSize.observe(batch.size);
    this.messages.inc(batch.size);
    this.rowsInserted.inc(batch.inserted);
    this.duplicates.inc(batch.duplicates);
    this.deadLettered.inc(batch.deadLettered);
    this.eventIdReused.inc(batch.eventIdReused ?? 0);
    if (batch.lag !== undefined) this.consumerLag.set({ partition: String(batch.partition) }, batch.lag);
  }

  /** The values now, as /metrics would show them (tests). */
  async values(): Promise<WriterValues> {
    const value = async (m: Counter | Gauge) => (await m.get()).values[0]?.value ?? 0;
    const timed = (await this.insertSeconds.get()).values.find((v) => v.metricName === 'location_writer_insert_duration_seconds_count');
    return {
      messages: await value(this.messages),
      rowsInserted: await value(this.rowsInserted),
      duplicates: await value(this.duplicates),
      deadLettered: await value(this.deadLettered),
      eventIdReused: await value(this.eventIdReused),
      batches: await value(this.batches),
      dbRetries: await value(this.dbRetries),
      databaseUp: await value(this.databaseUp),
      insertsTimed: timed?.value ?? 0,
    };
  }
}
