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
    // One copy of each topic it creates (a single broker); KAFKA_MIN_INSYNC_REPLICAS unset: one less, at least 1.
    KAFKA_REPLICATION_FACTOR: 1,
    DB_POOL_MAX: 5,
    RETENTION_DAYS: 30,
    RETENTION_INTERVAL_MINUTES: 60,
    RETENTION_FIRST_RUN_DELAY_MS: 60_000,
    RETENTION_BATCH_ROWS: 10_000,
    // Day partitions of location made for today and the 7 days after.
    LOCATION_PARTITION_DAYS_AHEAD: 7,
    // Presence: a run a second, up to 2,000 persons; the presence rules (2-minute visits, 5-minute gaps and covers).
    PRESENCE_INTERVAL_MS: 1_000,
    PRESENCE_PERSONS_PER_RUN: 2_000,
    PRESENCE_MIN_VISIT_SECONDS: 120,
    PRESENCE_MAX_GAP_SECONDS: 300,
    PRESENCE_MAX_COVER_SECONDS: 300,
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

test('the presence rules are checked: a gap or cover of 0 seconds, a negative interval, a fraction', () => {
  const problems = (env: Record<string, string>) => {
    try {
      parseConfig(locationWriterConfigSchema, { ...required, ...env });
      return '';
    } catch (err) {
      return (err as ConfigError).problems.join('\n');
    }
  };
  expect(problems({ PRESENCE_MAX_GAP_SECONDS: '0' })).toMatch(/PRESENCE_MAX_GAP_SECONDS/);
  expect(problems({ PRESENCE_MAX_COVER_SECONDS: '0' })).toMatch(/PRESENCE_MAX_COVER_SECONDS/);
  expect(problems({ PRESENCE_INTERVAL_MS: '-1' })).toMatch(/PRESENCE_INTERVAL_MS/);
  expect(problems({ PRESENCE_MIN_VISIT_SECONDS: '1.5' })).toMatch(/PRESENCE_MIN_VISIT_SECONDS/);
  expect(parseConfig(locationWriterConfigSchema, { ...required, PRESENCE_INTERVAL_MS: '0', PRESENCE_MIN_VISIT_SECONDS: '0' })).toMatchObject({
    PRESENCE_INTERVAL_MS: 0,
    PRESENCE_MIN_VISIT_SECONDS: 0,
  });
});

test('the days of partitions made ahead are 1 to 365 whole days: 0 would leave tomorrow without one for a ping 5 minutes ahead', () => {
  const problems = (value: string) => {
    try {
      parseConfig(locationWriterConfigSchema, { ...required, LOCATION_PARTITION_DAYS_AHEAD: value });
      return '';
    } catch (err) {
      return (err as ConfigError).problems.join('\n');
    }
  };
  for (const bad of ['0', '366', '2.5', 'week']) expect(problems(bad)).toMatch(/LOCATION_PARTITION_DAYS_AHEAD/);
  expect(parseConfig(locationWriterConfigSchema, { ...required, LOCATION_PARTITION_DAYS_AHEAD: '1' })).toMatchObject({ LOCATION_PARTITION_DAYS_AHEAD: 1 });
});
