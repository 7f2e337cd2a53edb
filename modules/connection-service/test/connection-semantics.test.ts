/**
 * What FindConnections answers at the edges: the date range's ends, the time window, ties,
 * group_by=person, bad arguments, an unknown person; and what grpcurl and Kubernetes ask
 * (health, reflection).
 */
import * as grpc from '@grpc/grpc-js';
import { GroupBy, type FindConnectionsRequest } from '@udaconnect/proto';
import { CONNECTION_SERVICE_NAME } from '../src/connection-service';
import { healthStatus, reflectedServices } from '../../../test/support/grpc-probes';
import { createPersons, insertPings, startHarness, type Harness } from './harness';
import { vincentyMeters } from './geodesic';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('connsemantics');
});
afterAll(() => h.close());

// Far from the seed's pings (San Mateo), and places 1 km apart from each other.
const place = (n: number) => ({ latitude: 48.137 + n * 0.009, longitude: 11.575 });
const at = (iso: string) => new Date(iso);
const DAY = 86_400_000;
/** The REST layer's conversion: whole UTC days, both included → [start 00:00, end + 1 day). */
const days = (startDate: string, endDate: string) => ({ start: at(`${startDate}T00:00:00Z`), end: new Date(at(`${endDate}T00:00:00Z`).getTime() + DAY) });
const locationIds = (res: { connections: Array<{ location?: { id: number } }> }) => res.connections.map((c) => c.location!.id);

describe('the date range: whole UTC days, both ends included', () => {
  const range = days('2021-05-01', '2021-05-03');
  let me: number, other: number;
  let ids: Record<string, number>;

  beforeAll(async () => {
    [me, other] = (await createPersons(h.knex, 2, 'Dates')) as [number, number];
    const pings = {
      own: { personId: me!, ...place(0), time: at('2021-05-02T12:00:00Z') },
      beforeStart: { personId: other!, ...place(0), time: at('2021-04-30T23:59:59.999Z') },
      atStart: { personId: other!, ...place(0), time: at('2021-05-01T00:00:00.000Z') },
      lastMsOfEndDate: { personId: other!, ...place(0), time: at('2021-05-03T23:59:59.999Z') },
      dayAfterEndDate: { personId: other!, ...place(0), time: at('2021-05-04T00:00:00.000Z') },
    };
    const inserted = await insertPings(h.knex, Object.values(pings));
    ids = Object.fromEntries(Object.keys(pings).map((k, i) => [k, inserted[i]!]));
  });

  it("counts another person's ping at start_date 00:00:00.000 and at end_date 23:59:59.999, not one a millisecond outside", async () => {
    const res = await h.find({ personId: me!, ...range, distanceMeters: 5 });
    expect(locationIds(res)).toEqual([ids.atStart, ids.lastMsOfEndDate]);
  });

  it("uses the person's own pings on end_date (the old system dropped them) and on start_date, not outside", async () => {
    const [me2, a, b, c, d] = await createPersons(h.knex, 5, 'OwnDates');
    const [, , ownLastMs, , ownFirstMs] = await insertPings(h.knex, [
      { personId: me2!, ...place(1), time: at('2021-04-30T23:59:59.999Z') }, // outside
      { personId: me2!, ...place(2), time: at('2021-05-04T00:00:00.000Z') }, // outside
      { personId: me2!, ...place(3), time: at('2021-05-03T23:59:59.999Z') }, // end_date, last millisecond
      { personId: a!, ...place(1), time: at('2021-05-02T08:00:00Z') },
      { personId: me2!, ...place(4), time: at('2021-05-01T00:00:00.000Z') }, // start_date, first millisecond
    ]);
    const [nearOwnOnEndDate, , , nearOwnOnStartDate] = await insertPings(h.knex, [
      { personId: b!, ...place(3), time: at('2021-05-02T08:00:00Z') },
      { personId: c!, ...place(2), time: at('2021-05-02T09:00:00Z') },
      { personId: d!, ...place(1), time: at('2021-05-02T10:00:00Z') },
      { personId: d!, ...place(4), time: at('2021-05-02T11:00:00Z') },
    ]);
    const res = await h.find({ personId: me2, ...range, distanceMeters: 5, withClosest: true });
    expect(locationIds(res)).toEqual([nearOwnOnEndDate, nearOwnOnStartDate]);
    expect(res.connections.map((x) => x.ownLocation!.id)).toEqual([ownLastMs, ownFirstMs]);
  });
});

