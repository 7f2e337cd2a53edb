/**
 * Live meetings through the real transports: pings recorded through a real location-ingest (gRPC →
 * the real Kafka topic), connection-service reading the topic and streaming Meetings/Watch over real
 * gRPC. Three persons and two booths, plus a person who is not discoverable and an erased one; a
 * 2-minute cooldown, exercised through the pings' recorded times (no waiting). The service also
 * serves Meetings alone on the devices' port (MEETINGS_PORT) over TLS, as it does on K3s.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createKafkaBus, createLogger, parseConfig, type BusProducer } from '@udaconnect/common';
import { PingPublisher } from '@udaconnect/domain';
import { ConnectionServiceClient, LocationIngestClient, MeetingsClient, type LocationPing, type Meeting } from '@udaconnect/proto';
import { ingestConfigSchema } from '../../location-ingest/src/config';
import { startIngest } from '../../location-ingest/src/ingest-service';
import { eventually } from '../../../test/support/eventually';
import { healthStatus, reflectedServices } from '../../../test/support/grpc-probes';
import { metricsText } from '../../../test/support/metrics-text';
import { infraEnv, runId, serviceDatabaseUrl } from '../../../test/support/test-env';
import { makeCerts, tempDir, type CertSet } from '../../../test/tls/certs';
import { CONNECTION_SERVICE_NAME, MEETINGS_SERVICE_NAME } from '../src/connection-service';
import type { DetectorThread, ObservedPing } from '../src/detector-thread';
import { startHarness, type Harness } from './harness';

const logger = createLogger('meetings-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const SEC = 1_000;
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const north = (m: number) => m / M_PER_DEG;
const east = (m: number, latitude: number) => m / (M_PER_DEG * Math.cos((latitude * Math.PI) / 180));

/** A hall with two booths, 6 m squares 20 m either side of its centre. */
const hall = { latitude: 52.52, longitude: 13.405 };
const booth1 = { latitude: hall.latitude, longitude: hall.longitude + east(20, hall.latitude) };
const booth2 = { latitude: hall.latitude, longitude: hall.longitude - east(20, hall.latitude) };
const square = (c: { latitude: number; longitude: number }, half: number) => {
  const dy = north(half);
  const dx = east(half, c.latitude);
  const ring = [
    [c.longitude - dx, c.latitude - dy],
    [c.longitude + dx, c.latitude - dy],
    [c.longitude + dx, c.latitude + dy],
    [c.longitude - dx, c.latitude + dy],
    [c.longitude - dx, c.latitude - dy],
  ];
  return JSON.stringify({ type: 'Polygon', coordinates: [ring] });
};

let h: Harness;
let ingest: Awaited<ReturnType<typeof startIngest>>;
let ingestClient: LocationIngestClient;
let producer: BusProducer;
let bus: ReturnType<typeof createKafkaBus>;
let topic: string;
const ids = { ada: 0, grace: 0, alan: 0, hidden: 0, erased: 0, booth1: 0, booth2: 0, event: 0 };
/** Recorded times are B + s seconds: B is a minute before the test starts, the last pings up to 85 s after it. */
const B = Date.now() - 60 * SEC;
/** Per meeting: ingest's acknowledgement of the completing ping → the Watch message, and the Record call sent → the message (an upper bound). */
const delays: Array<{ what: string; ms: number; fromSendMs: number }> = [];
const streams: Array<{ close(): void }> = [];
/** The devices' port's certificate (and the CA a device trusts). */
const tlsDir = tempDir('meetings-tls');
let certs: CertSet;

