/**
 * person-api from its config: database, token verification, ping publishing (Kafka), the
 * connection-service client, the express app and its HTTP(S) server. Collaborators can be passed
 * in (route tests use in-memory ping publishing: test/fakes.ts); whatever is not passed is built
 * from the config. main.ts only adds the signals.
 */
import type { Server } from 'node:http';
import {
  closeHttpServer,
  createDatabase,
  createHttpServer,
  createMetricsRegistry,
  databaseMetrics,
  listen,
  loadServerTls,
  runShutdownSteps,
  startOperatorServer,
  topicReplication,
  type Logger,
  type ShutdownStep,
} from '@udaconnect/common';
import { pingMetrics } from '@udaconnect/domain';
import { createApp } from './app';
import { startPersonApiAuth } from './auth-setup';
import type { PersonApiConfig } from './config';
import { connectionServiceClient, type ConnectionFinder } from './connection-client';
import { meetingWatcher, type MeetingWatcher } from './meeting-client';
import { meetingCounter } from './meeting-count';
import { startPingPublishing, type PingPublishing } from './pings';
import { serviceTokenSource } from './service-token';

export interface PersonApiCollaborators {
  pings: PingPublishing;
  connections: ConnectionFinder;
  meetings: MeetingWatcher;
}

export interface PersonApi {
  app: ReturnType<typeof createApp>;
  server: Server;
  port: number;
  /** The operator port: /metrics and /healthz (METRICS_PORT). */
  metricsPort: number;
  /** http(s)://localhost:<port> */
  url: string;
  /** In order: stop accepting requests, then close what was opened (installShutdown runs them). */
  shutdownSteps: ShutdownStep[];
  close(): Promise<void>;
}

export async function startPersonApi(config: PersonApiConfig, logger: Logger, given: Partial<PersonApiCollaborators> = {}): Promise<PersonApi> {
  // Before anything connects: a certificate that cannot be used stops the start at once.
  const tls = loadServerTls(config);
  // Each part's closing step, in the order opened; closed in reverse (also after a failed start).
  const steps: ShutdownStep[] = [];
  const closeAll = async () => void (await runShutdownSteps(logger, [...steps].reverse()));
  try {
    const db = createDatabase({ url: config.DATABASE_URL, logger, poolMax: config.DB_POOL_MAX });
    steps.push({ name: 'database', run: () => db.close() });
    const registry = createMetricsRegistry('person-api');
    databaseMetrics(registry, db.knex);
    const metrics = { registry, pings: pingMetrics(registry, 'rest') };
    const operator = await startOperatorServer({ registry, port: config.METRICS_PORT, host: config.METRICS_HOST, logger });
    steps.push({ name: 'metrics', run: () => operator.close() });
    // No waiting for the database or Kafka (docs/decisions.md, "Start without dependencies"):
    // /readyz says what is missing and the routes that need it answer 503 until it is back.
    const pings =
      given.pings ??
      startPingPublishing({
        brokers: config.KAFKA_BROKERS,
        topic: config.LOCATIONS_TOPIC,
        partitions: config.LOCATIONS_PARTITIONS,
        replication: topicReplication(config),
        knex: db.knex,
        logger,
        metrics: metrics.pings,
      });
    steps.push({ name: 'kafka', run: () => pings.close() });
    const auth = await startPersonApiAuth(config, db.knex, logger);
    steps.push({ name: 'revocation list', run: () => auth.stop() });
    const connections =
      given.connections ??
      connectionServiceClient(config.CONNECTION_SERVICE_ADDRESS, serviceTokenSource(auth.signer), {
        perCaller: config.CONNECTION_QUERIES_PER_CALLER,
      });
    steps.push({ name: 'connection-service client', run: () => connections.close() });
    const meetings = given.meetings ?? meetingWatcher(config.CONNECTION_SERVICE_ADDRESS);
    steps.push({ name: 'meetings client', run: () => meetings.close() });
    const app = createApp({
      db,
      logger,
      bodyLimit: config.BODY_LIMIT,
      publisher: pings.publisher,
      personDirectory: pings.personDirectory,
      connections,
      meetings,
      countMeetings: meetingCounter(db.knex, {
        distanceMeters: config.MEETING_DISTANCE_METERS,
        windowMs: config.MEETING_WINDOW_SECONDS * 1000,
        cooldownMs: config.MEETING_COOLDOWN_MINUTES * 60_000,
      }),
      auth,
      corsOrigins: config.CORS_ORIGINS,
      metrics,
      degradedChecks: { kafka: () => pings.isReachable(), connection_service: () => connections.isReachable() },
      rateLimits: {
        attendee: config.RATE_LIMIT_ATTENDEE,
        organizer: config.RATE_LIMIT_ORGANIZER,
        anonymous: config.RATE_LIMIT_ANONYMOUS,
        windowSeconds: config.RATE_LIMIT_WINDOW,
      },
      trustProxy: config.TRUST_PROXY,
    });
    const server = createHttpServer(app, tls);
    const port = await listen(server, config.PORT);
    steps.push({ name: 'http', run: () => closeHttpServer(server) });
    const url = `${tls ? 'https' : 'http'}://localhost:${port}`;
    logger.info({ port, tls: tls !== undefined }, `person-api listening on ${url}/`);
    const shutdownSteps = [...steps].reverse();
    return { app, server, port, metricsPort: operator.port, url, shutdownSteps, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