describe('time_window_minutes', () => {
  let me: number, other: number;
  let later2h: number, later20m: number, exactly30m: number, earlier30m1ms: number;
  const request = (extra: Partial<FindConnectionsRequest> = {}) => ({ personId: me!, ...days('2021-06-01', '2021-06-01'), distanceMeters: 5, ...extra });

  beforeAll(async () => {
    [me, other] = (await createPersons(h.knex, 2, 'Window')) as [number, number];
    await insertPings(h.knex, [
      { personId: me!, ...place(10), time: at('2021-06-01T10:00:00Z') },
      // At 12:00 the person is 1 km away: close in time to the other's 12:00 ping, but not in space.
      { personId: me!, ...place(11), time: at('2021-06-01T12:00:00Z') },
    ]);
    [later2h, later20m, exactly30m, earlier30m1ms] = (await insertPings(h.knex, [
      { personId: other!, ...place(10), time: at('2021-06-01T12:00:00Z') },
      { personId: other!, ...place(10), time: at('2021-06-01T10:20:00Z') },
      { personId: other!, ...place(10), time: at('2021-06-01T10:30:00Z') },
      { personId: other!, ...place(10), time: at('2021-06-01T09:29:59.999Z') },
    ])) as [number, number, number, number];
  });

  it('without a window, two pings at the same place 2 h apart are a connection', async () => {
    expect(locationIds(await h.find(request()))).toEqual([earlier30m1ms, later20m, exactly30m, later2h]);
  });

  it('with 30 minutes, the ping 2 h later is not (even though the person had another ping then, elsewhere); 20 and exactly 30 minutes are', async () => {
    expect(locationIds(await h.find(request({ timeWindowMinutes: 30 })))).toEqual([later20m, exactly30m]);
  });

  it('0 means no window, as the proto says', async () => {
    expect(locationIds(await h.find(request({ timeWindowMinutes: 0 })))).toEqual([earlier30m1ms, later20m, exactly30m, later2h]);
  });

  it('applies to group_by=person too', async () => {
    const res = await h.find(request({ timeWindowMinutes: 30, groupBy: GroupBy.GROUP_BY_PERSON }));
    expect(res.people.map((p) => [p.person!.id, p.matchCount, p.meetingPoints.map((l) => l.id)])).toEqual([[other, 2, [later20m, exactly30m]]]);
  });
});

describe('each location once, with its closest own location', () => {
  it('lists a location near several own pings once, with the distance to the closest and ties going to the smallest own id', async () => {
    const [me, other] = await createPersons(h.knex, 2, 'Closest');
    const p = place(20);
    const twoMetresNorth = { latitude: p.latitude + 2 / 111_200, longitude: p.longitude };
    // Own pings: 2 m away (twice, same spot: a tie), and 0 m away but given the larger ids below.
    const [tieLow, tieHigh] = await insertPings(h.knex, [
      { id: 900_001, personId: me!, ...twoMetresNorth, time: at('2021-07-01T10:00:00Z') },
      { id: 900_002, personId: me!, ...twoMetresNorth, time: at('2021-07-01T10:01:00Z') },
    ]);
    const [theirs] = await insertPings(h.knex, [{ id: 900_010, personId: other!, ...p, time: at('2021-07-01T10:00:30Z') }]);
    const range = days('2021-07-01', '2021-07-01');

    let res = await h.find({ personId: me!, ...range, distanceMeters: 5, withClosest: true });
    expect(locationIds(res)).toEqual([theirs]);
    expect(res.connections[0]!.ownLocation!.id).toBe(tieLow);
    expect(tieHigh).toBeGreaterThan(tieLow!);
    expect(res.connections[0]!.distanceMeters).toBeCloseTo(vincentyMeters(twoMetresNorth, p), 6);

    const [exact] = await insertPings(h.knex, [{ id: 900_020, personId: me!, ...p, time: at('2021-07-01T18:00:00Z') }]);
    res = await h.find({ personId: me!, ...range, distanceMeters: 5, withClosest: true });
    expect(res.connections.map((c) => [c.location!.id, c.ownLocation!.id, c.distanceMeters])).toEqual([[theirs, exact, 0]]);
    expect(res.connections[0]!.ownLocation).toEqual({ id: exact, personId: me!, ...p, creationTime: at('2021-07-01T18:00:00Z') });
  });

  it('orders by creation_time, then id', async () => {
    const [me, a, b] = await createPersons(h.knex, 3, 'Order');
    const p = place(30);
    await insertPings(h.knex, [{ personId: me!, ...p, time: at('2021-08-01T12:00:00Z') }]);
    await insertPings(h.knex, [
      { id: 910_005, personId: a!, ...p, time: at('2021-08-01T11:00:00Z') },
      { id: 910_003, personId: b!, ...p, time: at('2021-08-01T11:00:00Z') },
      { id: 910_001, personId: a!, ...p, time: at('2021-08-01T13:00:00Z') },
      { id: 910_004, personId: b!, ...p, time: at('2021-08-01T09:00:00Z') },
    ]);
    const res = await h.find({ personId: me!, ...days('2021-08-01', '2021-08-01'), distanceMeters: 1 });
    expect(locationIds(res)).toEqual([910_004, 910_003, 910_005, 910_001]);
  });
});

