/**
 * The attendees' phones of `npm run bench:meetings` listening for meetings, in a process of their own
 * (forked with the order as its argument): receiving thousands of notifications a second on hundreds of
 * streams would otherwise share one event loop with the sender of 5,000 pings a second, and the delay
 * measured would be the bench's own. It answers "ready" once every stream is open, and on "finish"
 * sends back what it received: [watcher, other person, meeting time (ms), received at (ms)] each.
 */
import * as grpc from '@grpc/grpc-js';
import { bearerInterceptor } from '@udaconnect/common';
import { MeetingsClient, type Meeting } from '@udaconnect/proto';

export interface WatchOrder {
  target: string;
  token: string;
  personIds: number[];
}

export type Told = [person: number, other: number, at: number, receivedAt: number];

function main(order: WatchOrder) {
  const clients = Array.from(
    { length: 4 },
    () => new MeetingsClient(order.target, grpc.credentials.createInsecure(), { interceptors: [bearerInterceptor(order.token)] }),
  );
  const told: Told[] = [];
  let open = 0;
  const calls = order.personIds.map((personId, i) => {
    const call = clients[i % clients.length]!.watch({ personId });
    call.on('data', (m: Meeting) => told.push([personId, m.otherPersonId, m.at!.getTime(), Date.now()]));
    call.once('metadata', () => {
      if (++open === order.personIds.length) process.send!({ ready: true });
    });
    call.on('error', (err: grpc.ServiceError) => {
      if (err.code !== grpc.status.CANCELLED) console.error(`[bench] watch of ${personId} failed: ${err.message}`);
    });
    return call;
  });
  process.on('message', (msg: { finish?: boolean }) => {
    if (!msg.finish) return;
    for (const c of calls) c.cancel();
    // No exit here: the parent may see this process exit before it has read the message (the
    // answer is megabytes); it ends the process when it has the answer.
    process.send!({ told });
  });
}

main(JSON.parse(process.argv[2]!) as WatchOrder);
