import { useCallback, useEffect, useRef, useState } from 'react';
import { liveMeetingsPath, type ApiContext } from './api';
import { followEventStream, type StreamState } from './sse';
import { utcClockSeconds } from './time';

/** One `event: meeting` of GET /api/persons/{id}/meetings/live. */
export interface LiveMeeting {
  other_person: { id: number; first_name: string; last_name: string };
  at: string;
  place: { id: number; name: string } | null;
  latitude: number;
  longitude: number;
  distance_meters: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A number, or decimal text (the API writes coordinates as text elsewhere); NaN otherwise. */
const numberOf = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);

/** The message's data as a meeting, or null when it is not one (such messages are skipped). */
export function parseMeeting(data: string): LiveMeeting | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(v) || !isObject(v.other_person)) return null;
  const o = v.other_person;
  if (typeof o.id !== 'number' || typeof o.first_name !== 'string' || typeof o.last_name !== 'string') return null;
  if (typeof v.at !== 'string') return null;
  const place = isObject(v.place) && typeof v.place.name === 'string' && typeof v.place.id === 'number' ? { id: v.place.id, name: v.place.name } : null;
  return {
    other_person: { id: o.id, first_name: o.first_name, last_name: o.last_name },
    at: v.at,
    place,
    latitude: numberOf(v.latitude),
    longitude: numberOf(v.longitude),
    distance_meters: numberOf(v.distance_meters),
  };
}

/** "You just met Ada Lovelace at Booth 3", or at the coordinates when the meeting was in no place. */
export function meetingSentence(m: LiveMeeting, subject: string | null): string {
  const who = `${subject ?? 'You'} just met ${m.other_person.first_name} ${m.other_person.last_name}`;
  if (m.place) return `${who} at ${m.place.name}`;
  if (Number.isFinite(m.latitude) && Number.isFinite(m.longitude)) return `${who} at ${m.latitude.toFixed(5)}, ${m.longitude.toFixed(5)}`;
  return who;
}

export interface Toast {
  id: number;
  sentence: string;
  meeting: LiveMeeting;
}

export type LiveState = StreamState | { kind: 'off' };

/** The `reason` of an `event: end` ({"reason": "…"}), or a plain word when it has none. */
function endReasonOf(data: string): string {
  try {
    const v = JSON.parse(data) as unknown;
    if (isObject(v) && typeof v.reason === 'string' && v.reason !== '') return v.reason;
  } catch {
    /* not JSON */
  }
  return 'no reason given';
}

/** Most toasts on screen at once; an older one makes way. */
const MAX_TOASTS = 4;

/**
 * Follows the live meetings of `personId` (none when null) while the component is mounted:
 * reconnects by itself, stops on 401 (calling onUnauthorized), 403, 404 and other refusals, and
 * closes the stream on unmount or when the person changes. `subject` names the person in the
 * toasts (null: "You").
 */
