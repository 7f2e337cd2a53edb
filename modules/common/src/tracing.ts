/**
 * The only module that knows OpenTelemetry. One trace follows a ping or a query across our
 * boundaries: REST (a SERVER span per request) → gRPC (CLIENT span, context in the metadata;
 * SERVER span per call) → Kafka (a PRODUCER span per send and caller, context in each message's
 * `traceparent` header; a CONSUMER span per batch and trace in the writer) → SQL (a CLIENT span per
 * statement and trace). The spans are made here by hand at those boundaries, not by
 * auto-instrumentation (docs/decisions.md).
 *
 * Nothing is registered unless OTEL_EXPORTER_OTLP_ENDPOINT is set: the API's no-op tracer then
 * makes non-recording spans and injects no headers. Span attributes never hold personal data
 * (coordinates, names, tokens, SQL parameters); person ids are fine.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_OPERATION_BATCH_SIZE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
  RPC_SYSTEM_NAME_VALUE_GRPC,
} from '@opentelemetry/semantic-conventions';
import * as grpc from '@grpc/grpc-js';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { routeTemplate } from './http';
import type { Logger } from './logger';

/** The settings every service reads (spread into each config schema). */
export const tracingConfigShape = {
  /** OTLP/HTTP (protobuf) collector, e.g. http://localhost:4318; traces go to <endpoint>/v1/traces. Unset: no tracing. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  /** Fraction of new traces recorded (0–1); a call that arrives with a trace context follows its caller's decision. */
  TRACES_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(1),
};

export interface TracingConfig {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  TRACES_SAMPLE_RATIO?: number;
}

export interface Tracing {
  /** Exports the spans still buffered and stops (a shutdown step). */
  shutdown(): Promise<void>;
}

/**
 * Registers the global tracer provider when an OTLP endpoint is configured: spans are batched
 * and exported over OTLP/HTTP, the context travels in AsyncLocalStorage and W3C `traceparent`
 * headers, every span names `serviceName`. Without an endpoint nothing is registered.
 */
