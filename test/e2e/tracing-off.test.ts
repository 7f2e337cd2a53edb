/**
 * Without an OTLP endpoint nothing is registered, so no trace context travels on — not even a
 * caller's own traceparent — and Kafka messages carry no trace headers.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { parseConfig, startTracing, type Tracing } from '@udaconnect/common';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { bearer } from '../support/auth';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { messagesOfPings } from '../support/topic-reader';

let p: Pipeline;
let tracing: Tracing;
beforeAll(async () => {
  // As runService does, with an environment that names no OTLP endpoint (modules/common/test/tracing.test.ts
  // shows that this registers nothing).
  const config = parseConfig(personApiConfigSchema, {
    DATABASE_URL: 'postgresql://x@localhost/db',
    KAFKA_BROKERS: 'localhost:9092',
    AUTH_JWKS_FILE: 'k',
    AUTH_SIGNING_KEY_FILE: 'k',
  });
  expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
  tracing = startTracing('person-api', config);
  p = await startPipeline('tracing-off');
});
afterAll(async () => {
  await p.close();
  await tracing.shutdown();
});

test('pings sent by REST and by gRPC (even with the caller’s traceparent) reach Kafka without trace headers', async () => {
  const res = await fetch(`${p.apiUrl}/api/locations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(p.auth.organizer), traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    body: JSON.stringify({ person_id: 8, latitude: 37.5533, longitude: -122.2905, creation_time: '2026-11-21T09:30:00Z' }),
  });
  expect(res.status).toBe(202);
  const viaRest = ((await res.json()) as { event_id: string }).event_id;

  const metadata = new grpc.Metadata();
  metadata.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  const viaGrpc = randomUUID();
  await new Promise((resolve, reject) =>
    p.client.record({ eventId: viaGrpc, personId: 5, latitude: 37.5533, longitude: -122.2905, recordedAt: new Date() }, metadata, (err, r) =>
      err ? reject(err) : resolve(r),
    ),
  );

  const messages = await messagesOfPings(p.topic, [viaRest, viaGrpc]);
  for (const m of messages.values()) expect(m.headers).toEqual({});
});
