import type { PersonVisits, Place } from './api';
import { KIND_LABEL } from './FloorPlan';
import { minutesText, utcDay, utcSpan } from './time';

interface Item {
  key: string;
  start: string;
  end: string;
  kind: 'visit' | 'talk';
  what: string;
  name: string;
  facts: string[];
}

/** The person's visits (one entry per place) and attended talks as one list, by time. */
export function timelineItems(visits: PersonVisits, places: Place[]): Item[] {
  const placeName = new Map(places.map((p) => [p.id, p.name]));
  const items: Item[] = [
    ...visits.places.map((v) => ({
      key: `place-${v.place.id}`,
      start: v.first_seen,
      end: v.last_seen,
      kind: 'visit' as const,
      what: KIND_LABEL[v.place.kind] ?? 'Place',
      name: v.place.name,
      facts: [`${v.visits} ${v.visits === 1 ? 'visit' : 'visits'}`, minutesText(v.minutes)],
    })),
    ...visits.sessions.map((s) => {
      const where = placeName.get(s.session.place_id);
      const talkMinutes = (Date.parse(s.session.ends_at) - Date.parse(s.session.starts_at)) / 60_000;
      return {
        key: `session-${s.session.id}`,
        start: s.session.starts_at,
        end: s.session.ends_at,
        kind: 'talk' as const,
        what: 'Talk',
        name: s.session.title,
        facts: [
          ...(where !== undefined ? [`in ${where}`] : []),
          `${minutesText(s.minutes_inside)} inside${Number.isFinite(talkMinutes) ? ` of ${minutesText(talkMinutes)}` : ''}`,
        ],
      };
    }),
  ];
  return items.sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

/** By UTC day: a heading per day, then that day's visits and talks with their times and minutes. */
export function Timeline({ visits, places, who }: { visits: PersonVisits; places: Place[]; who: string }) {
  const items = timelineItems(visits, places);
  if (items.length === 0) return <p className="empty">No visits or talks recorded for {who} at this event.</p>;
  const days = new Map<string, Item[]>();
  for (const item of items) {
    const day = utcDay(item.start);
    days.set(day, [...(days.get(day) ?? []), item]);
  }
  return (
    <div className="timeline">
      {[...days].map(([day, dayItems]) => (
        <section key={day} aria-label={`${day} (UTC)`}>
          <h4>{day}</h4>
          <ol aria-label={`Timeline, ${day}`}>
            {dayItems.map((item) => (
              <li key={item.key} className={`timeline-item ${item.kind}`}>
                <span className="when">
                  <time dateTime={item.start}>{utcSpan(item.start, item.end)}</time> UTC
                </span>
                <span className="what">{item.what}</span>
                <span className="name">{item.name}</span>
                <span className="facts">
                  {item.facts.map((f, i) => (
                    <span key={i}>{f}</span>
                  ))}
                </span>
              </li>
            ))}
          </ol>
        </section>
      ))}
    </div>
  );
}
