/**
 * Least privilege in PostgreSQL: the role each service connects as and what it may do, declared
 * once here. Migrations run as the schema's owner (DATABASE_URL: ct_admin locally and on K3s);
 * no service uses that role.
 *
 * - roleSetupSql(): creates or updates the LOGIN roles (needs a superuser). Run by
 *   `db/cli.ts roles|setup` (the K3s migrate Job, as ct_admin, a superuser there) and, as the same
 *   text, by scripts/provision.sh through `su postgres -c psql` (`db/cli.ts roles-sql`).
 * - applyGrants(): after every migration (`db/cli.ts migrate|setup`, test/support/global-setup.ts),
 *   revokes everything on the schema's tables and functions from PUBLIC and from these roles, then
 *   grants what is declared below — in one transaction, so a running service never sees a gap. A
 *   table a migration adds is readable, and a function callable, by nobody until it is declared here.
 *
 * Role names and variable names are relied upon by scripts/provision.sh, the K3s manifests and
 * the tests; change them together.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

export type ServiceName = 'person-api' | 'location-ingest' | 'location-writer' | 'connection-service';
type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

interface TableGrant {
  table: string;
  privileges: TablePrivilege[];
  /** Column-level grant: only these columns (otherwise the whole table). */
  columns?: string[];
}

export interface ServiceRole {
  service: ServiceName;
  role: string;
  /** Environment variable with the role's password, for `db/cli.ts roles|setup`. */
  passwordEnv: string;
  /** Environment variable with the service's connection URL (.udaconnect/env, K3s Secret). */
  urlEnv: string;
  tables: TableGrant[];
  /** Serial columns whose sequence the role draws ids from (nextval: USAGE on the sequence). */
  sequences: Array<{ table: string; column: string }>;
  /** Functions of the schema the role may call (EXECUTE), by signature: `name(argument types)`. */
  functions: string[];
}

/** What RevocationList (modules/common/src/auth.ts) reads: revoked device ids not yet expired, and erased persons. */
const REVOCATION_TABLES: TableGrant[] = [
  { table: 'device', privileges: ['SELECT'], columns: ['id', 'revoked_at', 'expires_at'] },
  { table: 'erased_person', privileges: ['SELECT'], columns: ['person_id'] },
];

export const SERVICE_ROLES: readonly ServiceRole[] = [
  {
    // Persons (list, read, create, change, erase), devices (issue, list, revoke; the revocation
    // list), locations (read; deleted with their person), the erased-person list.
    service: 'person-api',
    role: 'udaconnect_person_api',
    passwordEnv: 'PERSON_API_DB_PASSWORD',
    urlEnv: 'PERSON_API_DATABASE_URL',
    tables: [
      { table: 'person', privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] },
      { table: 'device', privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] },
      { table: 'location', privileges: ['SELECT', 'DELETE'] },
      { table: 'erased_person', privileges: ['SELECT', 'INSERT'] },
      // Events and venues (event-routes.ts): created and read, never changed or deleted.
      { table: 'event', privileges: ['SELECT', 'INSERT'] },
      { table: 'place', privileges: ['SELECT', 'INSERT'] },
      { table: 'session', privileges: ['SELECT', 'INSERT'] },
      // Presence (GET /api/persons/{id}/visits, …/shared): derived by the writer, read here.
      { table: 'visit', privileges: ['SELECT'] },
      { table: 'attendance', privileges: ['SELECT'] },
    ],
    sequences: [
      { table: 'person', column: 'id' },
      { table: 'event', column: 'id' },
      { table: 'place', column: 'id' },
      { table: 'session', column: 'id' },
    ],
    functions: [],
  },
  {
    // Which person ids exist (PersonDirectory) and which tokens are revoked (devices, erased persons).
    service: 'location-ingest',
    role: 'udaconnect_ingest',
    passwordEnv: 'INGEST_DB_PASSWORD',
    urlEnv: 'INGEST_DATABASE_URL',
    tables: [{ table: 'person', privileges: ['SELECT'], columns: ['id'] }, ...REVOCATION_TABLES],
    sequences: [],
    functions: [],
  },
  {
    // Which person ids exist, and the idempotent batch insert (location-store.ts). It names the
    // columns it writes: id comes from the sequence and received_at is the server's clock.
    // ON CONFLICT (event_id, creation_time) reads the arbiter columns, hence SELECT on them;
    // person_id is read for the pings it skipped, to tell a replay from an id reused by another person.
    service: 'location-writer',
    role: 'udaconnect_writer',
    passwordEnv: 'WRITER_DB_PASSWORD',
    urlEnv: 'WRITER_DATABASE_URL',
    tables: [
      { table: 'location', privileges: ['INSERT'], columns: ['person_id', 'coordinate', 'creation_time', 'event_id'] },
      // coordinate: the presence worker (presence.ts) reads a person's pings to test them against the places.
      { table: 'location', privileges: ['SELECT'], columns: ['event_id', 'person_id', 'id', 'creation_time', 'coordinate'] },
      // Retention (retention.ts): deletes pings older than RETENTION_DAYS, found by id and creation_time.
      { table: 'location', privileges: ['DELETE'] },
      { table: 'person', privileges: ['SELECT'], columns: ['id'] },
      // Pings of erased persons are dropped, never written again (a replay of the topic).
      { table: 'erased_person', privileges: ['SELECT'], columns: ['person_id'] },
      // Presence (presence.ts): event windows for the marks, the venues to test pings against, the
      // derived rows it replaces, and the queue of marks (inserted with each batch, deleted once processed).
      { table: 'event', privileges: ['SELECT'] },
      { table: 'place', privileges: ['SELECT'] },
      { table: 'session', privileges: ['SELECT'] },
      { table: 'visit', privileges: ['SELECT', 'INSERT', 'DELETE'] },
      { table: 'attendance', privileges: ['SELECT', 'INSERT', 'DELETE'] },
      { table: 'presence_dirty', privileges: ['SELECT', 'INSERT', 'DELETE'] },
    ],
    sequences: [
      { table: 'location', column: 'id' },
      { table: 'presence_dirty', column: 'id' },
    ],
    // The day partitions of location (migration 0009): made ahead (partitions.ts) and dropped by
    // retention. SECURITY DEFINER functions of the table's owner: the role itself may create and
    // drop no table.
    functions: ['location_ensure_partitions(date, integer)', 'location_drop_partitions_before(timestamp with time zone)'],
  },
  {
    // The proximity query (locations and the persons met), the revocation list, and for live
    // meetings (meeting-directory.ts) the places of current events, where meetings are located.
    service: 'connection-service',
    role: 'udaconnect_connections',
    passwordEnv: 'CONNECTION_SERVICE_DB_PASSWORD',
    urlEnv: 'CONNECTION_SERVICE_DATABASE_URL',
    tables: [
      { table: 'location', privileges: ['SELECT'] },
      { table: 'person', privileges: ['SELECT'] },
      ...REVOCATION_TABLES,
      { table: 'event', privileges: ['SELECT'], columns: ['id', 'starts_at', 'ends_at'] },
      { table: 'place', privileges: ['SELECT'], columns: ['id', 'event_id', 'name', 'area'] },
    ],
    sequences: [],
    functions: [],
  },
];

