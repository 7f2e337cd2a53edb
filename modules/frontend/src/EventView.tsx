import { useEffect, useId, useState } from 'react';
import {
  fetchEvents,
  fetchPlaces,
  fetchSessions,
  fetchShared,
  fetchVisits,
  fullName,
  type ApiContext,
  type ConferenceEvent,
  type EventSession,
  type Person,
  type PersonShared,
  type PersonVisits,
  type Place,
} from './api';
import { FloorPlan, type PlaceActivity } from './FloorPlan';
import { SharedList } from './SharedList';
import { Timeline } from './Timeline';
import { utcDay, utcDaySpan } from './time';

type Remote<T> = { state: 'idle' } | { state: 'loading' } | { state: 'error'; message: string } | { state: 'ok'; data: T };

const startOf = (e: ConferenceEvent) => Date.parse(e.starts_at);
const isRunning = (e: ConferenceEvent, now: number) => startOf(e) <= now && now < Date.parse(e.ends_at);

/**
 * The event to show first: the one running now (the latest to start, if several), else the latest
 * that has started, else (all are still to come) the next one.
 */
export function defaultEvent(events: ConferenceEvent[], now: number): ConferenceEvent | undefined {
  const latest = (list: ConferenceEvent[]) => list.reduce<ConferenceEvent | undefined>((a, e) => (!a || startOf(e) > startOf(a) ? e : a), undefined);
  return (
    latest(events.filter((e) => isRunning(e, now))) ??
    latest(events.filter((e) => startOf(e) <= now)) ??
    events.reduce<ConferenceEvent | undefined>((a, e) => (!a || startOf(e) < startOf(a) ? e : a), undefined)
  );
}

function eventOption(e: ConferenceEvent, now: number): string {
  const [from, to] = [utcDay(e.starts_at), utcDay(new Date(Date.parse(e.ends_at) - 1).toISOString())];
  return `${e.name} (${from === to ? from : `${from} – ${to}`})${isRunning(e, now) ? ' · now' : ''}`;
}

interface Props {
  ctx: ApiContext;
  /** The event chosen in the picker; null: the default one (defaultEvent). */
  eventId: number | null;
  onEventId: (id: number) => void;
  /** The person whose visits, talks and shared places are shown; null for none yet. */
  person: Person | null;
  /** The person is the signed-in attendee. */
  isSelf: boolean;
  failed: (err: unknown, show: (message: string) => void) => void;
}

/**
 * One event: a picker, the floor plan (SVG, readable without tiles) with the talks, and for the
 * selected person their timeline of visits and talks and the people they shared them with.
 */
