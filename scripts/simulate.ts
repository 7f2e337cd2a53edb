/**
 * `npm run simulate -- --persons 200 --rate 2000 --duration 60`
 *
 * Conference attendees walking through a venue, their phones streaming location pings to
 * location-ingest over gRPC. The persons come from person-api (missing ones are created).
 * Ctrl-C stops sending early; the pings already sent are still awaited and summarised.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { organizerTokens } from '@udaconnect/common';
import { DEFAULT_AUTH_DIR } from './auth-keys';
import { z } from 'zod';
import { ensurePersons, PersonApiUnreachableError } from './simulator/persons';
import { IngestUnreachableError, MAX_BATCH, runSimulation, SEND_METHODS, type Progress, type SimulationStats } from './simulator/simulator';
import { resolveTransport, trustForFetch, TransportError } from './simulator/transport';

const USAGE = `usage: npm run simulate -- [options]

  --persons N     simulated attendees (persons; missing ones are created)   default 200
  --rate N        pings per second, all devices together                     default 2000
  --duration S    seconds to run                                             default 60
  --target H:P    location-ingest gRPC address                               default localhost:30002
  --api URL       person-api base URL                                        default http://localhost:30001
                  (https://localhost:30001 with --tls)
  --token T       organizer token (npm run --silent token -- --role organizer)
                  default $UDACONNECT_TOKEN, else one made with the local stack's key
  --tls           TLS to location-ingest and person-api (npm start -- --tls)
  --ca FILE       CA certificate to trust, PEM (implies --tls)               default .udaconnect/tls/ca.crt
  --method M      batch: RecordBatch, one message of up to --batch pings     default batch
                  per call; a slot sends its next batch once the last one
                  is answered (one not full after a second is sent as is)
                  stream: RecordStream, --batch pings written per call
  --streams N     send slots = calls in flight at once, one connection each  default 4
  --batch N       pings per call (at most 5,000 with --method batch)         default 500
  --seed N        seed of the venue model (same seed, same walks)            default 1
  --help`;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const argsSchema = z.strictObject({
  persons: int(1, 10_000).default(200),
  rate: z.coerce.number().positive().max(1_000_000).default(2000),
  duration: z.coerce
    .number()
    .positive()
    .max(7 * 24 * 3600)
    .default(60),
  target: z
    .string()
    .regex(/^[^\s:/]+:\d+$/, 'must be host:port')
    .default('localhost:30002'),
  api: z.url({ protocol: /^https?$/ }).optional(),
  token: z.string().min(20, 'must be a token (npm run --silent token -- --role organizer)').optional(),
  tls: z.boolean().default(false),
  ca: z.string().min(1).optional(),
  method: z.enum(SEND_METHODS).default('batch'),
  streams: int(1, 64).default(4),
  // RecordBatch takes at most MAX_BATCH pings: checked below, once the method is known.
  batch: int(1, 100_000).default(500),
  seed: int(0, 2 ** 32 - 1).default(1),
});

function parseCommandLine() {
  const { values } = parseArgs({
    options: {
      persons: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      target: { type: 'string' },
      api: { type: 'string' },
      token: { type: 'string' },
      tls: { type: 'boolean' },
      ca: { type: 'string' },
      method: { type: 'string' },
      streams: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const { help: _help, ...rest } = values;
  const parsed = argsSchema.safeParse(rest);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) console.error(`simulate: --${issue.path.join('.')}: ${issue.message}`);
    console.error(USAGE);
    process.exit(2);
  }
  if (parsed.data.method === 'batch' && parsed.data.batch > MAX_BATCH) {
    console.error(`simulate: --batch: at most ${MAX_BATCH.toLocaleString('en-US')} pings per RecordBatch call (--method stream takes more)`);
    console.error(USAGE);
    process.exit(2);
  }
  return parsed.data;
}

/**
 * --token, else $UDACONNECT_TOKEN, else an hour-long organizer token signed with the local
 * stack's key (.udaconnect/auth, made by npm start), as `npm run token` would print.
 */