beforeAll(async () => {
  const brokers = infraEnv().kafkaBrokers;
  topic = `test.${runId()}.meetings.${process.pid}.locations`;
  certs = makeCerts(join(tlsDir.path, 'devices'));
  h = await startHarness('meetings', {
    env: {
      KAFKA_BROKERS: brokers,
      LOCATIONS_TOPIC: topic,
      MEETING_COOLDOWN_MINUTES: '2',
      MEETING_REFRESH_MS: '200',
      MEETINGS_PORT: '0',
      TLS_CERT_FILE: certs.certFile,
      TLS_KEY_FILE: certs.keyFile,
    },
  });
  const person = async (first: string, last: string, discoverable = true) =>
    (await h.knex('person').insert({ first_name: first, last_name: last, company_name: 'Test', discoverable }).returning('id'))[0].id as number;
  ids.ada = await person('Ada', 'Lovelace');
  ids.grace = await person('Grace', 'Hopper');
  ids.alan = await person('Alan', 'Turing');
  ids.hidden = await person('Hidden', 'Person', false);
  ids.erased = await person('Erased', 'Person');
  await h.knex('person').where({ id: ids.erased }).delete();
  await h.knex('erased_person').insert({ person_id: ids.erased });
  ids.event = (
    await h
      .knex('event')
      .insert({ name: 'Meetup', starts_at: new Date(B - 3_600_000), ends_at: new Date(B + 8 * 3_600_000) })
      .returning('id')
  )[0].id as number;
  const place = async (name: string, area: string) =>
    (
      await h
        .knex('place')
        .insert({ event_id: ids.event, name, kind: 'booth', area: h.knex.raw('ST_GeomFromGeoJSON(?)::geography', [area]) })
        .returning('id')
    )[0].id as number;
  ids.booth1 = await place('Booth 1', square(booth1, 3));
  ids.booth2 = await place('Booth 2', square(booth2, 3));

  // The real ingest on a private topic (it creates the topic); pings of the erased person go
  // straight to Kafka with the publisher ingest uses (ingest itself refuses them).
  ingest = await startIngest(
    parseConfig(ingestConfigSchema, {
      DATABASE_URL: serviceDatabaseUrl('location-ingest', h.testDb.url),
      KAFKA_BROKERS: brokers,
      LOCATIONS_TOPIC: topic,
      LOCATIONS_PARTITIONS: '3',
      PORT: '0',
      METRICS_PORT: '0',
      ...h.auth.env,
    }),
    logger,
  );
  await ingest.untilReady();
  ingestClient = new LocationIngestClient(`127.0.0.1:${ingest.port}`, grpc.credentials.createInsecure(), h.auth.grpcOptions());
  bus = createKafkaBus({ brokers: brokers.split(','), clientId: 'meetings-test', logger });
  producer = await bus.producer();
  await eventually(() => expect(h.service.meetings?.state).toBe('live'), 60_000);
}, 120_000);

afterAll(async () => {
  for (const s of streams) s.close();
  ingestClient?.close();
  await producer?.close();
  await bus?.close();
  await ingest?.stop();
  await h?.close();
  tlsDir.remove();
  if (delays.length) {
    console.info(
      `meeting delays (ms), ingest ack → Watch message / Record sent → message: ${delays.map((d) => `${d.what} ${d.ms}/${d.fromSendMs}`).join(', ')}`,
    );
  }
});

/** Records a ping through location-ingest; resolves at its acknowledgement (Kafka has it), with when it was sent and acknowledged. */
function record(personId: number, where: { latitude: number; longitude: number }, s: number, metersNorth = 0): Promise<{ sentAt: number; ackedAt: number }> {
  const ping: LocationPing = {
    personId,
    latitude: where.latitude + north(metersNorth),
    longitude: where.longitude,
    recordedAt: new Date(B + s * SEC),
    eventId: '',
  };
  const sentAt = Date.now();
  return new Promise((resolve, reject) => ingestClient.record(ping, (err) => (err ? reject(err) : resolve({ sentAt, ackedAt: Date.now() }))));
}

interface Stream {
  got: Array<{ meeting: Meeting; receivedAt: number }>;
  /** Resolves once the server has registered the stream (its headers arrived). */
  opened: Promise<void>;
  /** The call's end: its status code. */
  ended: Promise<grpc.status>;
  close(): void;
}