describe('group_by=person', () => {
  it('gives one entry per other person: first and last met, count, closest distance, meeting points by time; people by first_met then id', async () => {
    const [me, early, late, alsoEarly] = await createPersons(h.knex, 4, 'Group');
    const p = place(40);
    const threeMetresEast = { latitude: p.latitude, longitude: p.longitude + 3 / 74_600 };
    await insertPings(h.knex, [
      { personId: me!, ...p, time: at('2021-09-01T09:00:00Z') },
      { personId: me!, ...p, time: at('2021-09-02T09:00:00Z') },
    ]);
    const [l1, l2, l3, l4, l5] = await insertPings(h.knex, [
      { personId: late!, ...p, time: at('2021-09-02T10:00:00Z') },
      { personId: early!, ...threeMetresEast, time: at('2021-09-01T08:00:00Z') },
      { personId: early!, ...p, time: at('2021-09-02T18:00:00Z') },
      { personId: early!, ...threeMetresEast, time: at('2021-09-01T12:00:00Z') },
      { personId: alsoEarly!, ...threeMetresEast, time: at('2021-09-01T08:00:00Z') },
    ]);
    const res = await h.find({ personId: me!, ...days('2021-09-01', '2021-09-02'), distanceMeters: 5, groupBy: GroupBy.GROUP_BY_PERSON });
    expect(res.connections).toEqual([]);
    const [sEarly, sAlsoEarly, sLate] = res.people;
    // early and alsoEarly were first met at the same time: the smaller id (early, created first) comes first.
    expect(early).toBeLessThan(alsoEarly!);
    expect(res.people.map((s) => s.person!.id)).toEqual([early, alsoEarly, late]);
    expect(sEarly).toMatchObject({
      person: { id: early, firstName: 'Group1', lastName: 'Walker1', companyName: 'Co 1' },
      firstMet: at('2021-09-01T08:00:00Z'),
      lastMet: at('2021-09-02T18:00:00Z'),
      matchCount: 3,
      closestDistanceMeters: 0,
    });
    expect(sEarly!.meetingPoints.map((l) => l.id)).toEqual([l2, l4, l3]);
    expect(sAlsoEarly).toMatchObject({ matchCount: 1, meetingPoints: [expect.objectContaining({ id: l5, personId: alsoEarly, ...threeMetresEast })] });
    expect(sAlsoEarly!.closestDistanceMeters).toBeCloseTo(vincentyMeters(p, threeMetresEast), 6);
    expect(sLate).toMatchObject({ matchCount: 1, firstMet: at('2021-09-02T10:00:00Z'), lastMet: at('2021-09-02T10:00:00Z') });
    expect(sLate!.meetingPoints.map((l) => l.id)).toEqual([l1]);
  });

  it('caps meeting_points at 100 per person while match_count counts them all', async () => {
    const [me, other] = await createPersons(h.knex, 2, 'Cap');
    const p = place(50);
    await insertPings(h.knex, [{ personId: me!, ...p, time: at('2021-10-01T00:00:00Z') }]);
    const theirs = await insertPings(
      h.knex,
      Array.from({ length: 130 }, (_, i) => ({ personId: other!, ...p, time: new Date(at('2021-10-01T01:00:00Z').getTime() + i * 60_000) })),
    );
    const res = await h.find({ personId: me!, ...days('2021-10-01', '2021-10-01'), distanceMeters: 5, groupBy: GroupBy.GROUP_BY_PERSON });
    expect(res.people).toHaveLength(1);
    expect(res.people[0]!.matchCount).toBe(130);
    expect(res.people[0]!.meetingPoints.map((l) => l.id)).toEqual(theirs.slice(0, 100));
    expect(res.people[0]!.lastMet).toEqual(new Date(at('2021-10-01T01:00:00Z').getTime() + 129 * 60_000));
  });
});

