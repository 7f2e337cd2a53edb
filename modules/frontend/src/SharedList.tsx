import { fullName, type Place, type SharedWith } from './api';
import { KIND_LABEL } from './FloorPlan';
import { utcClock } from './time';

interface Props {
  shared: SharedWith[];
  /** The event's places, to name the room of each shared talk. */
  places: Place[];
  who: string;
  /** The person whose shared places are ringed on the plan. */
  pickedId: number | null;
  onPick: (id: number | null) => void;
}

/**
 * The people the selected person shared places, talks or meetings with, as the API orders them
 * (most shared first). A row is a toggle: pressed, its shared places are ringed on the floor plan.
 */
export function SharedList({ shared, places, who, pickedId, onPick }: Props) {
  if (shared.length === 0) return <p className="empty">Nobody shared a booth, a talk or a meeting with {who} at this event.</p>;
  const placeName = new Map(places.map((p) => [p.id, p.name]));
  return (
    <ul className="shared-list" aria-label="Shared with">
      {shared.map((s) => {
        const on = s.person.id === pickedId;
        return (
          <li key={s.person.id}>
            <button type="button" aria-pressed={on} className={on ? 'on' : ''} onClick={() => onPick(on ? null : s.person.id)}>
              <span className="name">{fullName(s.person)}</span>
              <span className="company">{s.person.company_name}</span>
              <span className="facts">
                <span>
                  {s.meetings} {s.meetings === 1 ? 'meeting' : 'meetings'}
                </span>
                <span>
                  {s.places.length} {s.places.length === 1 ? 'place' : 'places'}
                </span>
                <span>
                  {s.sessions.length} {s.sessions.length === 1 ? 'talk' : 'talks'}
                </span>
              </span>
              {s.places.length > 0 && (
                <span className="shared-what">
                  <span className="label">Places:</span>{' '}
                  {s.places.map((p, i) => (
                    <span key={p.id} className="item">
                      {i > 0 && ', '}
                      {p.name} <span className="kind">({(KIND_LABEL[p.kind] ?? p.kind).toLowerCase()})</span>
                    </span>
                  ))}
                </span>
              )}
              {s.sessions.length > 0 && (
                <span className="shared-what">
                  <span className="label">Talks:</span>{' '}
                  {s.sessions.map((t, i) => {
                    const room = placeName.get(t.place_id);
                    return (
                      <span key={t.id} className="item">
                        {i > 0 && ', '}
                        {t.title}{' '}
                        <span className="kind">
                          ({utcClock(t.starts_at)} UTC{room !== undefined ? `, ${room}` : ''})
                        </span>
                      </span>
                    );
                  })}
                </span>
              )}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