async function organizerToken(given: string | undefined): Promise<string> {
  const token = given ?? process.env.UDACONNECT_TOKEN;
  if (token) return token;
  const keyFile = process.env.AUTH_SIGNING_KEY_FILE ?? join(DEFAULT_AUTH_DIR, 'signing-key.json');
  if (!existsSync(keyFile)) {
    console.error('simulate: no token: pass --token (npm run --silent token -- --role organizer) or set UDACONNECT_TOKEN');
    process.exit(2);
  }
  return (await (await organizerTokens(keyFile))('simulator', 3600)).token;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function progressLine(p: Progress): string {
  return (
    `${(p.elapsedMs / 1000).toFixed(0).padStart(4)} s  sent ${fmt(p.sent)}  acked ${fmt(p.acked)}  rejected ${fmt(p.rejected)}` +
    `${p.failed ? `  failed ${fmt(p.failed)}` : ''}  rate ${fmt(p.sendRate)}/s (acked ${fmt(p.ackRate)}/s)`
  );
}

function summary(s: SimulationStats, persons: number, target: string): string {
  const lines = [
    `sent ${fmt(s.sent)} pings of ${persons} persons to ${target} in ${(s.sendingMs / 1000).toFixed(1)} s`,
    `acknowledged ${fmt(s.acked)} (${fmt(s.achievedRate)}/s)   rejected ${fmt(s.rejected)}   failed ${fmt(s.failed)}`,
  ];
  for (const r of s.rejections) lines.push(`  rejected ${r.eventId || '(no event id)'}: ${r.reason}`);
  for (const e of s.errors) lines.push(`  error: ${e}`);
  return lines.join('\n');
}

async function main() {
  const parsed = parseCommandLine();
  let transport: ReturnType<typeof resolveTransport>;
  try {
    transport = resolveTransport(parsed);
  } catch (err) {
    if (!(err instanceof TransportError)) throw err;
    console.error(`simulate: ${err.message}`);
    process.exit(2);
  }
  if (transport.ca) trustForFetch(transport.ca);
  const args = { ...parsed, api: transport.api, token: await organizerToken(parsed.token) };
  const tty = process.stdout.isTTY === true;

  let personIds: number[];
  try {
    personIds = await ensurePersons(args.api, args.persons, {
      token: args.token,
      onCreated: (done, missing) => {
        if (tty) process.stdout.write(`\rcreating persons ${done}/${missing}`);
        else if (done === missing) console.log(`created ${missing} persons`);
      },
    });
  } catch (err) {
    console.error(`simulate: ${(err as Error).message}`);
    process.exit(1);
  }
  if (tty) process.stdout.write('\r\x1b[K');
  console.log(
    `simulating ${personIds.length} persons (ids ${personIds[0]}…${personIds[personIds.length - 1]}) at ${fmt(args.rate)} pings/s for ${args.duration} s → ${args.target}`,
  );

  const abort = new AbortController();
  process.once('SIGINT', () => {
    abort.abort();
    process.once('SIGINT', () => process.exit(130));
  });

  let stats: SimulationStats;
  try {
    stats = await runSimulation(
      {
        target: args.target,
        credentials: transport.credentials,
        token: args.token,
        personIds,
        rate: args.rate,
        durationMs: args.duration * 1000,
        method: args.method,
        streams: args.streams,
        batch: args.batch,
        seed: args.seed,
        signal: abort.signal,
      },
      (p) => {
        if (tty) process.stdout.write(`\r\x1b[K${progressLine(p)}`);
        else console.log(progressLine(p));
      },
    );
  } catch (err) {
    if (tty) process.stdout.write('\n');
    console.error(`simulate: ${err instanceof IngestUnreachableError || err instanceof PersonApiUnreachableError ? err.message : (err as Error).stack}`);
    process.exit(1);
  }
  if (tty) process.stdout.write('\n');
  console.log(summary(stats, personIds.length, args.target));
  // Pings lost in transit mean the run did not do what was asked.
  process.exit(stats.failed > 0 ? 1 : 0);
}

void main();