export function serviceRole(service: ServiceName): ServiceRole {
  const r = SERVICE_ROLES.find((s) => s.service === service);
  if (!r) throw new Error(`no database role for service ${service}`);
  return r;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, as libpq's
 * PQencryptPasswordConn makes it), so the SQL that sets a password never carries it in clear:
 * not in server logs (log_statement = ddl), not in psql's input. Passwords are used as given,
 * which is SASLprep for the ASCII passwords provisioning generates.
 */
function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The roles whose password variable is set in `env`, with their passwords. */
export function rolePasswordsFromEnv(env: NodeJS.ProcessEnv = process.env): Array<{ role: ServiceRole; password: string }> {
  return SERVICE_ROLES.flatMap((role) => {
    const password = env[role.passwordEnv];
    return password ? [{ role, password }] : [];
  });
}

/**
 * SQL (for a superuser) that creates each role if missing and makes it what it must be: LOGIN
 * with this password, no SUPERUSER / CREATEDB / CREATEROLE / REPLICATION / BYPASSRLS, member of
 * no other role (pg_signal_backend and the like are revoked). Idempotent. Plain statements and
 * DO blocks: psql and a simple-protocol query both run it as it is.
 */
export function roleSetupSql(roles: Array<{ role: ServiceRole; password: string }>): string {
  return roles
    .map(({ role: { role }, password }) => {
      const name = literal(role);
      return `DO $roles$
DECLARE
  g name;
  grantor name;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${name}) THEN
    CREATE ROLE ${ident(role)};
  END IF;
  FOR g, grantor IN SELECT r.rolname, gr.rolname FROM pg_auth_members m
                      JOIN pg_roles r ON r.oid = m.roleid LEFT JOIN pg_roles gr ON gr.oid = m.grantor
                     WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = ${name}) LOOP
    -- PostgreSQL 16 keeps one grant per grantor and revokes only the one named.
    IF current_setting('server_version_num')::int >= 160000 THEN
      EXECUTE format('REVOKE %I FROM %I GRANTED BY %I', g, ${name}, grantor);
    ELSE
      EXECUTE format('REVOKE %I FROM %I', g, ${name});
    END IF;
  END LOOP;
END $roles$;
ALTER ROLE ${ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${literal(scramVerifier(password))};
`;
    })
    .join('');
}

export interface GrantReport {
  /** Roles that exist and got their grants. */
  granted: string[];
  /** Declared roles that do not exist on this server (nothing granted to them). */
  missing: string[];
}

