/**
 * Where tests find the real PostgreSQL and Kafka that `npm test` provisioned.
 * Every test database is created from a per-run template and carries "test" in its name;
 * helpers refuse to touch a database whose name does not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceRole, type ServiceName } from '../../db/roles';

export const ROOT = join(__dirname, '..', '..');

/** The variables of .udaconnect/env (written by provisioning); empty when there is none. */
function envFile(): Record<string, string> {
  const file = join(ROOT, '.udaconnect', 'env');
  const fromFile: Record<string, string> = {};
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) fromFile[m[1]!] = m[2]!;
    }
  }
  return fromFile;
}

/** DATABASE_URL / KAFKA_BROKERS from the environment, else from .udaconnect/env (written by provisioning). */
export function infraEnv(): { databaseUrl: string; kafkaBrokers: string } {
  const fromFile = envFile();
  const databaseUrl = process.env.DATABASE_URL ?? fromFile.DATABASE_URL;
  const kafkaBrokers = process.env.KAFKA_BROKERS ?? fromFile.KAFKA_BROKERS;
  if (!databaseUrl || !kafkaBrokers) {
    throw new Error('DATABASE_URL / KAFKA_BROKERS unknown: run the tests with `npm test`, which provisions them');
  }
  return { databaseUrl, kafkaBrokers };
}

/**
 * The URL a service's own role connects with (PERSON_API_DATABASE_URL, … from the environment,
 * else .udaconnect/env); undefined when provisioning wrote none.
 */
export function serviceRoleUrl(service: ServiceName): string | undefined {
  const name = serviceRole(service).urlEnv;
  return process.env[name] ?? envFile()[name];
}

/**
 * `url` (a test database, perhaps through a proxy) with the credentials of `service`'s own role
 * (db/roles.ts), so an in-process service runs with exactly the privileges it has in production.
 * `url` unchanged when no role URL is known.
 */
export function serviceDatabaseUrl(service: ServiceName, url: string): string {
  const roleUrl = serviceRoleUrl(service);
  if (!roleUrl) return url;
  const role = new URL(roleUrl);
  const u = new URL(url);
  u.username = role.username;
  u.password = role.password;
  return u.toString();
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function assertTestDatabaseName(name: string): void {
  if (!/^[a-z0-9_]+$/.test(name) || !name.includes('test')) {
    throw new Error(`refusing to use database "${name}": test databases must have "test" in their name`);
  }
}

/** A short id for this jest run, shared by every worker (set by global-setup). */
export function runId(): string {
  const id = process.env.UDACONNECT_TEST_RUN;
  if (!id) throw new Error('UDACONNECT_TEST_RUN is not set: jest global-setup did not run');
  return id;
}

export const templateDatabaseName = (run: string) => `udaconnect_test_${run}_template`;
