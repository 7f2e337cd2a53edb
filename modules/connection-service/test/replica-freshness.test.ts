/**
 * The read replica's settings, and its health (read-replica.ts) on scripted WAL positions and a fake
 * clock: fresh while it has replayed what the primary had written DATABASE_READ_MAX_LAG_MS ago, not
 * once it falls further behind or stops answering. test/replica/read-replica.test.ts runs the real thing.
 */
import type { Knex } from 'knex';
import { ConfigError, createLogger, parseConfig } from '@udaconnect/common';
import { connectionConfigSchema } from '../src/config';
import { parseLsn, replicaFreshness } from '../src/read-replica';

const logger = createLogger('replica-freshness-test', 'silent');

/** A knex whose raw() answers one row from `row()`, or throws what it returns when that is an Error. */
const fakeKnex = (row: () => Record<string, unknown> | Error) =>
  ({
    raw: async () => {
      const r = row();
      if (r instanceof Error) throw r;
      return { rows: [r] };
    },
  }) as unknown as Knex;

function setup(maxLagMs = 1_000) {
  const state = { now: 0, primary: '0/1000' as string | Error, replayed: '0/1000' as string | null, standby: true, replicaDown: false };
  const freshness = replicaFreshness({
    primary: fakeKnex(() => (state.primary instanceof Error ? state.primary : { lsn: state.primary })),
    replica: fakeKnex(() => (state.replicaDown ? new Error('connect ECONNREFUSED') : { standby: state.standby, lsn: state.replayed })),
    maxLagMs,
    logger,
    now: () => state.now,
  });
  /** Checks every 200 ms of fake time until `untilMs`; the last answer. */
  const checkUntil = async (untilMs: number) => {
    let fresh = await freshness.check();
    while (state.now < untilMs) {
      state.now += 200;
      fresh = await freshness.check();
    }
    return fresh;
  };
  return { state, check: () => freshness.check(), checkUntil };
}

it('reads WAL positions as byte offsets', () => {
  expect(parseLsn('0/0')).toBe(0n);
  expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
  expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
  expect(() => parseLsn('nonsense')).toThrow(/not a WAL position/);
});

it('is fresh while the replica keeps up, however long the primary writes nothing', async () => {
  const { state, checkUntil } = setup();
  expect(await checkUntil(10_000)).toBe(true);
  state.primary = '0/2000';
  state.replayed = '0/2000';
  expect(await checkUntil(20_000)).toBe(true);
});

it('turns stale once the replica has not replayed, for longer than the maximum lag, what the primary wrote; fresh again when it catches up', async () => {
  const { state, check, checkUntil } = setup(1_000);
  await checkUntil(5_000);
  state.primary = '0/5000'; // written at 5,000 ms; the replica stays at 0/1000
  expect(await checkUntil(5_800)).toBe(true); // less than 1 s behind
  expect(await checkUntil(6_200)).toBe(false);
  state.replayed = '0/4FFF';
  expect(await check()).toBe(false);
  state.replayed = '0/5000';
  expect(await check()).toBe(true);
});

it('is not fresh while the replica does not answer, and is fresh for a primary given as the replica', async () => {
  const { state, check } = setup();
  state.replicaDown = true;
  expect(await check()).toBe(false);
  state.replicaDown = false;
  state.standby = false;
  state.replayed = null;
  state.primary = '9/0';
  expect(await check()).toBe(true);
});

it('judges the replica on the positions already sampled while the primary does not answer', async () => {
  const { state, checkUntil } = setup(1_000);
  state.primary = '0/3000';
  await checkUntil(2_000);
  state.primary = new Error('connect ECONNREFUSED');
  expect(await checkUntil(4_000)).toBe(false); // 0/3000 is due and not replayed
  state.replayed = '0/3000';
  expect(await checkUntil(6_000)).toBe(true);
});

describe('DATABASE_READ_URL', () => {
  const base = { DATABASE_URL: 'postgresql://udaconnect_connections:pw@db:5432/geoconnections', AUTH_JWKS_FILE: '/keys/jwks.json' };
  const problems = (env: Record<string, string>) => {
    try {
      parseConfig(connectionConfigSchema, env);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('is optional, and taken with the same role as DATABASE_URL', () => {
    expect(parseConfig(connectionConfigSchema, base).DATABASE_READ_URL).toBeUndefined();
    const config = parseConfig(connectionConfigSchema, { ...base, DATABASE_READ_URL: 'postgresql://udaconnect_connections:pw@replica:5432/geoconnections' });
    expect(config).toMatchObject({ DATABASE_READ_URL: 'postgresql://udaconnect_connections:pw@replica:5432/geoconnections', DATABASE_READ_MAX_LAG_MS: 10_000 });
  });

  it("is refused with another role than DATABASE_URL's, named with the other problems", () => {
    expect(problems({ ...base, DATABASE_READ_URL: 'postgresql://ct_admin:pw@replica:5432/geoconnections', PORT: 'x' })).toEqual([
      'PORT: Invalid input: expected number, received NaN',
      "DATABASE_READ_URL: must connect as DATABASE_URL's role (udaconnect_connections), not as ct_admin: the replica has the same roles",
    ]);
  });
});