/** A Watch call on person-api's port (plaintext), or with `devices` on the devices' port over TLS. */
function watch(token: string | undefined, personId?: number, devices = false): Stream {
  const client = devices
    ? new MeetingsClient(`localhost:${h.service.meetingsPort}`, grpc.credentials.createSsl(certs.ca), token ? h.auth.grpcOptions(token) : {})
    : new MeetingsClient(`127.0.0.1:${h.service.port}`, grpc.credentials.createInsecure(), token ? h.auth.grpcOptions(token) : {});
  const call = client.watch(personId === undefined ? {} : { personId });
  const got: Stream['got'] = [];
  call.on('data', (meeting: Meeting) => got.push({ meeting, receivedAt: Date.now() }));
  const ended = new Promise<grpc.status>((resolve) => call.on('status', (s: grpc.StatusObject) => resolve(s.code)));
  const opened = new Promise<void>((resolve, reject) => {
    call.on('metadata', () => resolve());
    call.on('error', (err) => reject(err));
  });
  opened.catch(() => undefined);
  const stream = {
    got,
    opened,
    ended,
    close() {
      call.cancel();
      client.close();
    },
  };
  streams.push(stream);
  return stream;
}

/** The refusal of a Watch call that must fail. */
async function refusal(token: string | undefined, personId?: number): Promise<{ code: grpc.status; details: string }> {
  const s = watch(token, personId);
  const err = await s.opened.then(
    () => undefined,
    (e: grpc.ServiceError) => e,
  );
  if (!err) throw new Error('expected the Watch call to be refused');
  return { code: err.code, details: err.details };
}

/** What a test compares: who, where, how far, when, and the names. */
const summary = (m: Meeting) => ({
  other: m.otherPersonId,
  name: `${m.otherFirstName} ${m.otherLastName}`,
  placeId: m.placeId,
  placeName: m.placeName,
  eventId: m.eventId,
  meters: Math.round(m.distanceMeters * 1e6) / 1e6,
  at: m.at?.getTime(),
});

/** Waits for the stream's `n`-th message and notes how long after the ping's acknowledgement (and its sending) it arrived. */
async function nth(stream: Stream, n: number, ping: { sentAt: number; ackedAt: number }, what: string): Promise<void> {
  await eventually(() => expect(stream.got.length).toBeGreaterThanOrEqual(n), 5_000, 5);
  const receivedAt = stream.got[n - 1]!.receivedAt;
  delays.push({ what, ms: receivedAt - ping.ackedAt, fromSendMs: receivedAt - ping.sentAt });
}

