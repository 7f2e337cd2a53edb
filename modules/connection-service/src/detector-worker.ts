/** The worker thread of DetectorThread (detector-thread.ts): one MeetingDetector, fed in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { MeetingDetector, PlaceIndex } from '@udaconnect/domain';
import type { DetectorOptions, FoundMeeting, FromDetector, ToDetector } from './detector-thread';

const options = workerData as DetectorOptions;
const detector = new MeetingDetector(options.rules, { lateMs: options.lateMs });
const port = parentPort!;

port.on('message', (msg: ToDetector) => {
  if (msg.kind === 'places') {
    detector.places = new PlaceIndex(msg.places);
    return;
  }
  const found: FoundMeeting[] = [];
  msg.pings.forEach((ping, i) => {
    for (const m of detector.observe(ping, ping.clock)) {
      found.push({
        ping: i,
        a: m.a.personId,
        b: m.b.personId,
        at: m.at,
        distanceMeters: m.distanceMeters,
        latitude: m.latitude,
        longitude: m.longitude,
        ...(m.place ? { place: { id: m.place.id, eventId: m.place.eventId, name: m.place.name } } : {}),
      });
    }
  });
  port.postMessage({ kind: 'found', id: msg.id, found, gridSize: detector.grid.size } satisfies FromDetector);
});
