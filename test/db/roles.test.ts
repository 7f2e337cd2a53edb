/**
 * Least privilege in PostgreSQL (db/roles.ts). On a test database, each service's own role does
 * what the service does — with the service's own code where it is a function — and everything
 * else is refused with 42501 (permission denied): other tables and columns, writes it has no
 * business with, DDL, and cluster-level powers. The in-process service harnesses connect as these
 * roles too, so the rest of the suite proves the grants suffice.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createDatabase, createLogger, RevocationList, type Database } from '@udaconnect/common';
import { DEFAULT_PRESENCE_RULES, PersonDirectory } from '@udaconnect/domain';
import { SERVICE_ROLES, type ServiceName } from '../../db/roles';
import { EventWindows } from '../../modules/location-writer/src/event-windows';
import { insertPings, lookUpPersons } from '../../modules/location-writer/src/location-store';
import { recomputePresence } from '../../modules/location-writer/src/presence';
import { CONNECTION_SESSION_SETTINGS, findConnections } from '../../modules/connection-service/src/connection-query';
import { personRepository } from '../../modules/person-api/src/person-repository';
import { createTestDatabase, type TestDatabase, testKnex } from '../support/test-database';
import { ROOT, infraEnv, serviceDatabaseUrl, serviceRoleUrl } from '../support/test-env';

const logger = createLogger('roles-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const PERMISSION_DENIED = '42501';

/**
 * What each role may do, written out here independently of db/roles.ts: widening a grant there
 * without changing this list fails the test. `table: PRIV` is a table-level privilege,
 * `table(column): PRIV` a column-level one, `function(argument types): EXECUTE` a function's.
 */
const EXPECTED_GRANTS: Record<string, string[]> = {
  udaconnect_person_api: [
    'attendance: SELECT',
    'device: DELETE',
    'device: INSERT',
    'device: SELECT',
    'device: UPDATE',
    'erased_person: INSERT',
    'erased_person: SELECT',
    'event: INSERT',
    'event: SELECT',
    'event_id_seq: USAGE',
    'location: DELETE',
    'location: SELECT',
    'person: DELETE',
    'person: INSERT',
    'person: SELECT',
    'person: UPDATE',
    'person_id_seq: USAGE',
    'place: INSERT',
    'place: SELECT',
    'place_id_seq: USAGE',
    'session: INSERT',
    'session: SELECT',
    'session_id_seq: USAGE',
    'visit: SELECT',
  ],
  udaconnect_ingest: [
    'device(expires_at): SELECT',
    'device(id): SELECT',
    'device(revoked_at): SELECT',
    'erased_person(person_id): SELECT',
    'person(id): SELECT',
  ],
  udaconnect_writer: [
    'attendance: DELETE',
    'attendance: INSERT',
    'attendance: SELECT',
    'event: SELECT',
    'location(coordinate): INSERT',
    'location(coordinate): SELECT',
    'location(creation_time): INSERT',
    'location(creation_time): SELECT',
    'location(event_id): INSERT',
    'location(event_id): SELECT',
    'location(id): SELECT',
    'location(person_id): INSERT',
    'location(person_id): SELECT',
    'erased_person(person_id): SELECT',
    'location: DELETE',
    'location_drop_partitions_before(timestamp with time zone): EXECUTE',
    'location_ensure_partitions(date, integer): EXECUTE',
    'location_id_seq: USAGE',
    'person(id): SELECT',
    'place: SELECT',
    'presence_dirty: DELETE',
    'presence_dirty: INSERT',
    'presence_dirty: SELECT',
    'presence_dirty_id_seq: USAGE',
    'session: SELECT',
    'visit: DELETE',
    'visit: INSERT',
    'visit: SELECT',
  ],
  udaconnect_connections: [
    'device(expires_at): SELECT',
    'device(id): SELECT',
    'device(revoked_at): SELECT',
    'erased_person(person_id): SELECT',
    'event(ends_at): SELECT',
    'event(id): SELECT',
    'event(starts_at): SELECT',
    'location: SELECT',
    'person: SELECT',
    'place(area): SELECT',
    'place(event_id): SELECT',
    'place(id): SELECT',
    'place(name): SELECT',
  ],
};