describe('Meetings/Watch', () => {
  let ada: Stream;
  let grace: Stream;

  test('each person is told once per pair and booth per cooldown, with the other’s name, the booth and the distance; never about hidden or erased persons', async () => {
    ada = watch(await h.auth.attendee(ids.ada));
    grace = watch(h.auth.organizer, ids.grace);
    await Promise.all([ada.opened, grace.opened]);

    await record(ids.ada, booth1, 0);
    let acked = await record(ids.grace, booth1, 10, 2);
    await nth(ada, 1, acked, 'Ada meets Grace at booth 1');
    await nth(grace, 1, acked, 'Grace meets Ada at booth 1');
    // The hidden person stands 1 m from Ada, the erased one 1 m from Grace: nobody is told.
    await record(ids.hidden, booth1, 12, -1);
    await new PingPublisher(producer, topic).publish({
      personId: ids.erased,
      latitude: booth1.latitude + north(1),
      longitude: booth1.longitude,
      recordedAt: new Date(B + 13 * SEC),
      eventId: '7d6a4ec4-1a3e-4c47-9d25-1b6f4e3c2a10',
    });
    // Ada and Grace still together 20 s later: within the cooldown.
    await record(ids.ada, booth1, 30, 0.5);
    // Ada walks to booth 2, where Alan is.
    await record(ids.alan, booth2, 35);
    acked = await record(ids.ada, booth2, 40, 3);
    await nth(ada, 2, acked, 'Ada meets Alan at booth 2');
    // Ada and Grace at booth 1 again, after the 2-minute cooldown: told again.
    await record(ids.grace, booth1, 131);
    acked = await record(ids.ada, booth1, 132, 4);
    await nth(ada, 3, acked, 'Ada meets Grace again');
    await nth(grace, 2, acked, 'Grace meets Ada again');
    // In the hall, in no booth.
    await record(ids.alan, hall, 140);
    acked = await record(ids.ada, hall, 141, 1);
    await nth(ada, 4, acked, 'Ada meets Alan in the hall');

    await new Promise((r) => setTimeout(r, 1_500));
    const booth = { placeName: 'Booth 1', placeId: ids.booth1, eventId: ids.event };
    expect(ada.got.map((g) => summary(g.meeting))).toEqual([
      { other: ids.grace, name: 'Grace Hopper', ...booth, meters: 2, at: B + 10 * SEC },
      { other: ids.alan, name: 'Alan Turing', placeName: 'Booth 2', placeId: ids.booth2, eventId: ids.event, meters: 3, at: B + 40 * SEC },
      { other: ids.grace, name: 'Grace Hopper', ...booth, meters: 4, at: B + 132 * SEC },
      { other: ids.alan, name: 'Alan Turing', placeName: '', placeId: undefined, eventId: undefined, meters: 1, at: B + 141 * SEC },
    ]);
    expect(grace.got.map((g) => summary(g.meeting))).toEqual([
      { other: ids.ada, name: 'Ada Lovelace', ...booth, meters: 2, at: B + 10 * SEC },
      { other: ids.ada, name: 'Ada Lovelace', ...booth, meters: 4, at: B + 132 * SEC },
    ]);
    // The midpoint of the two pings.
    expect(ada.got[0]!.meeting.latitude).toBeCloseTo(booth1.latitude + north(1), 9);
    expect(ada.got[0]!.meeting.longitude).toBeCloseTo(booth1.longitude, 9);

    // The Record call sent (before ingest acknowledged it) → the message on the stream: well within 2 s.
    expect(delays.length).toBe(6);
    expect(Math.max(...delays.map((d) => d.fromSendMs))).toBeLessThan(2_000);

    const metrics = await metricsText(h.service.metricsPort);
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
    // Ada–Grace twice, Ada–Alan twice, the hidden person with Ada and with Grace: 6, told or not.
    expect(value('udaconnect_meetings_detected_total{service="connection-service"}')).toBe(6);
    expect(value('udaconnect_meeting_notifications_sent_total{service="connection-service"}')).toBe(6);
    expect(value('udaconnect_meeting_pings_skipped_total{reason="erased",service="connection-service"}')).toBe(1);
    expect(value('udaconnect_meeting_watchers{service="connection-service"}')).toBe(2);
    expect(value('udaconnect_meeting_grid_pings{service="connection-service"}')).toBe(10);
    expect(value('udaconnect_meetings_live{service="connection-service"}')).toBe(1);
    expect(value('udaconnect_meeting_notification_delay_seconds_count{service="connection-service"}')).toBe(6);
  });

  test('a restarted service, rebuilt from Kafka, does not tell again what was told within the cooldown; streams end with OK at shutdown', async () => {
    await h.restartService();
    // The streams of the stopped service ended cleanly: their clients call again.
    expect(await ada.ended).toBe(grpc.status.OK);
    expect(await grace.ended).toBe(grpc.status.OK);
    await eventually(() => expect(h.service.meetings?.state).toBe('live'), 60_000);

    const again = watch(await h.auth.attendee(ids.ada));
    await again.opened;
    // Grace at booth 1 with Ada, 8 s after the meeting told before the restart: not told again.
    await record(ids.grace, booth1, 140, 1);
    // Alan joins them: Ada has never met Alan at booth 1.
    const acked = await record(ids.alan, booth1, 145);
    await nth(again, 1, acked, 'after the restart, Ada meets Alan at booth 1');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(again.got.map((g) => summary(g.meeting))).toEqual([
      { other: ids.alan, name: 'Alan Turing', placeName: 'Booth 1', placeId: ids.booth1, eventId: ids.event, meters: 4, at: B + 145 * SEC },
    ]);
    expect(delays.at(-1)!.fromSendMs).toBeLessThan(2_000);
  });

  test('a detector thread that dies is replaced: the topic is replayed into the new one, which goes on without telling again what was told', async () => {
    const feed = h.service.meetings!;
    // White box: the thread is made to throw (a slice that is not a list of pings), as a bug in it would.
    const detectorOf = () => (feed as unknown as { detector: DetectorThread }).detector;
    const dying = detectorOf();
    await expect(dying.observe(null as unknown as ObservedPing[])).rejects.toThrow();
    expect(feed.state).toBe('connecting');
    await eventually(() => expect(feed.state).toBe('live'), 60_000);
    expect(detectorOf()).not.toBe(dying);
    expect(await metricsText(h.service.metricsPort)).toMatch(/^udaconnect_meeting_detector_restarts_total\{service="connection-service"\} 1$/m);

    const g = watch(h.auth.organizer, ids.grace);
    await g.opened;
    // Grace 1 m from Alan (145 s) and 3 m from Ada (132 s) at booth 1: both pairs were told there within the cooldown.
    await record(ids.grace, booth1, 150, 1);
    // Grace and Alan at booth 2: a new place for them.
    await record(ids.alan, booth2, 170);
    const acked = await record(ids.grace, booth2, 171, 2);
    await nth(g, 1, acked, 'after the detector thread was replaced, Grace meets Alan at booth 2');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(g.got.map((x) => summary(x.meeting))).toEqual([
      { other: ids.alan, name: 'Alan Turing', placeName: 'Booth 2', placeId: ids.booth2, eventId: ids.event, meters: 2, at: B + 171 * SEC },
    ]);
  });

  test('who may watch whom: no token → UNAUTHENTICATED; an attendee watching another → PERMISSION_DENIED; unknown or erased → NOT_FOUND', async () => {
    expect(await refusal(undefined, ids.ada)).toEqual({ code: grpc.status.UNAUTHENTICATED, details: expect.any(String) as string });
    expect(await refusal(await h.auth.attendee(ids.ada), ids.grace)).toEqual({
      code: grpc.status.PERMISSION_DENIED,
      details: `this token may watch only the meetings of its own person, not ${ids.grace}`,
    });
    expect(await refusal(h.auth.organizer)).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'person_id: is required with an organizer or service token',
    });
    expect(await refusal(h.auth.organizer, 987_654)).toEqual({ code: grpc.status.NOT_FOUND, details: 'person_id: no person with id 987654' });
    expect(await refusal(h.auth.organizer, ids.erased)).toEqual({ code: grpc.status.NOT_FOUND, details: `person_id: no person with id ${ids.erased}` });
    // An attendee naming its own person is the same as naming none.
    const own = watch(await h.auth.attendee(ids.alan), ids.alan);
    await own.opened;
    // Served beside ConnectionService: its own health status, and listed by reflection (grpcurl).
    expect(await healthStatus(h.service.port, MEETINGS_SERVICE_NAME)).toBe('SERVING');
    expect(await reflectedServices(h.service.port)).toContain(MEETINGS_SERVICE_NAME);
  });

  test("the devices' port (MEETINGS_PORT): Watch over TLS tells a device its meeting; FindConnections is not served there; plaintext is refused", async () => {
    expect(h.service.meetingsTls).toBe(true);
    const person = async (first: string, last: string) =>
      (await h.knex('person').insert({ first_name: first, last_name: last, company_name: 'Test' }).returning('id'))[0].id as number;
    const katherine = await person('Katherine', 'Johnson');
    const dorothy = await person('Dorothy', 'Vaughan');
    // Katherine's phone on the devices' port, Dorothy followed by an organizer on the internal one.
    const phone = watch(await h.auth.attendee(katherine), undefined, true);
    const internal = watch(h.auth.organizer, dorothy);
    await Promise.all([phone.opened, internal.opened]);
    // 100 m north of the hall, in no place, after every other ping of this file (none is late).
    const spot = { latitude: hall.latitude + north(100), longitude: hall.longitude };
    await record(dorothy, spot, 200);
    const acked = await record(katherine, spot, 201, 2);
    await nth(phone, 1, acked, "Katherine's phone, on the devices' port over TLS, meets Dorothy");
    await eventually(() => expect(internal.got).toHaveLength(1), 5_000);
    expect(phone.got.map((x) => summary(x.meeting))).toEqual([
      { other: dorothy, name: 'Dorothy Vaughan', placeId: undefined, placeName: '', eventId: undefined, meters: 2, at: B + 201 * SEC },
    ]);
    expect(internal.got.map((x) => x.meeting.otherPersonId)).toEqual([katherine]);

    // Only Meetings (and health, reflection) there: proximity queries stay internal.
    const port = h.service.meetingsPort!;
    const tls = grpc.credentials.createSsl(certs.ca);
    expect(await healthStatus(port, MEETINGS_SERVICE_NAME, tls)).toBe('SERVING');
    const listed = await reflectedServices(port, 'v1', tls);
    expect(listed).toContain(MEETINGS_SERVICE_NAME);
    expect(listed).not.toContain(CONNECTION_SERVICE_NAME);
    const finder = new ConnectionServiceClient(`localhost:${port}`, tls, h.auth.grpcOptions());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) =>
        finder.findConnections(
          {
            personId: 5,
            distanceMeters: 5,
            start: new Date('2020-01-01T00:00:00Z'),
            end: new Date('2020-12-31T00:00:00Z'),
            groupBy: 0,
            withClosest: false,
            pageSize: 0,
            pageToken: '',
          },
          (e) => (e ? resolve(e) : reject(new Error("FindConnections was answered on the devices' port"))),
        ),
      );
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      finder.close();
    }
    // A plaintext client gets no TLS handshake: UNAVAILABLE, nothing served.
    expect(await healthStatus(port, '').catch((e: grpc.ServiceError) => e.code)).toBe(grpc.status.UNAVAILABLE);
  });
});

