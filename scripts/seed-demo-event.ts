/**
 * `npm start` (scripts/start.sh), after `db/cli.ts setup`: the simulator's venue as the event
 * "UdaConnect demo conference" on today's date (UTC), unless an event of that name exists.
 * Reads DATABASE_URL (the schema owner), as db/cli.ts does.
 */
import { createDatabase, createLogger, loadConfigOrExit } from '@udaconnect/common';
import { dbCliConfigSchema } from '../db/config';
import { DEMO_EVENT_NAME, seedDemoEvent } from './simulator/demo-event';

async function main() {
  const config = loadConfigOrExit('db', dbCliConfigSchema);
  const logger = createLogger('db', config.LOG_LEVEL);
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: 2 });
  try {
    await db.waitUntilReady(30_000);
    const id = await seedDemoEvent(db.knex, new Date().toISOString().slice(0, 10));
    logger.info({ event: DEMO_EVENT_NAME, ...(id ? { id } : {}) }, id ? 'demo event created' : 'demo event already there');
  } finally {
    await db.close();
  }
}

main().catch((err) => {
  process.stderr.write(`seed-demo-event: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