test('provision.sh creates the roles db/roles.ts declares, under the variable names it declares', () => {
  const script = readFileSync(join(ROOT, 'scripts', 'provision.sh'), 'utf8');
  const list = /^SERVICE_DB_ROLES=\(([^)]*)\)$/m.exec(script)?.[1]?.split(/\s+/).filter(Boolean);
  expect(list).toEqual(
    SERVICE_ROLES.map((r) => {
      const prefix = r.urlEnv.replace(/_DATABASE_URL$/, '');
      expect(r.passwordEnv).toBe(`${prefix}_DB_PASSWORD`);
      return `${prefix}:${r.role}`;
    }),
  );
  expect(Object.keys(EXPECTED_GRANTS).sort()).toEqual(SERVICE_ROLES.map((r) => r.role).sort());
});

// Provisioning writes each role's URL; when DATABASE_URL came from outside it writes DATABASE_URL
// itself there (no roles of ours on that server), and nothing here can be shown.
const adminUser = new URL(infraEnv().databaseUrl).username;
const roleUsers = SERVICE_ROLES.map((r) => {
  const url = serviceRoleUrl(r.service);
  return url === undefined ? undefined : decodeURIComponent(new URL(url).username);
});
const onOwnServer = roleUsers.every((u) => u === adminUser);
if (onOwnServer) console.warn('roles.test: the service URLs are DATABASE_URL itself (a server of your own): role checks skipped');
const describeRoles = onOwnServer ? describe.skip : describe;

test('every service has its own role URL (run scripts/provision.sh if not)', () => {
  if (onOwnServer) return;
  expect(roleUsers).toEqual(SERVICE_ROLES.map((r) => r.role));
});