export function useLiveMeetings(ctx: ApiContext, personId: number | null, subject: string | null, onUnauthorized: () => void) {
  const { base, token } = ctx;
  const [state, setState] = useState<LiveState>({ kind: 'off' });
  const [toasts, setToasts] = useState<Toast[]>([]);
  const subjectRef = useRef(subject);
  subjectRef.current = subject;
  const unauthorizedRef = useRef(onUnauthorized);
  unauthorizedRef.current = onUnauthorized;

  useEffect(() => {
    if (personId === null) {
      setState({ kind: 'off' });
      return;
    }
    const ctl = new AbortController();
    /** A reconnection may repeat a meeting: each is shown once. */
    const seen = new Set<string>();
    let next = 0;
    /** Why the server ended the stream (its last `event: end`), told with the reconnection. */
    let endReason: string | null = null;
    void followEventStream({
      url: `${base}${liveMeetingsPath(personId)}`,
      token,
      signal: ctl.signal,
      // Only meetings prove the stream healthy: one that greets and ends at once (connection-service down) backs off.
      healthy: (message) => message.event === 'meeting',
      onState: (s) => {
        if (s.kind === 'retrying' && endReason !== null) setState({ ...s, reason: `The server ended the stream (${endReason}).` });
        else setState(s);
        endReason = null;
      },
      onUnauthorized: () => unauthorizedRef.current(),
      onMessage: (message) => {
        if (message.event === 'end') {
          endReason = endReasonOf(message.data);
          // A server whose live meetings are turned off says so each time: asking again will not help.
          if (endReason.startsWith('UNIMPLEMENTED')) {
            ctl.abort();
            setState({ kind: 'stopped', reason: `The server does not offer them (${endReason}).` });
          }
          return;
        }
        if (message.event !== 'meeting') return;
        const meeting = parseMeeting(message.data);
        if (!meeting) return;
        const key = `${meeting.other_person.id} ${meeting.at} ${meeting.place?.id ?? ''}`;
        if (seen.has(key)) return;
        seen.add(key);
        const toast = { id: (next += 1), sentence: meetingSentence(meeting, subjectRef.current), meeting };
        setToasts((shown) => [...shown, toast].slice(-MAX_TOASTS));
      },
    });
    return () => {
      ctl.abort();
      setToasts([]);
    };
  }, [base, token, personId]);

  const dismiss = useCallback((id: number) => setToasts((shown) => shown.filter((t) => t.id !== id)), []);
  return { state, toasts, dismiss };
}

const meters = (m: number) => (m < 10 ? `${m.toFixed(1)} m` : `${Math.round(m)} m`);

function ToastCard({ toast, ttlMs, onDismiss }: { toast: Toast; ttlMs: number; onDismiss: (id: number) => void }) {
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    if (paused) return;
    const timer = setTimeout(() => onDismiss(toast.id), ttlMs);
    return () => clearTimeout(timer);
  }, [toast.id, ttlMs, onDismiss, paused]);
  const { at, distance_meters } = toast.meeting;
  return (
    // Hovering or focusing a toast keeps it until the pointer or focus leaves (then it gets its full time again).
    <div
      className="toast"
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
    >
      <p className="toast-text">{toast.sentence}</p>
      <p className="toast-facts">
        <time dateTime={at}>{utcClockSeconds(at)} UTC</time>
        {Number.isFinite(distance_meters) && <> · {meters(distance_meters)} apart</>}
      </p>
      <button type="button" aria-label="Dismiss" onClick={() => onDismiss(toast.id)}>
        ×
      </button>
    </div>
  );
}

/** The toasts, in a polite live region that is always in the page (so screen readers hear each new one). */
export function Toasts({ toasts, onDismiss, ttlMs = 8000 }: { toasts: Toast[]; onDismiss: (id: number) => void; ttlMs?: number }) {
  return (
    <div className="toasts" role="log" aria-live="polite" aria-relevant="additions" aria-label="Live meetings">
      {toasts.map((t) => (
        <ToastCard key={t.id} toast={t} ttlMs={ttlMs} onDismiss={onDismiss} />
      ))}
    </div>
  );
}

/** One line saying whether the page is listening for meetings. */
export function LiveStatus({ state, subject }: { state: LiveState; subject: string | null }) {
  const whom = subject === null ? 'you meet' : `${subject} meets`;
  let text: string;
  switch (state.kind) {
    case 'off':
      return null;
    case 'connecting':
      text = 'Live meetings: connecting…';
      break;
    case 'open':
      text = `Live meetings: on. A note pops up when ${whom} someone.`;
      break;
    case 'retrying':
      text = `Live meetings: reconnecting in ${Math.max(1, Math.round(state.inMs / 1000))} s. ${state.reason}`;
      break;
    case 'stopped':
      text = `Live meetings are off. ${state.reason}`;
      break;
  }
  return (
    <p className={`live-status ${state.kind}`} data-state={state.kind}>
      {text}
    </p>
  );
}
