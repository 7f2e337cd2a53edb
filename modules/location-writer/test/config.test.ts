import { ConfigError, parseConfig } from '@udaconnect/common';
import { locationWriterConfigSchema } from '../src/config';

const required = { DATABASE_URL: 'postgresql://u:p@localhost:5432/db', KAFKA_BROKERS: 'localhost:9092' };

test('defaults follow the contract: port 30004 on the loopback interface, group location-writer, topics locations and locations.dlq, 6 partitions', () => {
  expect(parseConfig(locationWriterConfigSchema, required)).toEqual({
    ...required,
    KAFKA_BROKERS: ['localhost:9092'],
    PORT: 30004,
    METRICS_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    KAFKA_GROUP_ID: 'location-writer',
    LOCATIONS_TOPIC: 'locations',
    LOCATIONS_DLQ_TOPIC: 'locations.dlq',
    LOCATIONS_PARTITIONS: 6,
    DB_POOL_MAX: 5,
    RETENTION_DAYS: 30,
    RETENTION_INTERVAL_MINUTES: 60,
    RETENTION_FIRST_RUN_DELAY_MS: 60_000,
    RETENTION_BATCH_ROWS: 10_000,
    // Tracing off (no OTLP endpoint); every trace sampled once it is on.
    TRACES_SAMPLE_RATIO: 1,
  });
});

test('every missing or bad variable is named at once', () => {
  let error: unknown;
  try {
    parseConfig(locationWriterConfigSchema, { KAFKA_BROKERS: 'nohost', LOCATIONS_TOPIC: 'bad topic', LOCATIONS_PARTITIONS: '0' });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const text = (error as ConfigError).problems.join('\n');
  expect(text).toMatch(/DATABASE_URL is required/);
  expect(text).toMatch(/KAFKA_BROKERS(\.0)?: each broker must be host:port/);
  expect(text).toMatch(/LOCATIONS_TOPIC: must be/);
  expect(text).toMatch(/LOCATIONS_PARTITIONS/);
});
