/**
 * Live meetings: every ping of the locations topic, in memory (MeetingDetector's grid, in a worker
 * thread: detector-thread.ts), told to the open Watch streams of the two persons who met.
 *
 * Every replica reads every ping, with a consumer group of its own that never commits offsets
 * (nothing is left in Kafka when it goes). On each start it seeks the topic to `now − cooldown −
 * window − late` by timestamp and replays silently up to where the topic ended when it started,
 * rebuilding the grid and the cooldowns, so a restart does not tell a meeting again within its
 * cooldown; only meetings whose ping reached Kafka at most REPLAY_NOTIFY_GRACE_MS before the start
 * are told. Kafka and the database are connected in the background (docs/decisions.md, "Start
 * without dependencies"): until then Watch answers UNAVAILABLE and FindConnections is unaffected.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  backoffDelay,
  connectInBackground,
  createKafkaBus,
  labelledCounter,
  type BackgroundConnection,
  type BusConsumer,
  type Knex,
  type Logger,
  type MessageBatch,
} from '@udaconnect/common';
import { checkPing, decodePing, PartitionWatermark, type MeetingRules } from '@udaconnect/domain';
import type { Meeting } from '@udaconnect/proto';
import { DetectorThread, type FoundMeeting, type ObservedPing } from './detector-thread';
import { MeetingDirectory, type MeetingPerson } from './meeting-directory';
import { WatcherRegistry } from './meeting-watchers';

/** Meetings whose ping reached Kafka this long before the consumer connected are still told (to streams already open). */
const REPLAY_NOTIFY_GRACE_MS = 5_000;
/**
 * Pings per slice sent to the detector thread: a few milliseconds of its work, so that the meetings of
 * the first slices of a large batch come back and are written while it works on the rest.
 */
const SLICE_PINGS = 200;
/** Upper bounds (s) of both delay histograms: found in the grid, written to the stream. */
const DELAY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10];
/** A detector thread that ran this long (ms) before failing starts again at once; failures in a row back off. */
const DETECTOR_HEALTHY_MS = 60_000;
/** How often open streams are checked for expired or revoked tokens. */
const TOKEN_SWEEP_MS = 5_000;

export interface MeetingFeedOptions {
  brokers: string[];
  topic: string;
  rules: MeetingRules;
  /** How late (ms, after newer pings were read) a ping may arrive and still be compared (MEETING_LATE_SECONDS). */
  lateMs: number;
  refreshMs: number;
  knex: Knex;
  logger: Logger;
  registry: Registry;
  /** The token verification's revocation list: erased persons' pings are ignored, revoked streams ended. */
  revocations: { isPersonErased(personId: number): boolean; isRevoked(tokenId: string): boolean };
}

/** `connecting`: Kafka or the database not reached yet; `replaying`: reading what the topic held at start; `live`. */
export type MeetingFeedState = 'connecting' | 'replaying' | 'live';

export class MeetingFeed {
  readonly watchers: WatcherRegistry;
  readonly directory: MeetingDirectory;
  private detector: DetectorThread;
  /** The grid's clock: the oldest of the partitions' newest times (a partition read behind is not late). */
  private watermark = new PartitionWatermark();
  private readonly bus: ReturnType<typeof createKafkaBus>;
  private readonly log: Logger;
  private connection: BackgroundConnection<BusConsumer> | undefined;
  /** Counts connect() and disconnect() calls: a consumer's crash matters only while it is the last one made. */
  private generation = 0;
  private detectorFailures = 0;
  private lastDetectorFailure = -Infinity;
  private detectorRestart: NodeJS.Timeout | undefined;
  private current: MeetingFeedState = 'connecting';
  private stopped = false;
  /** Meetings of pings that reached Kafka before this (ms) are not told. */
  private notifyFrom = Infinity;
  /** Partitions still to replay: partition → the end offset when the consumer connected. */
  private replayUntil = new Map<number, bigint>();
  private replay = { pings: 0, meetings: 0, started: 0 };
  private readonly metrics: ReturnType<typeof feedMetrics>;