async function existingRoles(knex: Knex): Promise<Set<string>> {
  const { rows } = await knex.raw<{ rows: Array<{ rolname: string }> }>('SELECT rolname FROM pg_roles WHERE rolname = ANY(?)', [
    SERVICE_ROLES.map((r) => r.role),
  ]);
  return new Set(rows.map((r) => r.rolname));
}

/**
 * Database level: only the service roles (and the owner) may connect; nobody else may create
 * temporary tables. Database ACLs are not copied by CREATE DATABASE … TEMPLATE, so test
 * databases call this for themselves. Does nothing when the caller does not own the database.
 */
export async function applyDatabaseAcl(knex: Knex, database?: string): Promise<void> {
  const { rows } = await knex.raw<{ rows: Array<{ datname: string; owned: boolean }> }>(
    `SELECT datname, pg_has_role(datdba, 'USAGE') AS owned FROM pg_database WHERE datname = coalesce(?::name, current_database())`,
    [database ?? null],
  );
  const db = rows[0];
  if (!db?.owned) return;
  const roles = [...(await existingRoles(knex))].map(ident);
  await knex.raw(`REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(db.datname)} FROM ${['PUBLIC', ...roles].join(', ')}`);
  if (roles.length) await knex.raw(`GRANT CONNECT ON DATABASE ${ident(db.datname)} TO ${roles.join(', ')}`);
}

/**
 * Applies the declared privileges to the schema the migrations made (run as its owner or a
 * superuser, after migrating). Every table, view, sequence and function of the current schema that
 * the caller owns, except an extension's (PostGIS' spatial_ref_sys stays readable, its functions
 * callable), first loses every privilege of PUBLIC and of the service roles. Roles that do not
 * exist are reported, not an error.
 */
export async function applyGrants(knex: Knex): Promise<GrantReport> {
  return knex.transaction(async (trx) => {
    const existing = await existingRoles(trx);
    const present = SERVICE_ROLES.filter((r) => existing.has(r.role));
    const grantees = ['PUBLIC', ...present.map((r) => ident(r.role))].join(', ');

    const { rows: relations } = await trx.raw<{ rows: Array<{ name: string; sequence: boolean }> }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind = 'S' AS sequence
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND pg_has_role(c.relowner, 'USAGE')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1`,
    );
    for (const rel of relations) {
      await trx.raw(`REVOKE ALL ON ${rel.sequence ? 'SEQUENCE' : 'TABLE'} ${rel.name} FROM ${grantees}`);
    }
    // Functions too: PostgreSQL lets PUBLIC execute a new function unless revoked.
    const { rows: functions } = await trx.raw<{ rows: Array<{ name: string }> }>(
      `SELECT p.oid::regprocedure::text AS name
         FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace AND pg_has_role(p.proowner, 'USAGE')
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        ORDER BY 1`,
    );
    for (const fn of functions) {
      await trx.raw(`REVOKE ALL ON FUNCTION ${fn.name} FROM ${grantees}`);
    }

    // The schema: nobody but its owner creates objects in it (PostgreSQL before 15 let PUBLIC).
    const { rows: schema } = await trx.raw<{ rows: Array<{ name: string; owned: boolean }> }>(
      `SELECT current_schema() AS name, pg_has_role(nspowner, 'USAGE') AS owned FROM pg_namespace WHERE nspname = current_schema()`,
    );
    if (schema[0]?.owned) {
      const s = ident(schema[0].name);
      await trx.raw(`REVOKE CREATE ON SCHEMA ${s} FROM ${grantees}`);
      if (present.length) await trx.raw(`GRANT USAGE ON SCHEMA ${s} TO ${present.map((r) => ident(r.role)).join(', ')}`);
    }
    await applyDatabaseAcl(trx);

    for (const r of present) {
      for (const g of r.tables) {
        const cols = g.columns ? ` (${g.columns.map(ident).join(', ')})` : '';
        await trx.raw(`GRANT ${g.privileges.map((p) => p + cols).join(', ')} ON TABLE ${ident(g.table)} TO ${ident(r.role)}`);
      }
      for (const s of r.sequences) {
        const { rows } = await trx.raw<{ rows: Array<{ seq: string | null }> }>('SELECT pg_get_serial_sequence(?, ?) AS seq', [s.table, s.column]);
        if (!rows[0]?.seq) throw new Error(`${s.table}.${s.column} has no sequence`);
        await trx.raw(`GRANT USAGE ON SEQUENCE ${rows[0].seq} TO ${ident(r.role)}`);
      }
      for (const fn of r.functions) {
        await trx.raw(`GRANT EXECUTE ON FUNCTION ${fn} TO ${ident(r.role)}`);
      }
    }
    return { granted: present.map((r) => r.role), missing: SERVICE_ROLES.filter((r) => !existing.has(r.role)).map((r) => r.role) };
  });
}
