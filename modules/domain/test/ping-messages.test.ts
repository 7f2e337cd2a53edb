/**
 * A received ping is published with the bytes it came in (toMessage), unless admission changed it
 * or it carries more than a ping's fields; consumers decode the same ping either way.
 */
import { randomUUID } from 'node:crypto';
import { LocationBatch } from '@udaconnect/proto';
import { admitPing, decodeBatchBytes, decodePing, decodePingBytes, LocationPing, toMessage } from '../src/pings';

const ping = (over: Partial<LocationPing> = {}): LocationPing => ({
  eventId: randomUUID(),
  personId: 7,
  latitude: 37.7749,
  longitude: -122.4194,
  recordedAt: new Date(Date.now() - 1_000),
  ...over,
});
const persons = { exists: async () => true };
const organizer = { role: 'organizer', subject: 'org' } as Parameters<typeof admitPing>[0];
const attendee = { role: 'attendee', subject: 'dev', personId: 7 } as Parameters<typeof admitPing>[0];
const encoded = (p: LocationPing) => Buffer.from(LocationPing.encode(p).finish());

test('an admitted ping of a batch is published as the bytes it was sent as', async () => {
  const sent = [ping(), ping({ personId: 8 })];
  const batch = Buffer.from(LocationBatch.encode({ pings: sent }).finish());
  const { pings } = decodeBatchBytes(batch);
  const messages = [];
  for (const p of pings) {
    const verdict = await admitPing(organizer, p, persons);
    if (!verdict.ok) throw new Error(verdict.problem.reason);
    messages.push(toMessage(verdict.ping));
  }
  expect(messages.map((m) => m.value)).toEqual(sent.map(encoded));
  expect(messages.map((m) => m.key)).toEqual(['7', '8']);
  // A copy of the batch's bytes: changing the request's buffer afterwards changes nothing published.
  batch.fill(0);
  expect(messages.map((m) => decodePing(m.value))).toEqual(sent);
});

test('a ping admission changed is encoded again: the person filled in, the event id assigned', async () => {
  const [mine, anonymous] = decodeBatchBytes(LocationBatch.encode({ pings: [ping({ personId: 0 }), ping({ eventId: '' })] }).finish()).pings;
  const asMine = await admitPing(attendee, mine!, persons);
  const withId = await admitPing(organizer, anonymous!, persons);
  if (!asMine.ok || !withId.ok) throw new Error('refused');
  expect(decodePing(toMessage(asMine.ping).value)).toEqual({ ...mine, personId: 7 });
  const published = decodePing(toMessage(withId.ping).value);
  expect(published.eventId).toMatch(/^[0-9a-f-]{36}$/);
  expect(published).toEqual({ ...anonymous, eventId: published.eventId });
});

test('a ping with more than its fields (an unknown field) is published as its fields alone', () => {
  const p = ping();
  // Field 99, length-delimited (tag 99 << 3 | 2 = 794, varint 0x9a 0x06), 200 bytes (varint 0xc8 0x01).
  const padded = Buffer.concat([encoded(p), Buffer.from([0x9a, 0x06, 0xc8, 0x01]), Buffer.alloc(200)]);
  expect(decodePingBytes(padded)).toEqual(p);
  expect(padded.length).toBeGreaterThan(200);
  const value = toMessage(decodePingBytes(Buffer.from(padded), true)).value;
  expect(value).toEqual(encoded(p));
});

test('a ping decoded without keepBytes (a Kafka value) is encoded from its fields', () => {
  const p = ping();
  const decoded = decodePingBytes(encoded(p));
  expect(toMessage(decoded).value).toEqual(encoded(p));
});
