/**
 * The meeting detector (domain MeetingDetector: the grid, the places, the cooldowns) in a worker
 * thread of its own, so that detecting and writing the notifications to the Watch streams run on two
 * cores instead of taking turns on one. At 5,000 pings/s the first minutes of an event bring several
 * notifications a ping; on one thread the feed fell seconds behind the topic then
 * (docs/decisions.md, "Meetings detected in a worker thread").
 *
 * The protocol is two messages each way, in order (a worker handles its messages one at a time):
 * the places (whenever they are re-read), and slices of pings, each answered with the meetings found.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { MeetingPlace, MeetingRules } from '@udaconnect/domain';

/** A ping to put in the grid, with the clock (ms) the grid is to be at when it arrives. */
export interface ObservedPing {
  personId: number;
  latitude: number;
  longitude: number;
  at: number;
  eventId?: string | undefined;
  clock: number;
}

/** A meeting found (MeetingDetector's DetectedMeeting, flattened to cross the thread boundary). */
export interface FoundMeeting {
  /** The index, in the slice, of the ping that completed it. */
  ping: number;
  /** The person of the earlier-arrived ping, and of the ping that completed the meeting. */
  a: number;
  b: number;
  at: number;
  distanceMeters: number;
  latitude: number;
  longitude: number;
  place?: { id: number; eventId: number; name: string };
}

export type ToDetector = { kind: 'places'; places: MeetingPlace[] } | { kind: 'pings'; id: number; pings: ObservedPing[] };
export type FromDetector = { kind: 'found'; id: number; found: FoundMeeting[]; gridSize: number };

export interface DetectorOptions {
  rules: MeetingRules;
  lateMs: number;
}

/** What runs the worker: tsx's require hook first (the services run from TypeScript sources, docs/decisions.md), then the detector's module. */
const BOOT = `require('tsx/cjs'); require(${JSON.stringify(join(__dirname, 'detector-worker.ts'))});`;

export class DetectorThread {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: FromDetector) => void; reject: (err: Error) => void }>();
  private failure: Error | undefined;
  private closing = false;

  /** `onFailure`: the thread died (not by close()); every pending and later observe() rejects. */
  constructor(options: DetectorOptions, onFailure: (err: Error) => void) {
    this.worker = new Worker(BOOT, { eval: true, workerData: options });
    this.worker.on('message', (msg: FromDetector) => {
      const waiting = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      waiting?.resolve(msg);
    });
    const fail = (err: Error) => {
      if (this.failure || this.closing) return;
      this.failure = err;
      for (const waiting of this.pending.values()) waiting.reject(err);
      this.pending.clear();
      onFailure(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the meeting detector thread exited (code ${code})`)));
  }

  /** The places meetings are located in from now on (pings sent before keep the previous ones). */
  setPlaces(places: MeetingPlace[]): void {
    if (!this.failure) this.worker.postMessage({ kind: 'places', places } satisfies ToDetector);
  }

  /** Puts the pings in the grid, in this order, after every slice sent before; resolves with the meetings they completed. */
  observe(pings: ObservedPing[]): Promise<FromDetector> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<FromDetector>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: 'pings', id, pings } satisfies ToDetector);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const waiting of this.pending.values()) waiting.reject(new Error('the meeting detector was closed'));
    this.pending.clear();
    await this.worker.terminate();
  }
}
