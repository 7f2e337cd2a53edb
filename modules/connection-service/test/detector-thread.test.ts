/**
 * The meeting detector in its worker thread (a real worker_threads Worker) finds exactly what
 * MeetingDetector finds in this thread, over slices sent without waiting; a thread that dies is
 * reported and rejects what was pending.
 */
import { MeetingDetector, mulberry32, PlaceIndex, type MeetingPlace } from '@udaconnect/domain';
import { DetectorThread, type FoundMeeting, type ObservedPing } from '../src/detector-thread';

const RULES = { distanceMeters: 5, windowMs: 60_000, cooldownMs: 120_000 };
const LATE_MS = 60_000;
const M_PER_DEG = (6_371_008.8 * Math.PI) / 180;
const origin = { latitude: 48.1374, longitude: 11.5755 };
const t0 = Date.parse('2026-12-01T09:00:00Z');

/** Two booths (6 m squares) side by side in a 30 m hall. */
function square(id: number, name: string, x: number, half: number): MeetingPlace {
  const lon = (m: number) => origin.longitude + m / (M_PER_DEG * Math.cos((origin.latitude * Math.PI) / 180));
  const lat = (m: number) => origin.latitude + m / M_PER_DEG;
  const ring = [
    [lon(x - half), lat(-half)],
    [lon(x + half), lat(-half)],
    [lon(x + half), lat(half)],
    [lon(x - half), lat(half)],
    [lon(x - half), lat(-half)],
  ];
  return { id, eventId: 1, name, area: { type: 'Polygon', coordinates: [ring] }, startsAt: t0 - 3_600_000, endsAt: t0 + 3_600_000 };
}
const places = [square(1, 'Hall', 0, 15), square(2, 'Booth A', -6, 3), square(3, 'Booth B', 6, 3)];

/** 30 persons walking in the hall for 20 minutes, a ping each 10 s, in time order, some re-sent. */
function walk(): ObservedPing[] {
  const random = mulberry32(15);
  const out: ObservedPing[] = [];
  const where = Array.from({ length: 30 }, () => ({ x: (random() - 0.5) * 20, y: (random() - 0.5) * 20 }));
  for (let s = 0; s < 1_200; s += 10) {
    where.forEach((p, i) => {
      p.x = Math.max(-14, Math.min(14, p.x + (random() - 0.5) * 4));
      p.y = Math.max(-14, Math.min(14, p.y + (random() - 0.5) * 4));
      const at = t0 + s * 1_000 + Math.floor(random() * 1_000);
      const ping = {
        personId: i + 1,
        latitude: origin.latitude + p.y / M_PER_DEG,
        longitude: origin.longitude + p.x / (M_PER_DEG * Math.cos((origin.latitude * Math.PI) / 180)),
        at,
        eventId: `${i}-${s}`,
        clock: at,
      };
      out.push(ping);
      if (random() < 0.02) out.push({ ...ping });
    });
  }
  return out.sort((a, b) => a.at - b.at);
}

test('the thread finds what MeetingDetector finds, slice by slice, with the places it was given', async () => {
  const pings = walk();
  const direct = new MeetingDetector(RULES, { lateMs: LATE_MS });
  direct.places = new PlaceIndex(places);
  const expected = pings.flatMap((p) =>
    direct.observe(p, p.clock).map((m) => [m.a.personId, m.b.personId, m.at, m.distanceMeters, m.latitude, m.longitude, m.place?.name]),
  );
  expect(expected.length).toBeGreaterThan(100);
  expect(expected.some((m) => m[6] === 'Booth A') && expected.some((m) => m[6] === 'Hall')).toBe(true);

  const failures: Error[] = [];
  const thread = new DetectorThread({ rules: RULES, lateMs: LATE_MS }, (err) => failures.push(err));
  try {
    thread.setPlaces(places);
    const slices: ObservedPing[][] = [];
    for (let i = 0; i < pings.length; i += 97) slices.push(pings.slice(i, i + 97));
    const answers = await Promise.all(slices.map((slice) => thread.observe(slice)));
    const got = answers.flatMap((answer, s) =>
      answer.found.map((m: FoundMeeting) => {
        expect(slices[s]![m.ping]!.personId).toBe(m.b);
        return [m.a, m.b, m.at, m.distanceMeters, m.latitude, m.longitude, m.place?.name];
      }),
    );
    expect(got).toEqual(expected);
    expect(answers.at(-1)!.gridSize).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  } finally {
    await thread.close();
  }
});

test('a thread that dies is reported once, and what was pending or comes later rejects', async () => {
  const failures: Error[] = [];
  const thread = new DetectorThread({ rules: RULES, lateMs: LATE_MS }, (err) => failures.push(err));
  try {
    // Not an array of pings: the worker throws, which ends the thread.
    const broken = thread.observe(null as unknown as ObservedPing[]);
    await expect(broken).rejects.toThrow();
    expect(failures).toHaveLength(1);
    await expect(thread.observe([])).rejects.toBe(failures[0]);
  } finally {
    await thread.close();
  }
});
