/**
 * EXPLAIN of the plan a prepared statement runs: `sql` (knex placeholders) is prepared on one
 * connection, then EXPLAIN EXECUTE with `bindings`. On a connection with connection-service's
 * session settings (plan_cache_mode = force_generic_plan) that is the generic plan the service's
 * named prepared statements run, with the partitions its values rule out pruned at start.
 */
import type { Knex } from 'knex';
import { withOneConnection } from '@udaconnect/common';

export async function explainPrepared<Row>(knex: Knex, options: string, sql: string, bindings: Knex.RawBinding[]): Promise<Row[]> {
  const text = knex.raw(sql, bindings).toSQL().toNative().sql;
  const execute = knex.raw(`EXECUTE explained(${bindings.map(() => '?').join(', ')})`, bindings).toQuery();
  return withOneConnection(knex, async (conn) => {
    await conn.query(`PREPARE explained AS ${text}`, []);
    try {
      return (await conn.query<{ rows: Row[] }>(`EXPLAIN (${options}) ${execute}`, [])).rows;
    } finally {
      await conn.query('DEALLOCATE explained', []);
    }
  });
}
