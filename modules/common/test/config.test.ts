import { z } from 'zod';
import { ConfigError, env, kafkaTopicsConfigShape, parseConfig } from '../src/config';
import { topicReplication } from '../src/kafka';

const schema = z.object({ PORT: env.port(30001), DATABASE_URL: env.databaseUrl(), KAFKA_BROKERS: env.kafkaBrokers() });

describe('parseConfig', () => {
  it('applies defaults and parses values', () => {
    expect(parseConfig(schema, { DATABASE_URL: 'postgresql://u:p@h:5432/d', KAFKA_BROKERS: 'a:9092, b:9093' })).toEqual({
      PORT: 30001,
      DATABASE_URL: 'postgresql://u:p@h:5432/d',
      KAFKA_BROKERS: ['a:9092', 'b:9093'],
    });
  });

  it('names every missing or bad variable in one error, treating empty as missing', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig(schema, { PORT: '99999', DATABASE_URL: '', KAFKA_BROKERS: 'nohost' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toHaveLength(3);
    expect(error!.message).toContain('DATABASE_URL is required but not set');
    expect(error!.message).toMatch(/PORT: /);
    expect(error!.message).toMatch(/KAFKA_BROKERS.*host:port/);
  });
});

describe('topic replication (KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS)', () => {
  const replicationSchema = z.object(kafkaTopicsConfigShape);
  const replication = (vars: Record<string, string>) => topicReplication(parseConfig(replicationSchema, vars));

  it('one copy by default; with more copies, one fewer must acknowledge unless set', () => {
    expect(replication({})).toEqual({ factor: 1, minInsync: 1 });
    expect(replication({ KAFKA_REPLICATION_FACTOR: '3' })).toEqual({ factor: 3, minInsync: 2 });
    expect(replication({ KAFKA_REPLICATION_FACTOR: '2' })).toEqual({ factor: 2, minInsync: 1 });
    expect(replication({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '3' })).toEqual({ factor: 3, minInsync: 3 });
  });

  it('refuses more acknowledging copies than copies, naming both variables', () => {
    expect(() => replication({ KAFKA_REPLICATION_FACTOR: '1', KAFKA_MIN_INSYNC_REPLICAS: '2' })).toThrow(
      'KAFKA_MIN_INSYNC_REPLICAS (2) is more than KAFKA_REPLICATION_FACTOR (1)',
    );
    expect(() => replication({ KAFKA_REPLICATION_FACTOR: '0' })).toThrow(/KAFKA_REPLICATION_FACTOR/);
  });
});
