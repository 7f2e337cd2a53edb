/** createDatabase's sessionSettings: every pooled connection starts with them. */
import { createDatabase, sessionSettingsSql, type Database } from '../src/db';
import { createLogger } from '../src/logger';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database';

let testDb: TestDatabase;
let db: Database;
beforeAll(async () => {
  testDb = await createTestDatabase('sessionsettings');
  db = createDatabase({ url: testDb.url, logger: createLogger('test', 'silent'), poolMax: 3, sessionSettings: { jit: 'off', random_page_cost: 1.1 } });
});
afterAll(async () => {
  await db.close();
  await testDb.drop();
});

test('each connection of the pool has the settings, however many are open', async () => {
  // Three at once force three connections.
  const shown = await Promise.all(
    [1, 2, 3].map(() =>
      db.knex.transaction(async (trx) => {
        const jit = await trx.raw<{ rows: Array<{ jit: string }> }>('SHOW jit');
        const cost = await trx.raw<{ rows: Array<{ random_page_cost: string }> }>('SHOW random_page_cost');
        await trx.raw('SELECT pg_sleep(0.05)');
        return [jit.rows[0]!.jit, cost.rows[0]!.random_page_cost, (await trx.raw('SELECT pg_backend_pid() AS pid')).rows[0].pid];
      }),
    ),
  );
  expect(shown.map(([jit, cost]) => [jit, cost])).toEqual([
    ['off', '1.1'],
    ['off', '1.1'],
    ['off', '1.1'],
  ]);
  expect(new Set(shown.map((s) => s[2])).size).toBe(3);
});

test('names are checked and values quoted', () => {
  expect(sessionSettingsSql({ jit: 'off', random_page_cost: 1.1 })).toBe("SET jit = 'off'; SET random_page_cost = '1.1'");
  expect(sessionSettingsSql({ application_name: "it's" })).toBe("SET application_name = 'it''s'");
  expect(() => sessionSettingsSql({ 'jit; DROP TABLE person': 'off' })).toThrow(/not a setting name/);
});