export function startTracing(serviceName: string, config: TracingConfig, logger?: Logger): Tracing {
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return { shutdown: async () => undefined };
  const ratio = config.TRACES_SAMPLE_RATIO ?? 1;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` }))],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  logger?.info({ endpoint, ratio }, 'tracing: exporting spans over OTLP');
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

// Asked for at each span, not kept: a provider registered later (or again, in tests) is then used.
const tracer = () => trace.getTracer('udaconnect');

/**
 * Marks a span failed by the error's kind (its name, and PostgreSQL's SQLSTATE or a Kafka error's
 * type when there is one), never its message: messages can quote the values at fault.
 */
function recordFailure(span: Span, err: unknown): void {
  const name = err instanceof Error ? err.name : 'Error';
  const code = (err as { code?: unknown; type?: unknown } | null)?.code ?? (err as { type?: unknown } | null)?.type;
  const kind = typeof code === 'string' ? `${name} (${code})` : name;
  span.setStatus({ code: SpanStatusCode.ERROR, message: kind });
  span.setAttribute(ATTR_ERROR_TYPE, kind);
}

/** A header/metadata map as W3C propagation writes it; undefined when there is nothing to carry. */
function injected(ctx: Context): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** True when `ctx` carries a span that takes part in a trace (sampled or not). */
const hasTrace = (ctx: Context) => {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext !== undefined && trace.isSpanContextValid(spanContext);
};

// ------------------------------------------------------------------------------------ HTTP

const headerGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/**
 * Express middleware, first in the chain: a SERVER span per request, continuing an incoming
 * `traceparent`, named `<METHOD> <route template>` (e.g. `GET /api/persons/:id/connection`) once
 * a route matched. The request's listeners run in its context, so handlers that run after the
 * body is read (express.json) still see it.
 */
export function httpServerTracing(): RequestHandler {
  return (req, res, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers, headerGetter);
    const span = tracer().startSpan(
      req.method,
      { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: req.method, [ATTR_URL_PATH]: req.path, [ATTR_URL_SCHEME]: req.protocol } },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    context.bind(ctx, req);
    if (!span.isRecording()) return context.with(ctx, next);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const template = routeTemplate(req);
      if (template !== undefined) {
        span.updateName(`${req.method} ${template}`);
        span.setAttribute(ATTR_HTTP_ROUTE, template);
      }
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!res.writableFinished) span.setAttribute(ATTR_ERROR_TYPE, 'aborted');
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(ctx, next);
  };
}

// ------------------------------------------------------------------------------------ gRPC

const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const value = metadata.get(key)[0];
    return typeof value === 'string' ? value : undefined;
  },
};

/** gRPC codes that are the server's failure, not the caller's (OpenTelemetry's RPC conventions). */
const SERVER_FAULTS = new Set([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

const rpcAttributes = (method: string): Attributes => ({ [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_GRPC, [ATTR_RPC_METHOD]: method });

function endRpcSpan(span: Span, code: grpc.status, faults: (code: grpc.status) => boolean): void {
  span.setAttribute(ATTR_RPC_STATUS_CODE, grpc.status[code] ?? String(code));
  if (faults(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: grpc.status[code] });
  span.end();
}

/**
 * The implementation with a SERVER span around each call that answers once (unary and
 * client-streaming; our protos have no other kind), named `<service>/<Method>`, continuing the
 * caller's context from the metadata. The handler and the call's event listeners (a stream's
 * `data`) run in the span's context; the span ends with the answer or when the call is cancelled.
 */
export function traceGrpcService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): grpc.UntypedServiceImplementation {
  const traced: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(implementation)) {
    const method = definition[name];
    if (!method || method.responseStream) {
      traced[name] = handler;
      continue;
    }
    const rpcMethod = method.path.replace(/^\//, '');
    traced[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const parent = propagation.extract(ROOT_CONTEXT, call.metadata, metadataGetter);
      const span = tracer().startSpan(rpcMethod, { kind: SpanKind.SERVER, attributes: rpcAttributes(rpcMethod) }, parent);
      const ctx = trace.setSpan(parent, span);
      const run = handler as grpc.handleUnaryCall<unknown, unknown>;
      context.bind(ctx, call);
      if (!span.isRecording()) return context.with(ctx, () => run(call, callback));
      let ended = false;
      const end = (code: grpc.status) => {
        if (ended) return;
        ended = true;
        endRpcSpan(span, code, (c) => SERVER_FAULTS.has(c));
      };
      call.once('cancelled', () => end(grpc.status.CANCELLED));
      const answer: grpc.sendUnaryData<unknown> = (err, ...rest) => {
        end(err ? (err.code ?? grpc.status.UNKNOWN) : grpc.status.OK);
        callback(err, ...rest);
      };
      context.with(ctx, () => run(call, answer));
    }) as grpc.UntypedHandleCall;
  }
  return traced;
}

/**
 * A CLIENT span for one outgoing call `method` (`<service>/<Method>`), a child of the current
 * context, whose context is added to `metadata`. Call `end` with the call's error (or null).
 */
export function grpcClientSpan(method: string, metadata: grpc.Metadata): { end(err: grpc.ServiceError | null): void } {
  const span = tracer().startSpan(method, { kind: SpanKind.CLIENT, attributes: rpcAttributes(method) });
  for (const [key, value] of Object.entries(injected(trace.setSpan(context.active(), span)) ?? {})) metadata.set(key, value);
  // Every failure of a call we made is ours to see.
  return { end: (err) => endRpcSpan(span, err ? err.code : grpc.status.OK, (code) => code !== grpc.status.OK) };
}

// ----------------------------------------------------------------------------------- Kafka
//
// Spans here are per caller trace, not per message: a stream of thousands of pings is one trace,
// and a span per ping made tracing cost more than half of ingest's throughput (docs/decisions.md).

const messagingAttributes = (topic: string, operation: 'send' | 'process', count: number): Attributes => ({
  'messaging.system': 'kafka',
  'messaging.destination.name': topic,
  'messaging.operation.type': operation,
  'messaging.operation.name': operation,
  'messaging.batch.message_count': count,
});

/** The trace a message is published in, captured when it is queued; see producerSpans. */
export type MessageTrace = Context;

/** The current context, if it is part of a trace (undefined otherwise: nothing to carry). */
export function captureTrace(): MessageTrace | undefined {
  const ctx = context.active();
  return hasTrace(ctx) ? ctx : undefined;
}

const spanKey = (ctx: Context) => {
  const sc = trace.getSpanContext(ctx)!;
  return `${sc.traceId}-${sc.spanId}`;
};

export interface ProducerSpans {
  /** The headers of each message (same order as given): its trace context, or undefined. */
  headers: Array<Record<string, string> | undefined>;
  /** Call when Kafka has answered the send (with its error, if any). */
  end(err?: unknown): void;
}

const UNTRACED_SEND: ProducerSpans = { headers: [], end: () => undefined };

/**
 * PRODUCER spans (`send <topic>`) for one Kafka send: one per caller trace among its messages
 * (`traces`, as captureTrace returned them when each was queued), a child of the caller's span —
 * a REST request's one ping, or the pings a gRPC stream had queued. Each message's headers carry
 * its span's context (W3C `traceparent`) to the consumer.
 */
export function producerSpans(topic: string, traces: ReadonlyArray<MessageTrace | undefined>): ProducerSpans {
  if (traces.every((t) => t === undefined)) return UNTRACED_SEND;
  const groups = new Map<string, { parent: Context; count: number; headers?: Record<string, string>; span?: Span }>();
  for (const parent of traces) {
    if (!parent) continue;
    const key = spanKey(parent);
    const group = groups.get(key);
    if (group) group.count++;
    else groups.set(key, { parent, count: 1 });
  }
  for (const group of groups.values()) {
    group.span = tracer().startSpan(`send ${topic}`, { kind: SpanKind.PRODUCER, attributes: messagingAttributes(topic, 'send', group.count) }, group.parent);
    group.headers = injected(trace.setSpan(group.parent, group.span));
  }
  return {
    headers: traces.map((t) => (t ? groups.get(spanKey(t))!.headers : undefined)),
    end(err) {
      for (const { span } of groups.values()) {
        if (err !== undefined) recordFailure(span!, err);
        span!.end();
      }
    },
  };
}

/** The CONSUMER spans of a batch's messages; see consumerSpans. */
export interface ConsumerSpans<M> {
  /** The contexts of the spans of these messages (one per trace among them). */
  contexts(messages: readonly M[]): Context[];
  /** Counts these messages on their spans under `attribute` (e.g. how many were dead-lettered). */
  count(messages: readonly M[], attribute: string): void;
  /** Ends every span; with `err`, as failed (the batch will be delivered again). */
  end(err?: unknown): void;
}

/**
 * CONSUMER spans (`process <topic>`) for a batch: one per trace context found in its messages'
 * headers (the producer's span), a child of it, so each ping's trace continues in the consumer
 * although a batch holds pings of many traces. Messages without a context get no span.
 */
export function consumerSpans<M extends { headers: Record<string, string>; partition: number }>(topic: string, messages: readonly M[]): ConsumerSpans<M> {
  const fields = propagation.fields();
  const groups = new Map<string, { span: Span; ctx: Context; count: number; counted: Map<string, number> }>();
  const groupOf = new Map<M, string>();
  if (fields.length > 0) {
    for (const message of messages) {
      const key = fields.map((f) => message.headers[f] ?? '').join('|');
      if (key.replaceAll('|', '') === '') continue;
      const group = groups.get(key);
      if (group) group.count++;
      else {
        const parent = propagation.extract(ROOT_CONTEXT, message.headers);
        if (!hasTrace(parent)) continue;
        const span = tracer().startSpan(
          `process ${topic}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: { ...messagingAttributes(topic, 'process', 0), 'messaging.destination.partition.id': String(message.partition) },
          },
          parent,
        );
        groups.set(key, { span, ctx: trace.setSpan(parent, span), count: 1, counted: new Map() });
      }
      groupOf.set(message, key);
    }
  }
  const groupsOf = (list: readonly M[]) => [...new Set(list.flatMap((m) => groupOf.get(m) ?? []))].map((key) => groups.get(key)!);
  return {
    contexts: (list) => groupsOf(list).map((g) => g.ctx),
    count(list, attribute) {
      for (const m of list) {
        const group = groups.get(groupOf.get(m) ?? '');
        group?.counted.set(attribute, (group.counted.get(attribute) ?? 0) + 1);
      }
    },
    end(err) {
      for (const { span, count, counted } of groups.values()) {
        span.setAttribute('messaging.batch.message_count', count);
        for (const [attribute, n] of counted) span.setAttribute(attribute, n);
        if (err !== undefined) recordFailure(span, err);
        span.end();
      }
    },
  };
}

