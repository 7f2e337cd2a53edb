/**
 * startTracing: nothing registered without an OTLP endpoint; with one, a recording provider that
 * samples as configured. The boundary spans are tested end to end in test/e2e/tracing.test.ts,
 * the export to a collector in test/e2e/tracing-export.test.ts.
 */
import { context, propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { z } from 'zod';
import { parseConfig } from '../src/config';
import { captureTrace, producerSpans, startTracing, tracedQuery, tracingConfigShape } from '../src/tracing';

const schema = z.object(tracingConfigShape);

describe('the settings', () => {
  it('are off by default, sampling everything once on', () => {
    expect(parseConfig(schema, {})).toEqual({ TRACES_SAMPLE_RATIO: 1 });
  });
  it('refuse an endpoint that is not an http(s) URL and a ratio outside 0–1', () => {
    expect(() => parseConfig(schema, { OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => parseConfig(schema, { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() => parseConfig(schema, { TRACES_SAMPLE_RATIO: '1.5' })).toThrow(/TRACES_SAMPLE_RATIO/);
    expect(parseConfig(schema, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', TRACES_SAMPLE_RATIO: '0.1' })).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      TRACES_SAMPLE_RATIO: 0.1,
    });
  });
});

test('without an endpoint nothing is registered: spans do not record, no context is kept or injected, no SQL span is made', async () => {
  const tracing = startTracing('test-service', parseConfig(schema, {}));
  const span = trace.getTracer('probe').startSpan('probe');
  expect(span.isRecording()).toBe(false);
  expect(propagation.fields()).toEqual([]);
  const ctx = trace.setSpan(ROOT_CONTEXT, span);
  expect(context.with(ctx, () => context.active())).toBe(ROOT_CONTEXT);
  expect(context.with(ctx, captureTrace)).toBeUndefined();
  expect(producerSpans('topic', [undefined]).headers).toEqual([]);
  expect(await tracedQuery({ operation: 'SELECT', table: 't' }, async () => 42)).toBe(42);
  span.end();
  await tracing.shutdown();
});

// Spans are not ended here: exporting needs a dynamic import() of node:http, which jest's module
// system refuses. The export itself is tested on a real service process (test/e2e/tracing-export.test.ts).
describe('with an endpoint', () => {
  const endpoint = 'http://127.0.0.1:9/';

  it('registers a recording provider, the W3C propagator and a context manager; shutdown unregisters them', async () => {
    const tracing = startTracing('test-service', parseConfig(schema, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }));
    const span = trace.getTracer('probe').startSpan('probe');
    expect(span.isRecording()).toBe(true);
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    expect(context.with(ctx, () => trace.getSpan(context.active()))).toBe(span);
    const carrier: Record<string, string> = {};
    propagation.inject(ctx, carrier);
    expect(carrier).toEqual({ traceparent: `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01` });
    // Messages queued in one caller's trace share one producer span: one traceparent, a child of the caller.
    const queued = context.with(ctx, captureTrace);
    const send = producerSpans('topic', [queued, undefined, queued]);
    expect(send.headers[0]).toEqual({ traceparent: expect.stringMatching(`^00-${span.spanContext().traceId}-[0-9a-f]{16}-01$`) });
    expect(send.headers[0]!.traceparent).not.toBe(carrier.traceparent);
    expect(send.headers).toEqual([send.headers[0], undefined, send.headers[0]]);
    await tracing.shutdown();
    expect(trace.getTracer('probe').startSpan('after').isRecording()).toBe(false);
    expect(propagation.fields()).toEqual([]);
  });

  it('samples new traces at TRACES_SAMPLE_RATIO, but follows a caller that sampled its trace', async () => {
    const tracing = startTracing('test-service', parseConfig(schema, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, TRACES_SAMPLE_RATIO: '0' }));
    expect(trace.getTracer('probe').startSpan('new trace').isRecording()).toBe(false);
    const caller = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(trace.getTracer('probe').startSpan('continued', {}, trace.setSpan(ROOT_CONTEXT, caller)).isRecording()).toBe(true);
    await tracing.shutdown();
  });
});
