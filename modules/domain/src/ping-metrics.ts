/**
 * Metrics of the ping path, the same for both transports (gRPC in location-ingest, REST in
 * person-api): what happened to each ping, and each Kafka send's size and latency.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { PingProblem } from './pings';

/** accepted, a refusal of the ping itself (PingProblem kind), a dependency that could not be asked, or the caller's quota used up. */
export type PingOutcome = 'accepted' | PingProblem['kind'] | 'person_check_unavailable' | 'kafka_unavailable' | 'rate_limited';

export interface PingMetrics {
  count: (outcome: PingOutcome) => void;
  /** PingPublisher's onSent. */
  sent: (size: number, seconds: number, ok: boolean) => void;
}

export function pingMetrics(registry: Registry, transport: 'grpc' | 'rest'): PingMetrics {
  const registers = [registry];
  const pings = new Counter({
    name: 'udaconnect_pings_total',
    help: 'Pings received, by transport and outcome (accepted, or why not).',
    labelNames: ['transport', 'outcome'] as const,
    registers,
  });
  const sendSeconds = new Histogram({
    name: 'kafka_produce_duration_seconds',
    help: 'Time from a batch of pings handed to Kafka to its acknowledgement (acks=all), by result.',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const sendSize = new Histogram({
    name: 'kafka_produce_batch_size',
    help: 'Pings per Kafka send.',
    buckets: [1, 5, 10, 50, 100, 250, 500, 1000],
    registers,
  });
  return {
    count: (outcome) => pings.inc({ transport, outcome }),
    sent: (size, seconds, ok) => {
      sendSeconds.observe({ result: ok ? 'ok' : 'error' }, seconds);
      sendSize.observe(size);
    },
  };
}