  constructor(private readonly o: MeetingFeedOptions) {
    this.log = o.logger.child({ component: 'meetings' });
    this.metrics = feedMetrics(o.registry);
    this.detector = this.startDetector();
    this.directory = new MeetingDirectory(o.knex, this.log, o.refreshMs, (places) => this.detector.setPlaces(places));
    this.bus = createKafkaBus({ brokers: o.brokers, clientId: 'connection-service-meetings', logger: o.logger });
    this.watchers = new WatcherRegistry(this.log, {
      sent: (_meeting, origin) => {
        this.metrics.sent.inc();
        this.metrics.delay.observe(Math.max(0, Date.now() - origin) / 1000);
      },
      dropped: () => this.metrics.dropped.inc({ reason: 'slow_stream' }),
      count: (open) => this.metrics.watchers.set(open),
    });
  }

  get state(): MeetingFeedState {
    return this.current;
  }

  /** False once shutting down: no new streams. */
  get accepting(): boolean {
    return !this.stopped;
  }

  /** Connects in the background (and again after the consumer gave up for good); returns at once. */
  start(): void {
    this.watchers.startSweeping((tokenId) => this.o.revocations.isRevoked(tokenId), TOKEN_SWEEP_MS);
    this.directory.start();
    this.connect();
  }

  private connect(): void {
    this.generation++;
    this.current = 'connecting';
    this.metrics.live.set(0);
    this.connection = connectInBackground<BusConsumer>({
      what: 'live meetings (places from the database, pings from Kafka)',
      logger: this.log,
      whileDown: 'Meetings/Watch answers UNAVAILABLE until it is',
      connect: () => this.join(),
      discard: (consumer) => consumer.close(),
    });
  }

  /** One attempt: places first (a replay without them would remember meetings at no place), then the topic from the replay point. */
  private async join(): Promise<BusConsumer> {
    await this.directory.refresh();
    const started = Date.now();
    const from = started - this.o.rules.cooldownMs - this.o.rules.windowMs - this.o.lateMs;
    const [startOffsets, endOffsets] = await Promise.all([this.bus.offsetsAt(this.o.topic, from), this.bus.endOffsets(this.o.topic)]);
    const groupId = `connection-service-meetings-${hostname().replace(/[^a-zA-Z0-9._-]/g, '-')}-${randomBytes(4).toString('hex')}`;
    const consumer = this.bus.consumer({ groupId, commitOffsets: false });
    const generation = this.generation;
    consumer.onCrash((err) => {
      // A consumer already replaced (the detector failed meanwhile) is only closed.
      if (generation === this.generation) this.restart(err, 'the Kafka consumer for live meetings gave up; connecting again');
      else void consumer.close().catch(() => undefined);
    });
    const start = new Map(startOffsets.map((s) => [s.partition, BigInt(s.offset)]));
    this.replayUntil = new Map(endOffsets.filter((e) => BigInt(e.offset) > (start.get(e.partition) ?? 0n)).map((e) => [e.partition, BigInt(e.offset)]));
    this.notifyFrom = started - REPLAY_NOTIFY_GRACE_MS;
    this.replay = { pings: 0, meetings: 0, started };
    this.watermark = new PartitionWatermark();
    for (const s of startOffsets) this.watermark.expect(s.partition, started);
    try {
      await consumer.run([this.o.topic], (batch) => this.handle(batch), {
        fromBeginning: false,
        startOffsets: startOffsets.map((s) => ({ topic: this.o.topic, ...s })),
      });
    } catch (err) {
      await consumer.close().catch(() => undefined);
      throw err;
    }
    this.current = 'replaying';
    this.log.info({ groupId, from: new Date(from).toISOString(), partitions: this.replayUntil.size }, 'replaying the pings of the last cooldown');
    this.caughtUp();
    return consumer;
  }

  /**
   * A detector thread. When it dies: the consumer is closed at once (Watch answers UNAVAILABLE),
   * and after a backoff (failures in a row wait longer) a new thread gets the places last read and
   * a new consumer replays the last cooldown into its grid.
   */
  private startDetector(): DetectorThread {
    return new DetectorThread({ rules: this.o.rules, lateMs: this.o.lateMs }, (err) => {
      if (this.stopped) return;
      const now = Date.now();
      this.detectorFailures = now - this.lastDetectorFailure > DETECTOR_HEALTHY_MS ? 1 : this.detectorFailures + 1;
      this.lastDetectorFailure = now;
      const waitMs = backoffDelay(this.detectorFailures - 1, 200, 10_000);
      this.metrics.detectorRestarts.inc();
      this.log.error({ err, waitMs }, 'the meeting detector thread failed; starting it again, then replaying the topic');
      void this.disconnect();
      this.detectorRestart = setTimeout(() => {
        this.detectorRestart = undefined;
        if (this.stopped) return;
        this.detector = this.startDetector();
        this.detector.setPlaces(this.directory.places);
        this.connect();
      }, waitMs);
    });
  }