describeRoles('each service role on a test database', () => {
  let testDb: TestDatabase;
  let admin: Knex;
  const as = {} as Record<ServiceName, Knex>;
  let connectionsDb: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase('roles');
    admin = testKnex(testDb.url);
    for (const r of SERVICE_ROLES) {
      as[r.service] = testKnex(serviceDatabaseUrl(r.service, testDb.url));
    }
    // connection-service's pool sets its planner settings on every connection: no grant needed.
    connectionsDb = createDatabase({
      url: serviceDatabaseUrl('connection-service', testDb.url),
      logger,
      poolMax: 1,
      sessionSettings: CONNECTION_SESSION_SETTINGS,
    });
  });
  afterAll(async () => {
    await connectionsDb?.close();
    await Promise.all(Object.values(as).map((k) => k.destroy()));
    await admin?.destroy();
    await testDb?.drop();
  });

  async function refused(knex: Knex, sql: string, bindings: readonly unknown[] = []) {
    await expect(knex.raw(sql, bindings as Knex.RawBinding[])).rejects.toMatchObject({ code: PERMISSION_DENIED });
  }

  /** A device of person 5, revoked, not expired: what every service's revocation list must see. */
  async function revokedDevice(): Promise<string> {
    const id = randomUUID();
    await admin('device').insert({ id, person_id: 5, label: 'lost phone', expires_at: new Date(Date.now() + 3_600_000), revoked_at: new Date() });
    return id;
  }

  async function revocationListSees(knex: Knex, deviceId: string): Promise<boolean> {
    // RevocationList logs and keeps its last list when it cannot read: run its query bare first.
    await knex('device').select('id').whereNotNull('revoked_at').andWhere('expires_at', '>', knex.fn.now());
    const list = new RevocationList(knex, logger);
    await list.refresh();
    return list.isRevoked(deviceId);
  }

  test('the roles hold exactly the declared privileges; PUBLIC holds none on the schema, its functions nor the database', async () => {
    const { rows } = await admin.raw<{ rows: Array<{ grantee: string; entry: string }> }>(`
      WITH rel AS (
        SELECT c.oid, c.relname, c.relacl FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
           AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      )
      SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee, rel.relname || ': ' || a.privilege_type AS entry
        FROM rel, aclexplode(rel.relacl) a
      UNION ALL
      SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, rel.relname || '(' || att.attname || '): ' || a.privilege_type
        FROM rel JOIN pg_attribute att ON att.attrelid = rel.oid, aclexplode(att.attacl) a
      UNION ALL
      -- A function without an ACL of its own has the default one: EXECUTE for PUBLIC.
      SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
             p.proname || '(' || oidvectortypes(p.proargtypes) || '): ' || a.privilege_type
        FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
       WHERE p.pronamespace = 'public'::regnamespace
         AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
      UNION ALL
      SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, 'schema public: ' || a.privilege_type
        FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'public'
      UNION ALL
      SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, 'database: ' || a.privilege_type
        FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database()`);
    const held = (grantee: string) =>
      rows
        .filter((r) => r.grantee === grantee)
        .map((r) => r.entry)
        .sort();
    for (const [role, grants] of Object.entries(EXPECTED_GRANTS)) {
      expect({ role, held: held(role) }).toEqual({ role, held: ['database: CONNECT', ...grants, 'schema public: USAGE'].sort() });
    }
    // PUBLIC keeps USAGE on the schema (PostGIS' functions live there), nothing else.
    expect(held('PUBLIC')).toEqual(['schema public: USAGE']);
  });

  test('no role is more than a LOGIN: no SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS, no membership (pg_signal_backend)', async () => {
    const { rows } = await admin.raw(
      `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
              (SELECT count(*)::int FROM pg_auth_members m WHERE m.member = r.oid) AS memberships,
              pg_has_role(r.oid, 'pg_signal_backend', 'MEMBER') AS signals
         FROM pg_roles r WHERE rolname = ANY(?) ORDER BY rolname`,
      [SERVICE_ROLES.map((r) => r.role)],
    );
    expect(rows).toEqual(
      SERVICE_ROLES.map((r) => r.role)
        .sort()
        .map((rolname) => ({
          rolname,
          rolcanlogin: true,
          rolsuper: false,
          rolcreatedb: false,
          rolcreaterole: false,
          rolreplication: false,
          rolbypassrls: false,
          memberships: 0,
          signals: false,
        })),
    );
  });

  describe('location-writer (udaconnect_writer)', () => {
    test('checks person ids and inserts a batch of pings, once per event id', async () => {
      const k = as['location-writer'];
      await k.raw('select 1'); // its readiness probe
      expect(await lookUpPersons(k, [5, 6, 987654])).toEqual({ known: new Set([5, 6]), erased: new Set() });
      const ping = { eventId: randomUUID(), personId: 5, latitude: 37.55, longitude: -122.29, recordedAt: new Date('2020-08-18T10:37:06.123Z') };
      expect(await insertPings(k, [ping])).toEqual({ inserted: 1, duplicates: 0, conflicts: [] });
      expect(await insertPings(k, [ping])).toEqual({ inserted: 0, duplicates: 1, conflicts: [] });
      const other = { ...ping, personId: 6 };
      expect(await insertPings(k, [other])).toEqual({ inserted: 0, duplicates: 0, conflicts: [other] });
      const { rows } = await admin.raw('SELECT person_id, received_at FROM location WHERE event_id = ?', [ping.eventId]);
      expect(rows).toEqual([{ person_id: 5, received_at: expect.any(Date) }]);
    });

    test('makes and drops day partitions of location through the SECURITY DEFINER functions only', async () => {
      const k = as['location-writer'];
      const { rows: made } = await k.raw(`SELECT partition_name, moved_rows FROM location_ensure_partitions('2039-01-01', 2)`);
      expect(made).toEqual([
        { partition_name: 'location_p20390101', moved_rows: 0 },
        { partition_name: 'location_p20390102', moved_rows: 0 },
      ]);
      // Owned by the table's owner, as the partitions the migration made.
      const { rows: owners } = await admin.raw(
        `SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid IN ('location'::regclass, 'location_p20390101'::regclass)`,
      );
      expect(owners).toHaveLength(1);
      await refused(k, 'SELECT id FROM location_p20390101');
      await refused(k, 'DROP TABLE location_p20390101');
      await refused(k, 'ALTER TABLE location DETACH PARTITION location_p20390102');
      await refused(k, 'SELECT * FROM location_partitions()');
      expect((await k.raw(`SELECT * FROM location_drop_partitions_before(now() - interval '1 day')`)).rows).toEqual([]);
    });

    test.each([
      ['read when a location was received', 'SELECT received_at FROM location LIMIT 1'],
      ['read persons beyond their ids', 'SELECT first_name FROM person LIMIT 1'],
      ['read devices', 'SELECT id FROM device LIMIT 1'],
      ['update a location', 'UPDATE location SET creation_time = now() WHERE id = 1'],
      ['empty the table', 'TRUNCATE location'],
      [
        'choose received_at',
        `INSERT INTO location (person_id, coordinate, creation_time, event_id, received_at) VALUES (5, 'SRID=4326;POINT(0 0)', now(), gen_random_uuid(), now())`,
      ],
      [
        'choose the id',
        `INSERT INTO location (id, person_id, coordinate, creation_time, event_id) VALUES (999999, 5, 'SRID=4326;POINT(0 0)', now(), gen_random_uuid())`,
      ],
      ['create a person', `INSERT INTO person (first_name, last_name, company_name) VALUES ('a', 'b', 'c')`],
      ['issue a device', `INSERT INTO device (id, person_id, expires_at) VALUES (gen_random_uuid(), 5, now())`],
      ['create an event', `INSERT INTO event (name, starts_at, ends_at) VALUES ('x', now(), now() + interval '1 hour')`],
      ['change a place', `UPDATE place SET name = 'x'`],
      ['delete a session', 'DELETE FROM session'],
      ['change a visit', 'UPDATE visit SET last_seen = now()'],
      ['change a mark', 'UPDATE presence_dirty SET since = now()'],
    ])('may not %s', async (_what, sql) => refused(as['location-writer'], sql));
  });

  describe('location-ingest (udaconnect_ingest)', () => {
    test('knows which person ids exist and which device tokens are revoked', async () => {
      const directory = new PersonDirectory(as['location-ingest']);
      await directory.refresh();
      expect(await directory.exists(5)).toBe(true);
      expect(await directory.exists(987654)).toBe(false);
      expect(await revocationListSees(as['location-ingest'], await revokedDevice())).toBe(true);
    });

    test.each([
      ['read person names', 'SELECT first_name FROM person LIMIT 1'],
      ['read whose a device is', 'SELECT person_id FROM device LIMIT 1'],
      ['read device labels', 'SELECT label FROM device LIMIT 1'],
      ['read locations', 'SELECT id FROM location LIMIT 1'],
      [
        'insert a location',
        `INSERT INTO location (person_id, coordinate, creation_time, event_id) VALUES (5, 'SRID=4326;POINT(0 0)', now(), gen_random_uuid())`,
      ],
      ['create a person', `INSERT INTO person (first_name, last_name, company_name) VALUES ('a', 'b', 'c')`],
      ['un-revoke a device', 'UPDATE device SET revoked_at = NULL'],
      ['delete a device', 'DELETE FROM device'],
      ['delete a person', 'DELETE FROM person WHERE id = 5'],
      ['make partitions', `SELECT location_ensure_partitions('2039-02-01', 1)`],
      ['drop partitions', `SELECT location_drop_partitions_before(now() - interval '1 day')`],
    ])('may not %s', async (_what, sql) => refused(as['location-ingest'], sql));
  });

  describe('connection-service (udaconnect_connections)', () => {
    test('runs the proximity query with its session settings, and reads the revoked device ids', async () => {
      const k = connectionsDb.knex;
      const { rows } = await k.raw('SHOW random_page_cost');
      expect(rows).toEqual([{ random_page_cost: '1.1' }]);
      const base = { start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-12-31T00:00:00Z'), distanceMeters: 5 };
      const found = await findConnections(k, { ...base, personId: 5, groupByPerson: false });
      expect(found.kind === 'connections' && found.connections.length).toBeGreaterThan(0);
      const grouped = await findConnections(k, { ...base, personId: 5, groupByPerson: true, withClosest: true });
      expect(grouped.kind === 'people' && grouped.people.length).toBeGreaterThan(0);
      expect(await findConnections(k, { ...base, personId: 987654, groupByPerson: false })).toEqual({ kind: 'unknown-person' });
      expect(await revocationListSees(as['connection-service'], await revokedDevice())).toBe(true);
    });

    test.each([
      [
        'insert a location',
        `INSERT INTO location (person_id, coordinate, creation_time, event_id) VALUES (5, 'SRID=4326;POINT(0 0)', now(), gen_random_uuid())`,
      ],
      ['update a location', 'UPDATE location SET creation_time = now() WHERE id = 1'],
      ['delete a location', 'DELETE FROM location WHERE id = 1'],
      ['create a person', `INSERT INTO person (first_name, last_name, company_name) VALUES ('a', 'b', 'c')`],
      ['rename a person', `UPDATE person SET first_name = 'x' WHERE id = 5`],
      ['delete a person', 'DELETE FROM person WHERE id = 5'],
      ['issue a device', `INSERT INTO device (id, person_id, expires_at) VALUES (gen_random_uuid(), 5, now())`],
      ['un-revoke a device', 'UPDATE device SET revoked_at = NULL'],
      ['delete a device', 'DELETE FROM device'],
      ['read device labels', 'SELECT label FROM device LIMIT 1'],
      ['make partitions', `SELECT location_ensure_partitions('2039-02-01', 1)`],
      ['drop partitions', `SELECT location_drop_partitions_before(now() - interval '1 day')`],
    ])('may not %s', async (_what, sql) => refused(as['connection-service'], sql));
  });

  describe('person-api (udaconnect_person_api)', () => {
    test('creates and reads persons, issues, lists and revokes devices, reads locations', async () => {
      const k = as['person-api'];
      const [created] = await k('person').insert({ first_name: 'Ada', last_name: 'Lovelace', company_name: 'Engines' }).returning(['id', 'first_name']);
      expect(created).toEqual({ id: expect.any(Number), first_name: 'Ada' });
      expect(await k('person').select('id').where({ id: created.id }).first()).toEqual({ id: created.id });
      const deviceId = randomUUID();
      await k('device').insert({ id: deviceId, person_id: created.id, label: 'phone', expires_at: new Date(Date.now() + 3_600_000) });
      expect(await k('device').where({ person_id: created.id }).select('id', 'label')).toEqual([{ id: deviceId, label: 'phone' }]);
      expect(await k('device').where({ id: deviceId }).whereNull('revoked_at').update({ revoked_at: k.fn.now() })).toBe(1);
      expect(await revocationListSees(k, deviceId)).toBe(true);
      const { rows } = await k.raw('SELECT id, ST_Y(coordinate::geometry) AS latitude FROM location WHERE person_id = 5 ORDER BY creation_time LIMIT 2');
      expect(rows).toHaveLength(2);
      const directory = new PersonDirectory(k);
      await directory.refresh();
      expect(await directory.exists(created.id)).toBe(true);
    });

    test.each([
      [
        'insert a location',
        `INSERT INTO location (person_id, coordinate, creation_time, event_id) VALUES (5, 'SRID=4326;POINT(0 0)', now(), gen_random_uuid())`,
      ],
      ['update a location', 'UPDATE location SET creation_time = now() WHERE id = 1'],
      ['un-erase a person', 'DELETE FROM erased_person'],
      ['change an erased id', 'UPDATE erased_person SET person_id = 1'],
      ['empty a table', 'TRUNCATE person CASCADE'],
      ['write a visit', `INSERT INTO visit (person_id, event_id, place_id, first_seen, last_seen) VALUES (5, 1, 1, now(), now())`],
      ['delete attendance', 'DELETE FROM attendance'],
      ['read the presence queue', 'SELECT id FROM presence_dirty'],
      ['make partitions', `SELECT location_ensure_partitions('2039-02-01', 1)`],
      ['drop partitions', `SELECT location_drop_partitions_before(now() - interval '1 day')`],
    ])('may not %s', async (_what, sql) => refused(as['person-api'], sql));

    test('changes and erases a person (DELETE /api/persons/{id}): the person, their locations and devices', async () => {
      const persons = personRepository(as['person-api']);
      const { id } = await persons.create({ first_name: 'Erin', last_name: 'Erased', company_name: 'Gone' });
      await admin.raw(`INSERT INTO location (person_id, coordinate, creation_time, event_id) VALUES (?, 'SRID=4326;POINT(0 0)', now(), gen_random_uuid())`, [
        id,
      ]);
      await admin('device').insert({ id: randomUUID(), person_id: id, expires_at: new Date(Date.now() + 3_600_000) });
      expect(await persons.update(id, { discoverable: false })).toMatchObject({ id, discoverable: false });
      expect(await persons.erase(id)).toEqual({ locations: 1, devices: 1 });
      expect(await admin('person').where({ id }).first()).toBeUndefined();
      expect(await admin('erased_person').where({ person_id: id }).select('person_id')).toEqual([{ person_id: id }]);
    });
  });

  test('presence: the writer marks, derives and replaces visits; person-api reads them, and erasure takes them along', async () => {
    const persons = personRepository(as['person-api']);
    const { id: personId } = await persons.create({ first_name: 'Vera', last_name: 'Visitor', company_name: 'Booths' });
    const [event] = await admin('event').insert({ name: 'roles presence', starts_at: '2031-05-01T08:00:00Z', ends_at: '2031-05-01T18:00:00Z' }).returning('id');
    const { rows: places } = await admin.raw(
      `INSERT INTO place (event_id, name, kind, area) VALUES (?, 'Booth R', 'booth', 'SRID=4326;POLYGON((10 50, 10.001 50, 10.001 50.001, 10 50.001, 10 50))') RETURNING id`,
      [event.id],
    );
    const writer = as['location-writer'];
    // Every 30 s for 3 minutes inside the booth: one visit.
    const pings = Array.from({ length: 7 }, (_, i) => ({
      eventId: randomUUID(),
      personId,
      latitude: 50.0005,
      longitude: 10.0005,
      recordedAt: new Date(Date.parse('2031-05-01T09:00:00Z') + i * 30_000),
    }));
    const windows = await new EventWindows(writer, DEFAULT_PRESENCE_RULES.maxCoverMs).current();
    expect(await insertPings(writer, pings, windows)).toEqual({ inserted: 7, duplicates: 0, conflicts: [] });
    const settings = { rules: DEFAULT_PRESENCE_RULES, personsPerRun: 100, retentionDays: 0 };
    expect(await recomputePresence(writer, settings)).toMatchObject({ locked: true, marks: 1, persons: 1, visits: 1 });
    const visit = { person_id: personId, event_id: event.id, place_id: places[0].id };
    expect(await as['person-api']('visit').where({ person_id: personId }).select('person_id', 'event_id', 'place_id', 'first_seen', 'last_seen')).toEqual([
      { ...visit, first_seen: new Date('2031-05-01T09:00:00Z'), last_seen: new Date('2031-05-01T09:03:00Z') },
    ]);
    expect(await as['person-api']('attendance').where({ person_id: personId })).toEqual([]);
    expect(await persons.erase(personId)).toEqual({ locations: 7, devices: 0 });
    expect(await admin('visit').where({ person_id: personId })).toEqual([]);
    // A mark left behind for the erased person is dropped by the next run.
    await writer.raw(`INSERT INTO presence_dirty (person_id, since, until) VALUES (?, '2031-05-01T09:00:00Z', '2031-05-01T09:00:00Z')`, [personId]);
    expect(await recomputePresence(writer, settings)).toMatchObject({ locked: true, marks: 1, persons: 0, erased: 1 });
    expect(await admin('presence_dirty').count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  const everyRole = SERVICE_ROLES.map((r) => [r.service] as [ServiceName]);

  describe.each(everyRole)('%s may not change the schema nor act beyond its database', (service) => {
    test.each([
      ['create a table', 'CREATE TABLE public.intruder (id int)'],
      ['create a temporary table', 'CREATE TEMP TABLE intruder (id int)'],
      ['create a schema', 'CREATE SCHEMA intruder'],
      ['drop a table', 'DROP TABLE location'],
      ['alter a table', 'ALTER TABLE person ADD COLUMN intruder int'],
      ['create an index', 'CREATE INDEX intruder ON location (received_at)'],
      ['read the migration log', 'SELECT * FROM knex_migrations'],
      ['create a database', 'CREATE DATABASE udaconnect_test_intruder'],
      ['create a role', 'CREATE ROLE udaconnect_intruder'],
    ])('%s', async (_what, sql) => refused(as[service], sql));

    test('end another session (no pg_signal_backend)', async () => {
      // The admin's own session stays open (in a transaction) while the role tries to end it.
      await admin.transaction(async (trx) => {
        const { rows } = await trx.raw<{ rows: Array<{ pid: number }> }>('SELECT pg_backend_pid() AS pid');
        await refused(as[service], 'SELECT pg_terminate_backend(?)', [rows[0]!.pid]);
      });
    });
  });
});
