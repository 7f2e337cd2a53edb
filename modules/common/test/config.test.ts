import { z } from 'zod';
import { ConfigError, env, parseConfig } from '../src/config';

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