// ------------------------------------------------------------------------------------- SQL

export interface SqlSpanSpec {
  /** INSERT, SELECT, … */
  operation: string;
  /** The main table, e.g. location. */
  table: string;
  /** Rows written or looked up in one statement, when it handles many. */
  batchSize?: number;
}

/**
 * Runs `statement` (one SQL statement, or one transaction around it) as a CLIENT span named
 * `<operation> <table>` in each of `parents` (default: the current context). One statement can
 * serve many traces: the writer's insert holds pings of many requests, and each of their traces
 * shows it. No query text or parameter values are recorded.
 */
export async function tracedQuery<T>(spec: SqlSpanSpec, statement: () => Promise<T>, parents: readonly Context[] = [context.active()]): Promise<T> {
  const within = parents.filter(hasTrace);
  if (within.length === 0) return statement();
  const name = `${spec.operation} ${spec.table}`;
  const attributes: Attributes = {
    [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
    [ATTR_DB_OPERATION_NAME]: spec.operation,
    [ATTR_DB_COLLECTION_NAME]: spec.table,
    [ATTR_DB_QUERY_SUMMARY]: name,
    ...(spec.batchSize !== undefined && spec.batchSize > 1 ? { [ATTR_DB_OPERATION_BATCH_SIZE]: spec.batchSize } : {}),
  };
  const spans = within.map((parent) => tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent));
  try {
    return await statement();
  } catch (err) {
    for (const span of spans) recordFailure(span, err);
    throw err;
  } finally {
    for (const span of spans) span.end();
  }
}
