/** `npm run db:migrate` / `npm run db:seed`: reads DATABASE_URL, runs, exits. */
import { z } from 'zod';
import { createDatabase, createLogger, env, loadConfigOrExit, redactUrl } from '@udaconnect/common';
import { migrateLatest, seed } from './index';

async function main() {
  const command = process.argv[2];
  if (command !== 'migrate' && command !== 'seed' && command !== 'setup') {
    process.stderr.write('usage: tsx db/cli.ts migrate|seed|setup\n');
    process.exit(2);
  }
  const config = loadConfigOrExit('db', z.object({ DATABASE_URL: env.databaseUrl(), LOG_LEVEL: env.logLevel() }));
  const logger = createLogger('db', config.LOG_LEVEL);
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: 2 });
  try {
    await db.waitUntilReady(30_000);
    if (command === 'migrate' || command === 'setup') {
      const applied = await migrateLatest(db.knex);
      logger.info({ applied, db: redactUrl(config.DATABASE_URL) }, applied.length ? 'migrations applied' : 'schema up to date');
    }
    if (command === 'seed' || command === 'setup') {
      logger.info(await seed(db.knex), 'seed data loaded');
    }
  } finally {
    await db.close();
  }
}

main().catch((err) => {
  process.stderr.write(`db: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