describe('bad arguments → INVALID_ARGUMENT naming the field; unknown person → NOT_FOUND', () => {
  const ok = { personId: 5, ...days('2020-01-01', '2020-12-30'), distanceMeters: 5 };
  const cases: Array<[string, Partial<FindConnectionsRequest>, string]> = [
    ['person_id 0', { personId: 0 }, 'person_id'],
    ['person_id -3', { personId: -3 }, 'person_id'],
    ['no start', { start: undefined }, 'start'],
    ['no end', { end: undefined }, 'end'],
    ['end equal to start', { end: ok.start }, 'end'],
    ['end before start', { start: at('2020-06-02T00:00:00Z'), end: at('2020-06-01T00:00:00Z') }, 'end'],
    ['a span over 367 days', { start: at('2020-01-01T00:00:00Z'), end: at('2021-01-02T00:00:01Z') }, 'end'],
    ['distance 0', { distanceMeters: 0 }, 'distance_meters'],
    ['distance -1', { distanceMeters: -1 }, 'distance_meters'],
    ['distance NaN', { distanceMeters: NaN }, 'distance_meters'],
    ['distance Infinity', { distanceMeters: Infinity }, 'distance_meters'],
    ['distance above 10000', { distanceMeters: 10_000.5 }, 'distance_meters'],
    ['a negative time window', { timeWindowMinutes: -1 }, 'time_window_minutes'],
    ['an unknown group_by', { groupBy: 7 as GroupBy }, 'group_by'],
    ['page_size -1', { pageSize: -1 }, 'page_size'],
    ['page_size above 1000', { pageSize: 1001 }, 'page_size'],
    ['a page_token not made by the service', { pageToken: 'bm90IGEgdG9rZW4' }, 'page_token'],
  ];

  it.each(cases)('%s', async (_what, over, field) => {
    const err = await h.findError({ ...ok, ...over });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(new RegExp(`^${field}: `));
  });

  it('accepts the limits: 366 days, 10000 m', async () => {
    const res = await h.find({ ...ok, ...days('2020-01-01', '2020-12-31'), distanceMeters: 10_000 });
    expect(res.connections.length).toBeGreaterThan(0);
  });

  it('unknown person → NOT_FOUND naming person_id', async () => {
    const err = await h.findError({ ...ok, personId: 424242 });
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe('person_id: no person with id 424242');
  });

  it('a known person without pings in the range → an empty answer, not NOT_FOUND', async () => {
    const [lonely] = await createPersons(h.knex, 1, 'Lonely');
    const empty = { connections: [], people: [], nextPageToken: '', totalSize: 0 };
    expect(await h.find({ ...ok, personId: lonely })).toEqual(empty);
    expect(await h.find({ ...ok, personId: lonely, groupBy: GroupBy.GROUP_BY_PERSON })).toEqual(empty);
  });
});

describe('health and reflection', () => {
  it('serves grpc.health.v1 (SERVING) and lists the service through reflection', async () => {
    expect(await healthStatus(h.service.port)).toBe('SERVING');
    expect(await healthStatus(h.service.port, CONNECTION_SERVICE_NAME)).toBe('SERVING');
    expect(await reflectedServices(h.service.port)).toEqual(expect.arrayContaining([CONNECTION_SERVICE_NAME, 'grpc.health.v1.Health']));
  });
});
