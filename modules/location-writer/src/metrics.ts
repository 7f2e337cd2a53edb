/**
 * The writer's metrics, rendered in the Prometheus text exposition format (version 0.0.4).
 * A handful of numbers does not need a metrics library: plain fields, one render function.
 */

/** Upper bounds of the insert-latency histogram, in seconds. */
export const INSERT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export class WriterMetrics {
  /** Messages handled to the end: written, found to be duplicates, or dead-lettered. */
  messages = 0;
  rowsInserted = 0;
  duplicates = 0;
  deadLettered = 0;
  batches = 0;
  dbRetries = 0;
  lastBatchSize = 0;
  databaseUp = 1;
  readonly insertSeconds = { buckets: INSERT_SECONDS_BUCKETS.map(() => 0), sum: 0, count: 0 };

  observeInsert(seconds: number): void {
    INSERT_SECONDS_BUCKETS.forEach((le, i) => {
      if (seconds <= le) this.insertSeconds.buckets[i]!++;
    });
    this.insertSeconds.sum += seconds;
    this.insertSeconds.count++;
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    metric('location_writer_messages_total', 'counter', 'Kafka messages handled (written, duplicate or dead-lettered).', this.messages);
    metric('location_writer_rows_inserted_total', 'counter', 'Rows inserted into the location table.', this.rowsInserted);
    metric('location_writer_duplicates_total', 'counter', 'Messages whose event_id was already stored (replays).', this.duplicates);
    metric('location_writer_dlq_total', 'counter', 'Messages sent to the dead-letter topic.', this.deadLettered);
    metric('location_writer_batches_total', 'counter', 'Kafka batches handled to the end.', this.batches);
    metric('location_writer_db_retries_total', 'counter', 'Database attempts that failed because the database was unavailable.', this.dbRetries);
    metric('location_writer_last_batch_size', 'gauge', 'Messages in the last batch handled.', this.lastBatchSize);
    metric('location_writer_database_up', 'gauge', '1 unless the last database attempt found the database unavailable.', this.databaseUp);

    const h = 'location_writer_insert_duration_seconds';
    lines.push(`# HELP ${h} Time to write one batch (person lookup and insert transaction).`, `# TYPE ${h} histogram`);
    INSERT_SECONDS_BUCKETS.forEach((le, i) => lines.push(`${h}_bucket{le="${le}"} ${this.insertSeconds.buckets[i]}`));
    lines.push(`${h}_bucket{le="+Inf"} ${this.insertSeconds.count}`, `${h}_sum ${this.insertSeconds.sum}`, `${h}_count ${this.insertSeconds.count}`);
    return `${lines.join('\n')}\n`;
  }
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
