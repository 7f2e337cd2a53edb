import { FindConnectionsRequest, GroupBy, LocationPing, StreamSummary } from '../src';

describe('LocationPing wire format', () => {
  it('round-trips person, coordinates and a millisecond-precise recorded_at', () => {
    const ping: LocationPing = {
      eventId: '3f1c2b9e-8d4a-4e7b-9c1f-2a6b5d8e0f13',
      personId: 5,
      latitude: -35.0582,
      longitude: 37.55363,
      recordedAt: new Date('2020-08-18T10:37:06.123Z'),
    };

    const decoded = LocationPing.decode(LocationPing.encode(ping).finish());

    expect(decoded).toEqual(ping);
    expect(decoded.recordedAt).toBeInstanceOf(Date);
    expect(decoded.recordedAt?.toISOString()).toBe('2020-08-18T10:37:06.123Z');
    expect(decoded.personId).toBe(5);
  });

  it('decodes a missing recorded_at as undefined, so the server can reject it', () => {
    const decoded = LocationPing.decode(LocationPing.encode({ eventId: '', personId: 1, latitude: 0, longitude: 0 }).finish());
    expect(decoded.recordedAt).toBeUndefined();
  });
});

describe('other messages', () => {
  it('StreamSummary keeps int64 counts and rejections as numbers', () => {
    const summary: StreamSummary = {
      accepted: 2 ** 40,
      rejected: 1,
      rejections: [{ index: 3, eventId: 'e-3', reason: 'latitude: must be within -90..90', retryable: false }],
      rejectedByReason: { invalid: 1 },
      rejectionsTruncated: false,
    };
    expect(StreamSummary.decode(StreamSummary.encode(summary).finish())).toEqual(summary);
  });

  it('FindConnectionsRequest tells an absent time window from an explicit 0', () => {
    const base = {
      personId: 1,
      start: new Date('2020-01-01T00:00:00Z'),
      end: new Date('2020-12-31T00:00:00Z'),
      distanceMeters: 5,
      groupBy: GroupBy.GROUP_BY_PERSON,
      withClosest: false,
      pageSize: 0,
      pageToken: '',
    };
    const absent = FindConnectionsRequest.decode(FindConnectionsRequest.encode(base).finish());
    const zero = FindConnectionsRequest.decode(FindConnectionsRequest.encode({ ...base, timeWindowMinutes: 0 }).finish());

    expect(absent).toEqual({ ...base, timeWindowMinutes: undefined });
    expect(zero.timeWindowMinutes).toBe(0);
  });
});
