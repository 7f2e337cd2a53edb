/**
 * `npm run db:migrate|db:seed|db:setup`, and the K3s migrate Job (`setup`). Reads DATABASE_URL
 * (the schema owner), runs, exits.
 *   migrate    pending migrations, then the service roles' grants (db/roles.ts)
 *   seed       the starter data
 *   roles      create or update the service roles whose *_DB_PASSWORD is set (needs a superuser)
 *   setup      roles (if any password is set), migrate (with grants), seed
 *   roles-sql  print the SQL of `roles` for a superuser's psql (scripts/provision.sh); no connection
 */
import type { Knex } from 'knex';
import type { Logger } from '@udaconnect/common';
import { applyGrants, rolePasswordsFromEnv, roleSetupSql, SERVICE_ROLES } from './roles';

const COMMANDS = ['migrate', 'seed', 'setup', 'roles', 'roles-sql'];

async function grants(knex: Knex, logger: Logger) {
  const { granted, missing } = await applyGrants(knex);
  if (granted.length) logger.info({ roles: granted }, 'service roles granted their privileges');
  if (missing.length) {
    logger.warn({ roles: missing }, 'these service roles do not exist, nothing granted to them (scripts/provision.sh or `db/cli.ts roles` creates them)');
  }
}

async function roles(knex: Knex, logger: Logger) {
  const passwords = rolePasswordsFromEnv();
  if (passwords.length === 0) {
    logger.info({ variables: SERVICE_ROLES.map((r) => r.passwordEnv) }, 'no service role password set: roles left as they are');
    return;
  }
  await knex.raw(roleSetupSql(passwords));
  logger.info({ roles: passwords.map((p) => p.role.role) }, 'service roles created or updated');
}

async function main() {
  const command = process.argv[2] ?? '';
  if (!COMMANDS.includes(command)) {
    process.stderr.write(`usage: tsx db/cli.ts ${COMMANDS.join('|')}\n`);
    process.exit(2);
  }
  if (command === 'roles-sql') {
    process.stdout.write(roleSetupSql(rolePasswordsFromEnv()));
    return;
  }
  // Loaded only now: `roles-sql` runs on every provisioning and must start fast.
  const { createDatabase, createLogger, loadConfigOrExit, redactUrl } = await import('@udaconnect/common');
  const { dbCliConfigSchema } = await import('./config');
  const { migrateLatest, seed } = await import('./index');
  const config = loadConfigOrExit('db', dbCliConfigSchema);
  const logger = createLogger('db', config.LOG_LEVEL);
  const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: 2 });
  try {
    await db.waitUntilReady(30_000);
    if (command === 'roles' || command === 'setup') await roles(db.knex, logger);
    if (command === 'migrate' || command === 'setup') {
      const applied = await migrateLatest(db.knex);
      logger.info({ applied, db: redactUrl(config.DATABASE_URL) }, applied.length ? 'migrations applied' : 'schema up to date');
      await grants(db.knex, logger);
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
