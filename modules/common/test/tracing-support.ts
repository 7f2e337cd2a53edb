/**
 * Tracing for tests: what startTracing registers (a global tracer provider, the AsyncLocalStorage
 * context manager, the W3C trace-context propagator), with the spans kept in memory instead of
 * exported. SimpleSpanProcessor: a span is listed as soon as it ends. Every service started in
 * the test's process shares it, as the real ones share a collector.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** An ended span, in plain values. */
export interface RecordedSpan {
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  traceId: string;
  spanId: string;
  /** undefined for a root span. */
  parentSpanId: string | undefined;
  attributes: Attributes;
  status: 'unset' | 'ok' | 'error';
}

export interface TestTracing {
  /** Every span ended since install (or the last reset), in the order they ended. */
  spans(): RecordedSpan[];
  reset(): void;
  /** Unregisters everything, so the API is its no-op self again. */
  uninstall(): Promise<void>;
}

const KINDS = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
} as const;
const STATUSES = { [SpanStatusCode.UNSET]: 'unset', [SpanStatusCode.OK]: 'ok', [SpanStatusCode.ERROR]: 'error' } as const;

export function installTestTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return {
    spans: () =>
      exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        kind: KINDS[s.kind],
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: s.parentSpanContext?.spanId,
        attributes: s.attributes,
        status: STATUSES[s.status.code],
      })),
    reset: () => exporter.reset(),
    async uninstall() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