test('UNAVAILABLE while Kafka cannot be reached, UNIMPLEMENTED when live meetings are off; FindConnections answers either way', async () => {
  const down = await startHarness('meetingsdown', { env: { KAFKA_BROKERS: '127.0.0.1:1', LOCATIONS_TOPIC: `test.${runId()}.nowhere` } });
  const off = await startHarness('meetingsoff', { env: { KAFKA_BROKERS: infraEnv().kafkaBrokers, MEETINGS_ENABLED: 'false' } });
  try {
    const refused = async (service: Harness) => {
      const client = new MeetingsClient(`127.0.0.1:${service.service.port}`, grpc.credentials.createInsecure(), service.auth.grpcOptions());
      try {
        return await new Promise<{ code: grpc.status; details: string }>((resolve, reject) => {
          const call = client.watch({ personId: 5 });
          call.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
          call.on('metadata', () => reject(new Error('the stream was opened')));
        });
      } finally {
        client.close();
      }
    };
    expect(down.service.meetings?.state).toBe('connecting');
    expect(await refused(down)).toEqual({
      code: grpc.status.UNAVAILABLE,
      details: 'live meetings are not available yet (Kafka or the database unreachable); retry later',
    });
    expect(off.service.meetings).toBeUndefined();
    expect(await refused(off)).toEqual({
      code: grpc.status.UNIMPLEMENTED,
      details: 'live meetings are turned off on this server (MEETINGS_ENABLED=false, or KAFKA_BROKERS unset)',
    });
    const query = { personId: 5, start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-12-31T00:00:00Z'), distanceMeters: 5 };
    expect((await down.find(query)).connections.length).toBeGreaterThan(0);
  } finally {
    await down.close();
    await off.close();
  }
});
