/**
 * The flooding device of `npm run bench:ingest -- --flood`, in a process of its own (forked with
 * the order as its argument; the result comes back over IPC): encoding and writing 100,000 pings
 * keeps an event loop busy, and in the measuring process that would be counted in the known
 * client's latency (two devices are two machines in reality).
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { bearerInterceptor } from '@udaconnect/common';
import { LocationIngestClient, StreamSummary, type LocationPing } from '@udaconnect/proto';

export interface FloodOrder {
  target: string;
  token: string;
  pings: number;
  /** Person ids from here on do not exist. */
  firstUnknownId: number;
}

/** The one message sent back: the stream's summary (StreamSummary bytes, base64), or why the call failed. */
export type FloodResult = { summary: string } | { error: string };

/** A ping of now, near one spot (the flood's and the known client's alike). */
export const floodPing = (personId: number): LocationPing => ({
  eventId: randomUUID(),
  personId,
  latitude: 37.55 + Math.random() * 1e-3,
  longitude: -122.29 + Math.random() * 1e-3,
  recordedAt: new Date(),
});

async function flood({ target, token, pings, firstUnknownId }: FloodOrder): Promise<StreamSummary> {
  const client = new LocationIngestClient(target, grpc.credentials.createInsecure(), { interceptors: [bearerInterceptor(token)] });
  try {
    return await new Promise<StreamSummary>((resolve, reject) => {
      const call = client.recordStream((err, res) => (err ? reject(err) : resolve(res)));
      let i = 0;
      const writeMore = () => {
        while (i < pings) {
          if (!call.write(floodPing(firstUnknownId + i++))) return void call.once('drain', writeMore);
        }
        call.end();
      };
      writeMore();
    });
  } finally {
    client.close();
  }
}

if (process.send) {
  const send = (result: FloodResult) => process.send!(result, () => process.exit(0));
  flood(JSON.parse(process.argv[2]!) as FloodOrder).then(
    (summary) => send({ summary: Buffer.from(StreamSummary.encode(summary).finish()).toString('base64') }),
    (err: Error) => send({ error: err.message }),
  );
}
