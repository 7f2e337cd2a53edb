/**
 * Ping quotas per token (docs/contract.md §7, "Ingest quotas"), one set for attendee tokens and one
 * for organizer and service tokens. The rate is rate-limiter-flexible's BurstyRateLimiter: a fixed
 * one-second window of `perSecond` pings and, once that is used up, a reserve of `burst` pings in a
 * window of burst / perSecond seconds. So a device can upload a backlog of up to `burst` pings at
 * once, and sends at most twice `perSecond` on average over a long time. Keys are token ids (an
 * attendee token's is its device id, so a renewed token keeps the device's quota); RateLimiterMemory
 * drops a key when its window ends, so the state held is that of the tokens seen in the last window.
 */
import type { Principal } from '@udaconnect/common';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { IngestConfig } from './config';

interface QuotaLimits {
  /** 0 = no rate limit. */
  perSecond: number;
  /** 0 = none beyond the rate. */
  burst: number;
  /** 0 = no limit. */
  maxPerStream: number;
}

/** Why a ping was refused for quota, with the trailing metadata of the RESOURCE_EXHAUSTED answer. */
export interface QuotaRefusal {
  quota: 'pings_per_second' | 'pings_per_stream';
  /** When the token may send again: the rate's next window, or 0 (re-send at once, in shorter streams). */
  retryAfterMs: number;
  /** The limit in words, for the status details. */
  limit: string;
}

export interface IngestQuotas {
  /** Takes `count` pings (default 1) from the token's rate, all or none; the refusal when they are not left. */
  take(principal: Principal, count?: number): Promise<QuotaRefusal | undefined>;
  /** The refusal of a stream's message `index` (zero-based) when it is beyond the token's maximum per stream. */
  streamLimit(principal: Principal, index: number): QuotaRefusal | undefined;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function tier({ perSecond, burst, maxPerStream }: QuotaLimits) {
  let limiter: RateLimiterMemory | BurstyRateLimiter | undefined;
  if (perSecond > 0) {
    const rate = new RateLimiterMemory({ points: perSecond, duration: 1 });
    limiter = burst > 0 ? new BurstyRateLimiter(rate, new RateLimiterMemory({ points: burst, duration: Math.ceil(burst / perSecond) })) : rate;
  }
  return {
    limiter,
    /** The most pings one take can ever get (a full window and the whole reserve). */
    capacity: perSecond + burst,
    maxPerStream: maxPerStream > 0 ? maxPerStream : Infinity,
    rateText: `${fmt(perSecond)} pings per second${burst > 0 ? ` and a reserve of ${fmt(burst)}` : ''}, per token`,
    streamText: `${fmt(maxPerStream)} pings per stream`,
  };
}

function createIngestQuotas(limits: { attendee: QuotaLimits; organizer: QuotaLimits }): IngestQuotas {
  const attendee = tier(limits.attendee);
  const organizer = tier(limits.organizer);
  const of = (principal: Principal) => (principal.role === 'attendee' ? attendee : organizer);
  return {
    async take(principal, count = 1) {
      const t = of(principal);
      if (!t.limiter) return undefined;
      // More than the rate can ever give at once: waiting would not help, a smaller batch would.
      if (count > t.capacity) return { quota: 'pings_per_second', retryAfterMs: 0, limit: `${t.rateText}; at most ${fmt(t.capacity)} at once` };
      try {
        await t.limiter.consume(principal.tokenId, count);
        return undefined;
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        return { quota: 'pings_per_second', retryAfterMs: Math.max(0, Math.ceil(err.msBeforeNext)), limit: t.rateText };
      }
    },
    streamLimit(principal, index) {
      const t = of(principal);
      return index < t.maxPerStream ? undefined : { quota: 'pings_per_stream', retryAfterMs: 0, limit: t.streamText };
    },
  };
}

/** The quotas of location-ingest's configuration. */
export function ingestQuotas(config: IngestConfig): IngestQuotas {
  return createIngestQuotas({
    attendee: { perSecond: config.INGEST_PINGS_PER_SECOND, burst: config.INGEST_PING_BURST, maxPerStream: config.INGEST_MAX_PINGS_PER_STREAM },
    organizer: {
      perSecond: config.INGEST_ORGANIZER_PINGS_PER_SECOND,
      burst: config.INGEST_ORGANIZER_PING_BURST,
      maxPerStream: config.INGEST_ORGANIZER_MAX_PINGS_PER_STREAM,
    },
  });
}