  /** Stops connecting and closes the consumer (resolves when it is closed); no meetings until connect(). */
  private disconnect(): Promise<void> {
    const consumer = this.connection?.current();
    this.connection?.stop();
    this.connection = undefined;
    this.generation++;
    this.current = 'connecting';
    this.metrics.live.set(0);
    return consumer ? consumer.close().catch(() => undefined) : Promise.resolve();
  }

  /** Closes the consumer and connects again (a new consumer replays the last cooldown). */
  private restart(err: Error, message: string): void {
    this.log.error({ err }, message);
    void this.disconnect();
    if (!this.stopped) this.connect();
  }

  /**
   * Sends a batch to the detector in slices of SLICE_PINGS, without waiting for the answers (the
   * thread works through them in order while this one writes the meetings of the slices answered);
   * the event loop gets a turn after each, and the batch is done when every slice is answered.
   */
  private async handle(batch: MessageBatch): Promise<void> {
    const answered: Array<Promise<void>> = [];
    for (let from = 0; from < batch.messages.length; from += SLICE_PINGS) {
      const slice = this.read(batch, batch.messages.slice(from, from + SLICE_PINGS));
      if (slice.pings.length > 0) answered.push(this.detector.observe(slice.pings).then((answer) => this.found(slice.origins, answer.found, answer.gridSize)));
      await setImmediate();
    }
    await Promise.all(answered);
    const last = batch.messages[batch.messages.length - 1];
    const until = this.replayUntil.get(batch.partition);
    if (last && until !== undefined && BigInt(last.offset) + 1n >= until) {
      this.replayUntil.delete(batch.partition);
      this.caughtUp();
    }
  }

  /** The messages' pings to put in the grid, each with its Kafka timestamp (`origins`, ms). */
  private read(batch: MessageBatch, messages: MessageBatch['messages']): { pings: ObservedPing[]; origins: number[] } {
    const pings: ObservedPing[] = [];
    const origins: number[] = [];
    for (const m of messages) {
      const received = Number(m.timestamp);
      let ping;
      try {
        ping = decodePing(m.value);
      } catch {
        this.metrics.skipped.inc({ reason: 'undecodable' });
        continue;
      }
      if (checkPing(ping)) {
        this.metrics.skipped.inc({ reason: 'invalid' });
        continue;
      }
      if (this.isErased(ping.personId)) {
        this.metrics.skipped.inc({ reason: 'erased' });
        continue;
      }
      const at = ping.recordedAt!.getTime();
      const clock = this.watermark.observe(batch.partition, Math.min(received, at), Date.now());
      pings.push({ personId: ping.personId, latitude: ping.latitude!, longitude: ping.longitude!, at, eventId: ping.eventId, clock });
      origins.push(received);
    }
    if (this.current === 'replaying') this.replay.pings += pings.length;
    return { pings, origins };
  }

  /** The detector's answer for one slice: counted, and told when its ping reached Kafka after notifyFrom. */
  private found(origins: number[], found: FoundMeeting[], gridSize: number): void {
    this.metrics.gridPings.set(gridSize);
    if (found.length === 0) return;
    this.metrics.detected.inc(found.length);
    if (this.current === 'replaying') this.replay.meetings += found.length;
    const now = Date.now();
    const told: Array<{ meeting: FoundMeeting; origin: number }> = [];
    for (const meeting of found) {
      const origin = origins[meeting.ping]!;
      if (origin < this.notifyFrom) continue;
      told.push({ meeting, origin });
      this.metrics.detectionDelay.observe(Math.max(0, now - origin) / 1000);
    }
    if (told.length > 0) void this.announce(told);
  }

  private caughtUp(): void {
    if (this.current !== 'replaying' || this.replayUntil.size > 0) return;
    this.current = 'live';
    this.metrics.live.set(1);
    this.log.info(
      { pings: this.replay.pings, meetings: this.replay.meetings, ms: Date.now() - this.replay.started },
      'live meetings: replay done, telling meetings as they happen',
    );
  }