export function EventView({ ctx, eventId, onEventId, person, isSelf, failed }: Props) {
  const { base, token } = ctx;
  const pickerId = useId();
  const [events, setEvents] = useState<Remote<ConferenceEvent[]>>({ state: 'loading' });
  const [places, setPlaces] = useState<Remote<Place[]>>({ state: 'idle' });
  const [sessions, setSessions] = useState<Remote<EventSession[]>>({ state: 'idle' });
  const [visits, setVisits] = useState<Remote<PersonVisits>>({ state: 'idle' });
  const [shared, setShared] = useState<Remote<PersonShared>>({ state: 'idle' });
  const [pickedId, setPickedId] = useState<number | null>(null);
  const [now] = useState(() => Date.now());
  const personId = person?.id ?? null;

  useEffect(() => {
    const ctl = new AbortController();
    setEvents({ state: 'loading' });
    fetchEvents({ base, token }, ctl.signal).then(
      (data) => setEvents({ state: 'ok', data }),
      (err) => failed(err, (message) => setEvents({ state: 'error', message })),
    );
    return () => ctl.abort();
  }, [base, token, failed]);

  // The event chosen, else (none yet, or it is gone) the default one.
  const list = events.state === 'ok' ? events.data : null;
  const event = list ? (list.find((e) => e.id === eventId) ?? defaultEvent(list, now)) : undefined;
  const shownEventId = event?.id ?? null;

  useEffect(() => {
    if (shownEventId === null) {
      setPlaces({ state: 'idle' });
      setSessions({ state: 'idle' });
      return;
    }
    const ctl = new AbortController();
    const api = { base, token };
    setPlaces({ state: 'loading' });
    setSessions({ state: 'loading' });
    fetchPlaces(api, shownEventId, ctl.signal).then(
      (data) => setPlaces({ state: 'ok', data }),
      (err) => failed(err, (message) => setPlaces({ state: 'error', message })),
    );
    fetchSessions(api, shownEventId, ctl.signal).then(
      (data) => setSessions({ state: 'ok', data }),
      (err) => failed(err, (message) => setSessions({ state: 'error', message })),
    );
    return () => ctl.abort();
  }, [base, token, shownEventId, failed]);

  useEffect(() => {
    setPickedId(null);
    if (shownEventId === null || personId === null) {
      setVisits({ state: 'idle' });
      setShared({ state: 'idle' });
      return;
    }
    const ctl = new AbortController();
    const api = { base, token };
    setVisits({ state: 'loading' });
    setShared({ state: 'loading' });
    fetchVisits(api, personId, shownEventId, ctl.signal).then(
      (data) => setVisits({ state: 'ok', data }),
      (err) => failed(err, (message) => setVisits({ state: 'error', message })),
    );
    fetchShared(api, personId, shownEventId, ctl.signal).then(
      (data) => setShared({ state: 'ok', data }),
      (err) => failed(err, (message) => setShared({ state: 'error', message })),
    );
    return () => ctl.abort();
  }, [base, token, shownEventId, personId, failed]);

  const name = person ? fullName(person) : '';
  const who = isSelf ? 'you' : name;
  const placeList = places.state === 'ok' ? places.data : [];
  const visited =
    visits.state === 'ok' ? new Map<number, PlaceActivity>(visits.data.places.map((v) => [v.place.id, { minutes: v.minutes, visits: v.visits }])) : null;
  const picked = shared.state === 'ok' ? shared.data.shared.find((s) => s.person.id === pickedId) : undefined;
  const attended = new Set(visits.state === 'ok' ? visits.data.sessions.map((s) => s.session.id) : []);
  const placeName = new Map(placeList.map((p) => [p.id, p.name]));

  return (
    <>
      <h2 id="event-heading">{event ? event.name : 'Event'}</h2>
      {events.state === 'loading' && (
        <p className="loading" role="status">
          Loading events…
        </p>
      )}
      {events.state === 'error' && (
        <p className="error" role="alert">
          Could not load the events. {events.message}
        </p>
      )}
      {list && list.length === 0 && <p className="empty">No events yet.</p>}
      {list && list.length > 0 && (
        <form className="controls" aria-label="Event" onSubmit={(e) => e.preventDefault()}>
          <label htmlFor={pickerId}>Event</label>
          <select id={pickerId} name="event" value={shownEventId ?? ''} onChange={(e) => onEventId(Number(e.target.value))}>
            {[...list]
              .sort((a, b) => startOf(b) - startOf(a))
              .map((e) => (
                <option key={e.id} value={e.id}>
                  {eventOption(e, now)}
                </option>
              ))}
          </select>
          {event && <span className="hint">{utcDaySpan(event.starts_at, event.ends_at)} UTC</span>}
        </form>
      )}
      {event && (
        <div className="event-body">
          <section className="plan" aria-labelledby="plan-heading">
            <h3 id="plan-heading">Floor plan</h3>
            {places.state === 'loading' && (
              <p className="loading" role="status">
                Loading the floor plan…
              </p>
            )}
            {places.state === 'error' && (
              <p className="error" role="alert">
                Could not load the floor plan. {places.message}
              </p>
            )}
            {places.state === 'ok' &&
              (places.data.length === 0 ? (
                <p className="empty">This event has no places yet, so there is no floor plan.</p>
              ) : (
                <FloorPlan
                  eventName={event.name}
                  places={places.data}
                  visited={visited}
                  shared={picked ? new Set(picked.places.map((p) => p.id)) : null}
                  {...(picked ? { sharedWith: fullName(picked.person) } : {})}
                />
              ))}
            {sessions.state === 'error' && (
              <p className="error" role="alert">
                Could not load the talks. {sessions.message}
              </p>
            )}
            {sessions.state === 'ok' && sessions.data.length > 0 && (
              <details className="talks">
                <summary>Talks at this event ({sessions.data.length})</summary>
                <ol aria-label="Talks">
                  {sessions.data.map((s) => (
                    <li key={s.id} className={attended.has(s.id) ? 'attended' : undefined}>
                      <span className="when">{utcDaySpan(s.starts_at, s.ends_at)} UTC</span> <span className="name">{s.title}</span>
                      {placeName.has(s.place_id) && <span className="company"> · {placeName.get(s.place_id)}</span>}
                      {attended.has(s.id) && <span className="badge"> attended</span>}
                    </li>
                  ))}
                </ol>
              </details>
            )}
          </section>
          {person === null ? (
            <p className="hint">Select a person to see their visits and talks, and whom they shared them with.</p>
          ) : (
            <div className="person-at-event">
              <section aria-labelledby="timeline-heading">
                <h3 id="timeline-heading">{isSelf ? 'Your visits and talks' : `Visits and talks of ${name}`}</h3>
                {visits.state === 'loading' && (
                  <p className="loading" role="status">
                    Loading the timeline…
                  </p>
                )}
                {visits.state === 'error' && (
                  <p className="error" role="alert">
                    Could not load the timeline. {visits.message}
                  </p>
                )}
                {visits.state === 'ok' && <Timeline visits={visits.data} places={placeList} who={who} />}
              </section>
              <section aria-labelledby="shared-heading">
                <h3 id="shared-heading">{isSelf ? 'Who shared booths and talks with you' : `Who shared booths and talks with ${name}`}</h3>
                {shared.state === 'loading' && (
                  <p className="loading" role="status">
                    Loading who shared them…
                  </p>
                )}
                {shared.state === 'error' && (
                  <p className="error" role="alert">
                    Could not load who shared them. {shared.message}
                  </p>
                )}
                {shared.state === 'ok' && <SharedList shared={shared.data.shared} places={placeList} who={who} pickedId={pickedId} onPick={setPickedId} />}
              </section>
            </div>
          )}
        </div>
      )}
    </>
  );
}
