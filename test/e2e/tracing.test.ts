/**
 * One OpenTelemetry trace follows a ping from REST or gRPC through Kafka into its SQL insert,
 * and a connection query from REST through gRPC into its SQL, over the real transports, broker
 * and PostGIS. The services run in this process and share one in-memory tracer provider
 * (modules/common/test/tracing-support.ts); spans are told apart by kind and name.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { LocationPing } from '@udaconnect/proto';
import { installTestTracing, type RecordedSpan, type TestTracing } from '../../modules/common/test/tracing-support';
import { startTestPersonApi, type Harness } from '../../modules/person-api/test/harness';
import { bearer } from '../support/auth';
import { eventually } from '../support/eventually';
import { startPipeline, type Pipeline } from '../support/pipeline';
import { messagesOfPings } from '../support/topic-reader';

let tracing: TestTracing;
beforeAll(() => {
  tracing = installTestTracing();
});
afterAll(() => tracing.uninstall());

/** A caller's own trace context, as a W3C traceparent (sampled). */
function callerContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** Waits until `trace` has a span that matches each of `wanted` (by kind and name), and returns them in that order. */
async function spansOf(traceId: string, wanted: Array<Pick<RecordedSpan, 'kind' | 'name'>>): Promise<RecordedSpan[]> {
  return eventually(() => {
    const inTrace = tracing.spans().filter((s) => s.traceId === traceId);
    return wanted.map((w) => {
      const found = inTrace.find((s) => s.kind === w.kind && s.name === w.name);
      expect({ ...w, found: found !== undefined }).toEqual({ ...w, found: true });
      return found!;
    });
  }, 30_000);
}

const COORDINATES = /\b(latitude|longitude|coordinate|lat|lon)\b/i;

/** No span in these traces carries a coordinate, a name or a token. */
function expectNoPersonalData(spans: RecordedSpan[]) {
  for (const span of spans) {
    const text = JSON.stringify(span.attributes);
    expect({ span: span.name, attributes: Object.keys(span.attributes).filter((k) => COORDINATES.test(k)) }).toEqual({ span: span.name, attributes: [] });
    expect(text).not.toMatch(/Bearer|eyJ/); // no token
    expect(text).not.toMatch(/-?\d+\.\d{3,}/); // no coordinate-like number
  }
}

