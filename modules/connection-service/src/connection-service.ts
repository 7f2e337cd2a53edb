/**
 * Builds connection-service from its config: database pool (and, with DATABASE_READ_URL, a second
 * one to a read replica for FindConnections), gRPC server (health, reflection), DB health polling,
 * and live meetings (a Kafka consumer of the pings, meeting-feed.ts).
 */
import {
  createDatabase,
  createMetricsRegistry,
  databaseMetrics,
  loadServerTls,
  startGrpcServer,
  startOperatorServer,
  startTokenVerification,
  type GrpcServerHandle,
  type Logger,
} from '@udaconnect/common';
import { ConnectionServiceDefinition, MeetingsDefinition } from '@udaconnect/proto';
import type { ConnectionConfig } from './config';
import { createConnectionHandlers } from './connection-handlers';
import { CONNECTION_SESSION_SETTINGS } from './connection-query';
import { createMeetingHandlers } from './meeting-handlers';
import { MeetingFeed } from './meeting-feed';
import { replicaFreshness } from './read-replica';

export const CONNECTION_SERVICE_NAME = 'udaconnect.connection.v1.ConnectionService';
export const MEETINGS_SERVICE_NAME = 'udaconnect.meeting.v1.Meetings';

export interface ConnectionService {
  port: number;
  /** The devices' port (MEETINGS_PORT): Meetings only; undefined when not configured. */
  meetingsPort: number | undefined;
  /** Whether the devices' port speaks TLS (TLS_CERT_FILE, TLS_KEY_FILE). */
  meetingsTls: boolean;
  /** The operator port: /metrics, /healthz, /readyz (METRICS_PORT). */
  metricsPort: number;
  /** Live meetings; undefined when turned off (MEETINGS_ENABLED=false or no KAFKA_BROKERS). */
  meetings: MeetingFeed | undefined;
  /** End the meeting streams, stop taking calls, let in-flight ones finish, stop consuming, close the pool. */
  stop(): Promise<void>;
}