  private isErased(personId: number): boolean {
    try {
      return this.o.revocations.isPersonErased(personId);
    } catch {
      return false; // not loaded yet: the persons met are checked against their rows before being announced
    }
  }

  /** Tells each of the two persons who has a stream open about the other, if the other may be announced. */
  private async announce(told: Array<{ meeting: FoundMeeting; origin: number }>): Promise<void> {
    const tells = told.flatMap(({ meeting, origin }) =>
      [
        { watcher: meeting.a, other: meeting.b },
        { watcher: meeting.b, other: meeting.a },
      ]
        .filter((d) => this.watchers.has(d.watcher))
        .map((d) => ({ ...d, meeting, origin })),
    );
    if (tells.length === 0) return;
    let persons: Map<number, MeetingPerson | undefined>;
    try {
      persons = await this.directory.persons(tells.map((t) => t.other));
    } catch (err) {
      this.metrics.dropped.inc({ reason: 'database_unavailable' }, tells.length);
      this.log.warn({ err: (err as Error).message, meetings: tells.length }, 'could not look up the persons met; these meetings are not told');
      return;
    }
    for (const { watcher, other, meeting, origin } of tells) {
      const person = persons.get(other);
      if (!this.directory.announceable(person) || this.isErased(other)) continue;
      this.watchers.send(watcher, toMessage(meeting, person), origin);
    }
  }

  /** Stops taking streams: ends every open one with OK (its client calls again, on another replica). */
  closeStreams(): void {
    this.stopped = true;
    this.watchers.closeAll();
  }

  /** closeStreams(), then stops consuming and closes the Kafka client. */
  async stop(): Promise<void> {
    this.closeStreams();
    clearTimeout(this.detectorRestart);
    this.directory.stop();
    await this.disconnect();
    await this.bus.close();
    await this.detector.close();
  }
}

function toMessage(m: FoundMeeting, other: MeetingPerson): Meeting {
  return {
    otherPersonId: other.id,
    at: new Date(m.at),
    placeId: m.place?.id,
    distanceMeters: m.distanceMeters,
    latitude: m.latitude,
    longitude: m.longitude,
    eventId: m.place?.eventId,
    placeName: m.place?.name ?? '',
    otherFirstName: other.firstName,
    otherLastName: other.lastName,
  };
}

function feedMetrics(registry: Registry) {
  const registers = [registry];
  return {
    detected: new Counter({
      name: 'udaconnect_meetings_detected_total',
      help: 'Meetings detected (each pair and place once per cooldown), replayed ones included, whether or not anyone was watching.',
      registers,
    }),
    sent: new Counter({ name: 'udaconnect_meeting_notifications_sent_total', help: 'Meeting messages written to Watch streams.', registers }),
    dropped: labelledCounter(registry, 'udaconnect_meeting_notifications_dropped_total', 'Meeting messages not sent, by reason.', ['reason']),
    skipped: labelledCounter(registry, 'udaconnect_meeting_pings_skipped_total', 'Messages of the locations topic left out of the meeting grid, by reason.', [
      'reason',
    ]),
    watchers: new Gauge({ name: 'udaconnect_meeting_watchers', help: 'Meetings/Watch streams open.', registers }),
    detectorRestarts: new Counter({
      name: 'udaconnect_meeting_detector_restarts_total',
      help: 'Times the meeting detector thread failed and was started again (the topic is then replayed into it).',
      registers,
    }),
    gridPings: new Gauge({ name: 'udaconnect_meeting_grid_pings', help: 'Recent pings held in the meeting grid.', registers }),
    live: new Gauge({
      name: 'udaconnect_meetings_live',
      help: '1 once the replay of the last cooldown is done and meetings are told as they happen.',
      registers,
    }),
    detectionDelay: new Histogram({
      name: 'udaconnect_meeting_detection_delay_seconds',
      help: 'From the Kafka timestamp of the ping that completed a meeting to the meeting found in the grid (how far behind the topic the grid is).',
      buckets: DELAY_BUCKETS,
      registers,
    }),
    delay: new Histogram({
      name: 'udaconnect_meeting_notification_delay_seconds',
      help: 'From the Kafka timestamp of the ping that completed a meeting to its message written to a Watch stream.',
      buckets: DELAY_BUCKETS,
      registers,
    }),
  };
}
