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
  /** Messages of erased persons, dropped. */
  erasedDropped: number;
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
  private readonly erasedDropped: Counter;
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
    this.erasedDropped = counter(
      'location_writer_erased_dropped_total',
      'Messages dropped because their person was erased (DELETE /api/persons/{id}): never written, never dead-lettered.',
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
    erasedDropped?: number;
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
    this.erasedDropped.inc(batch.erasedDropped ?? 0);
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
      erasedDropped: await value(this.erasedDropped),
      batches: await value(this.batches),
      dbRetries: await value(this.dbRetries),
      databaseUp: await value(this.databaseUp),
      insertsTimed: timed?.value ?? 0,
    };
  }
}

/** Upper bounds of the retention-run histogram, in seconds. */
const RETENTION_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

export type RetentionOutcome = 'completed' | 'skipped' | 'failed';

/** Retention's metrics (retention.ts), on the same registry; created only where retention runs. */
export class RetentionMetrics {
  private readonly deleted: Counter;
  private readonly runs: Counter<'outcome'>;
  private readonly lastSuccess: Gauge;
  private readonly runSeconds: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.deleted = new Counter({ name: 'location_writer_retention_deleted_total', help: 'Pings deleted by retention (older than RETENTION_DAYS).', registers });
    this.runs = new Counter({
      name: 'location_writer_retention_runs_total',
      help: 'Retention runs by outcome: completed, skipped (another writer holds the lock) or failed (retried at the next interval).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['completed', 'skipped', 'failed'] as const) this.runs.inc({ outcome }, 0);
    this.lastSuccess = new Gauge({
      name: 'location_writer_retention_last_success_timestamp_seconds',
      help: 'Unix time at which the last completed retention run ended; 0 before the first.',
      registers,
    });
    this.runSeconds = new Histogram({
      name: 'location_writer_retention_run_duration_seconds',
      help: 'Time of one completed retention run (all its batches).',
      buckets: RETENTION_SECONDS_BUCKETS,
      registers,
    });
  }

  rowsDeleted(n: number): void {
    this.deleted.inc(n);
  }

  run(outcome: RetentionOutcome, seconds: number): void {
    this.runs.inc({ outcome });
    if (outcome !== 'completed') return;
    this.runSeconds.observe(seconds);
    this.lastSuccess.set(Date.now() / 1000);
  }
}

/** Upper bounds of the presence-run histogram, in seconds. */
const PRESENCE_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type PresenceOutcome = 'completed' | 'skipped' | 'failed';

/** The presence worker's metrics (presence.ts), on the same registry. */
export class PresenceMetrics {
  private readonly persons: Counter;
  private readonly marks: Counter;
  private readonly runs: Counter<'outcome'>;
  private readonly runSeconds: Histogram;
  private readonly queueAge: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.persons = new Counter({
      name: 'location_writer_presence_persons_total',
      help: 'Persons whose visits and attendance were computed again (once per person and run).',
      registers,
    });
    this.marks = new Counter({ name: 'location_writer_presence_marks_total', help: 'Marks (presence_dirty rows) processed and deleted.', registers });
    this.runs = new Counter({
      name: 'location_writer_presence_runs_total',
      help: 'Presence runs by outcome: completed (with or without work), skipped (another writer holds the lock) or failed (retried at the next interval).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['completed', 'skipped', 'failed'] as const) this.runs.inc({ outcome }, 0);
    this.runSeconds = new Histogram({
      name: 'location_writer_presence_run_duration_seconds',
      help: 'Time of one completed presence run that had marks to process.',
      buckets: PRESENCE_SECONDS_BUCKETS,
      registers,
    });
    this.queueAge = new Gauge({
      name: 'location_writer_presence_queue_age_seconds',
      help: 'Age of the oldest mark waiting in presence_dirty when the last run looked; 0 when none waits.',
      registers,
    });
  }

  run(outcome: PresenceOutcome, seconds: number, work?: { persons: number; marks: number }): void {
    this.runs.inc({ outcome });
    if (outcome !== 'completed' || !work || work.marks === 0) return;
    this.runSeconds.observe(seconds);
    this.persons.inc(work.persons);
    this.marks.inc(work.marks);
  }

  setQueueAge(seconds: number): void {
    this.queueAge.set(seconds);
  }
}