describe('a ping, through the pipeline', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline('tracing');
  });
  afterAll(() => p.close());
  beforeEach(() => tracing.reset());

  const ping = (personId: number): LocationPing => ({
    eventId: randomUUID(),
    personId,
    latitude: 37.553412,
    longitude: -122.290536,
    recordedAt: new Date(Date.UTC(2026, 10, 21, 9, 30)),
  });

  /** The producer → consumer → SQL chain under `parent`, for one ping: each span the child of the one before, all in `traceId`. */
  async function expectKafkaChain(traceId: string, parent: RecordedSpan) {
    const [producer, consumer, insert] = await spansOf(traceId, [
      { kind: 'producer', name: `send ${p.topic}` },
      { kind: 'consumer', name: `process ${p.topic}` },
      { kind: 'client', name: 'INSERT location' },
    ]);
    expect(producer!.parentSpanId).toBe(parent.spanId);
    expect(consumer!.parentSpanId).toBe(producer!.spanId);
    expect(insert!.parentSpanId).toBe(consumer!.spanId);
    expect(producer!.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': p.topic, 'messaging.operation.type': 'send' });
    expect(consumer!.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.operation.type': 'process' });
    expect(insert!.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'INSERT', 'db.collection.name': 'location' });
    expect(insert!.attributes['db.query.text']).toBeUndefined();
    for (const s of [producer!, consumer!, insert!]) expect(s.status).toBe('unset');
    return { producer: producer!, consumer: consumer!, insert: insert! };
  }

  test('POST /api/locations: the request span → the Kafka producer span → the writer’s span → the SQL insert, one trace', async () => {
    const res = await fetch(`${p.apiUrl}/api/locations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(p.auth.organizer) },
      body: JSON.stringify({ person_id: 8, latitude: 37.553412, longitude: -122.290536, creation_time: '2026-11-21T09:30:00Z' }),
    });
    expect(res.status).toBe(202);
    const eventId = ((await res.json()) as { event_id: string }).event_id;

    const server = await eventually(() => {
      const found = tracing.spans().find((s) => s.kind === 'server' && s.name === 'POST /api/locations');
      expect(found).toBeDefined();
      return found!;
    });
    // No traceparent was sent: the request starts the trace.
    expect(server.parentSpanId).toBeUndefined();
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/api/locations', 'http.response.status_code': 202 });
    const chain = await expectKafkaChain(server.traceId, server);
    expect(chain.producer.attributes['messaging.batch.message_count']).toBe(1);
    // The context crossed Kafka as a W3C traceparent header naming the producer span, and nothing else.
    const message = (await messagesOfPings(p.topic, [eventId])).get(eventId)!;
    expect(message.headers).toEqual({ traceparent: `00-${server.traceId}-${chain.producer.spanId}-01` });
    expectNoPersonalData(tracing.spans().filter((s) => s.traceId === server.traceId));
  });

  test('gRPC Record with the caller’s traceparent: the caller → the ingest server span → producer → writer → SQL insert, in the caller’s trace', async () => {
    const caller = callerContext();
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', caller.traceparent);
    const sent = ping(5);
    await new Promise((resolve, reject) => p.client.record(sent, metadata, (err, res) => (err ? reject(err) : resolve(res))));

    const [server] = await spansOf(caller.traceId, [{ kind: 'server', name: 'udaconnect.location.v1.LocationIngest/Record' }]);
    expect(server!.parentSpanId).toBe(caller.spanId);
    expect(server!.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': 'udaconnect.location.v1.LocationIngest/Record',
      'rpc.status_code': 'OK',
    });
    await expectKafkaChain(caller.traceId, server!);
    expectNoPersonalData(tracing.spans().filter((s) => s.traceId === caller.traceId));
  });

  test('gRPC RecordStream: the stream’s pings are sent under its server span, and reach SQL in its trace (a span per send and per batch, not per ping)', async () => {
    const caller = callerContext();
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', caller.traceparent);
    const sent = [ping(1), ping(5), ping(6), ping(8), ping(9), ping(1)];
    await new Promise((resolve, reject) => {
      const call = p.client.recordStream(metadata, (err, res) => (err ? reject(err) : resolve(res)));
      for (const s of sent) call.write(s);
      call.end();
    });

    const [server] = await spansOf(caller.traceId, [{ kind: 'server', name: 'udaconnect.location.v1.LocationIngest/RecordStream' }]);
    expect(server!.parentSpanId).toBe(caller.spanId);
    const count = (spans: RecordedSpan[]) => spans.reduce((n, s) => n + Number(s.attributes['messaging.batch.message_count']), 0);
    // Every ping was processed by the writer in this trace (spans end after the batch is written).
    const inTrace = await eventually(() => {
      const spans = tracing.spans().filter((s) => s.traceId === caller.traceId);
      expect(count(spans.filter((s) => s.kind === 'consumer'))).toBe(sent.length);
      return spans;
    }, 30_000);
    const producers = inTrace.filter((s) => s.kind === 'producer');
    const consumers = inTrace.filter((s) => s.kind === 'consumer');
    const inserts = inTrace.filter((s) => s.name === 'INSERT location');
    expect(count(producers)).toBe(sent.length);
    expect(producers.length).toBeLessThan(sent.length);
    expect(producers.map((s) => s.parentSpanId)).toEqual(producers.map(() => server!.spanId));
    // Each consumer span continues one of the sends, and has its own insert span.
    for (const consumer of consumers) {
      expect(producers.map((s) => s.spanId)).toContain(consumer.parentSpanId);
      expect(inserts.filter((s) => s.parentSpanId === consumer.spanId)).toHaveLength(1);
    }
    expect(inserts).toHaveLength(consumers.length);
  });
});

describe('a connection query', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startTestPersonApi('tracing-conn', { connectionService: true });
  });
  afterAll(() => h.close());
  beforeEach(() => tracing.reset());

  test('GET /api/persons/:id/connection with a traceparent: request span → gRPC client span → connection-service span → SQL, one trace', async () => {
    const caller = callerContext();
    await h.http.get('/api/persons/5/connection?start_date=2020-01-01&end_date=2020-12-30&distance=5').set('traceparent', caller.traceparent).expect(200);

    const method = 'udaconnect.connection.v1.ConnectionService/FindConnections';
    const [rest, client, server, query] = await spansOf(caller.traceId, [
      { kind: 'server', name: 'GET /api/persons/:id/connection' },
      { kind: 'client', name: method },
      { kind: 'server', name: method },
      { kind: 'client', name: 'SELECT location' },
    ]);
    expect(rest!.parentSpanId).toBe(caller.spanId);
    expect(client!.parentSpanId).toBe(rest!.spanId);
    expect(server!.parentSpanId).toBe(client!.spanId);
    expect(query!.parentSpanId).toBe(server!.spanId);
    expect(rest!.attributes).toMatchObject({ 'http.route': '/api/persons/:id/connection', 'http.response.status_code': 200 });
    expect(client!.attributes).toMatchObject({ 'rpc.system.name': 'grpc', 'rpc.status_code': 'OK' });
    expect(query!.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT' });
    expect(tracing.spans().filter((s) => s.traceId === caller.traceId)).toHaveLength(4);
    expectNoPersonalData(tracing.spans());
  });

  test('a failure shows as an error on the spans of the side at fault: unknown person is the caller’s (NOT_FOUND), not an error of the server', async () => {
    const caller = callerContext();
    await h.http.get('/api/persons/999999/connection?start_date=2020-01-01&end_date=2020-12-30&distance=5').set('traceparent', caller.traceparent).expect(404);
    const method = 'udaconnect.connection.v1.ConnectionService/FindConnections';
    const [rest, client, server] = await spansOf(caller.traceId, [
      { kind: 'server', name: 'GET /api/persons/:id/connection' },
      { kind: 'client', name: method },
      { kind: 'server', name: method },
    ]);
    expect(rest!.attributes['http.response.status_code']).toBe(404);
    expect(rest!.status).toBe('unset');
    // connection-service's NOT_FOUND, or CANCELLED when person-api's own person check answered 404
    // first and it called off the query it no longer needs (no work for a gone caller: docs/contract.md §6, "Limits").
    expect(['NOT_FOUND', 'CANCELLED']).toContain(client!.attributes['rpc.status_code']);
    expect(server!.status).toBe('unset');
  });

  test('an unmatched URL is named by its method only (no ids in span names)', async () => {
    const caller = callerContext();
    await h.http.get('/api/no-such-thing/123').set('traceparent', caller.traceparent).expect(404);
    const [rest] = await spansOf(caller.traceId, [{ kind: 'server', name: 'GET' }]);
    expect(rest!.attributes['http.route']).toBeUndefined();
  });
});
