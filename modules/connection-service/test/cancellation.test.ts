/**
 * withCancellableConnection against the real PostgreSQL: a cancelled call's SQL stops, whether the
 * abort comes while a statement runs or between two statements (FindConnections runs the cost
 * estimate, then the query: a cancel sent between them reaches no statement and must not be lost).
 */
import type { Knex } from 'knex';
import { QUERY_CANCELED, withCancellableConnection } from '../src/connection-query';
import { testKnex } from '../../../test/support/test-database';
import { infraEnv } from '../../../test/support/test-env';

let knex: Knex;
beforeAll(() => {
  knex = testKnex(infraEnv().databaseUrl);
});
afterAll(async () => {
  await knex.destroy();
});

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: { code?: string }) => err.code,
  );

test('an abort while a statement runs cancels it', async () => {
  const abort = new AbortController();
  const started = Date.now();
  const outcome = codeOf(withCancellableConnection(knex, abort.signal, (db) => db.raw('SELECT pg_sleep(30)', [])));
  setTimeout(() => abort.abort(), 300);
  expect(await outcome).toBe(QUERY_CANCELED);
  expect(Date.now() - started).toBeLessThan(5_000);
});

test('an abort between two statements: the second one never starts', async () => {
  const abort = new AbortController();
  const started = Date.now();
  const ran: string[] = [];
  const outcome = codeOf(
    withCancellableConnection(knex, abort.signal, async (db) => {
      await db.raw('SELECT 1', []);
      ran.push('first');
      abort.abort();
      // Long enough for the cancel request to have reached the idle backend and done nothing.
      await new Promise((r) => setTimeout(r, 500));
      await db.raw('SELECT pg_sleep(30)', []);
      ran.push('second');
    }),
  );
  expect(await outcome).toBe(QUERY_CANCELED);
  expect(ran).toEqual(['first']);
  expect(Date.now() - started).toBeLessThan(5_000);
});

test('an abort just as a statement is sent: it is cancelled all the same', async () => {
  const abort = new AbortController();
  const started = Date.now();
  const outcome = codeOf(
    withCancellableConnection(knex, abort.signal, (db) => {
      const sleeping = db.raw('SELECT pg_sleep(30)', []);
      // The cancel request may reach the server before the statement does: it is sent again.
      abort.abort();
      return sleeping;
    }),
  );
  expect(await outcome).toBe(QUERY_CANCELED);
  expect(Date.now() - started).toBeLessThan(5_000);
});