export async function startConnectionService(config: ConnectionConfig, logger: Logger): Promise<ConnectionService> {
  // Read first: a certificate that cannot be used stops the start before anything is opened.
  const tls = loadServerTls(config);
  const db = createDatabase({
    url: config.DATABASE_URL,
    logger,
    poolMax: config.DB_POOL_MAX,
    statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
    applicationName: 'connection-service',
    sessionSettings: CONNECTION_SESSION_SETTINGS,
  });
  // FindConnections' queries go to the read replica when there is one (DATABASE_READ_URL, same role):
  // a pool of its own, the same settings, and read-only sessions, so not even a primary given as the
  // replica is written to through it. Everything else stays on the primary's pool.
  const readDb = config.DATABASE_READ_URL
    ? createDatabase({
        url: config.DATABASE_READ_URL,
        logger,
        poolMax: config.DB_POOL_MAX,
        statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
        applicationName: 'connection-service-read',
        sessionSettings: { ...CONNECTION_SESSION_SETTINGS, default_transaction_read_only: 'on' },
      })
    : undefined;
  const registry = createMetricsRegistry('connection-service');
  // db_pool_connections follows the primary's pool; db_query_duration_seconds times both pools' statements.
  databaseMetrics(registry, db.knex);
  if (readDb) databaseMetrics(registry, readDb.knex);
  const replica = readDb && replicaFreshness({ primary: db.knex, replica: readDb.knex, maxLagMs: config.DATABASE_READ_MAX_LAG_MS, logger, registry });
  // The service starts even while the database is down: it answers NOT_SERVING (so Kubernetes
  // keeps it out of rotation) and turns SERVING once the database answers — and the replica, when
  // there is one, answers and keeps up (no fallback to the primary: docs/decisions.md).
  const databaseUp = await db.isReady();
  if (!databaseUp) logger.warn('database unreachable at start-up; health is NOT_SERVING until it answers');
  const replicaUp = replica ? await replica.check() : true;

  // Revoked ids are read from the same database; while it is down the last list stays in force
  // (never read yet: calls are refused with UNAVAILABLE and health is NOT_SERVING).
  const auth = await startTokenVerification({ jwksFile: config.AUTH_JWKS_FILE, knex: db.knex, logger, pollMs: config.REVOCATION_POLL_MS });

  let server: GrpcServerHandle | undefined;
  let devicesServer: GrpcServerHandle | undefined;
  const handlers = createConnectionHandlers({
    knex: (readDb ?? db).knex,
    verifier: auth.verifier,
    logger,
    statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
    limits: {
      perCaller: config.MAX_CONCURRENT_QUERIES_PER_CALLER,
      service: config.DB_POOL_MAX,
      maxQueryPairs: config.MAX_QUERY_PAIRS,
      maxUnpagedResults: config.MAX_UNPAGED_RESULTS,
    },
    metrics: registry,
    onDatabaseUnavailable: () => {
      server?.setServing(false);
      devicesServer?.setServing(false);
    },
  });

  // Live meetings: each replica reads every ping (meeting-feed.ts), connected in the background.
  const meetingsOn = config.MEETINGS_ENABLED && config.KAFKA_BROKERS !== undefined;
  if (!meetingsOn) logger.warn(config.MEETINGS_ENABLED ? 'KAFKA_BROKERS is not set: live meetings are off' : 'MEETINGS_ENABLED=false: live meetings are off');
  const meetings = meetingsOn
    ? new MeetingFeed({
        brokers: config.KAFKA_BROKERS!,
        topic: config.LOCATIONS_TOPIC,
        rules: {
          distanceMeters: config.MEETING_DISTANCE_METERS,
          windowMs: config.MEETING_WINDOW_SECONDS * 1000,
          cooldownMs: Math.round(config.MEETING_COOLDOWN_MINUTES * 60_000),
        },
        lateMs: config.MEETING_LATE_SECONDS * 1000,
        refreshMs: config.MEETING_REFRESH_MS,
        knex: db.knex,
        logger,
        registry,
        revocations: auth.revocations,
      })
    : undefined;
  const meetingHandlers = createMeetingHandlers({ feed: meetings, verifier: auth.verifier, logger });
  const operator = await startOperatorServer({
    registry,
    port: config.METRICS_PORT,
    host: config.METRICS_HOST,
    logger,
    readiness: {
      database: () => db.isReady(),
      ...(replica && { database_read: () => replica.check() }),
      revocation_list: () => auth.revocations.loaded,
    },
  });
  const serving = databaseUp && replicaUp && auth.revocations.loaded;
  const meetingsService = { name: MEETINGS_SERVICE_NAME, definition: MeetingsDefinition, implementation: meetingHandlers };
  try {
    server = await startGrpcServer({
      port: config.PORT,
      logger,
      metrics: registry,
      serving,
      services: [{ name: CONNECTION_SERVICE_NAME, definition: ConnectionServiceDefinition, implementation: handlers }, meetingsService],
    });
    // The devices' port: the same Meetings handlers (one stream limit per attendee across both ports),
    // nothing else, so it may face the outside while FindConnections stays internal.
    if (config.MEETINGS_PORT !== undefined) {
      devicesServer = await startGrpcServer({ port: config.MEETINGS_PORT, logger, metrics: registry, serving, tls, services: [meetingsService] });
    }
  } catch (err) {
    // A port in use: leave nothing open behind the failed start.
    server?.server.forceShutdown();
    auth.stop();
    await operator.close();
    await db.close();
    await readDb?.close();
    throw err;
  }
  const grpcServer = server;
  const devices = devicesServer;
  const servers = [grpcServer, ...(devices ? [devices] : [])];

  // One check for both ports: the devices' port reports what the main one does.
  grpcServer.followHealth(async () => {
    let healthy = false;
    try {
      healthy = auth.revocations.loaded && (await db.isReady()) && (!replica || (await replica.check()));
    } finally {
      devices?.setServing(healthy);
    }
    return healthy;
  }, config.DB_HEALTH_INTERVAL_MS);
  meetings?.start();
  if (devices) logger.info({ port: devices.port, tls: tls !== undefined }, 'Meetings for devices on their own port');

  return {
    port: grpcServer.port,
    meetingsPort: devices?.port,
    meetingsTls: devices !== undefined && tls !== undefined,
    metricsPort: operator.port,
    meetings,
    async stop() {
      // Open Watch streams end first (with OK: their clients call again, on another replica), or
      // they would hold the drain below for its whole timeout.
      meetings?.closeStreams();
      auth.stop();
      await Promise.all(servers.map((s) => s.shutdown(config.DRAIN_TIMEOUT_MS)));
      await meetings?.stop();
      await operator.close();
      await db.close();
      await readDb?.close();
    },
  };
}
