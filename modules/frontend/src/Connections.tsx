import { fullName, type PersonConnection } from './api';

interface Props {
  connections: PersonConnection[];
  highlightedId: number | null;
  onHighlight: (id: number | null) => void;
}

const when = (iso: string) => iso.replace('T', ' ').replace(/(:\d\d)(\.\d+)?Z$/, '$1 UTC');
const meters = (m: number) => (m < 10 ? `${m.toFixed(2)} m` : `${Math.round(m)} m`);

/** One row per person met; clicking a row highlights that person's meeting points on the map. */
export function Connections({ connections, highlightedId, onHighlight }: Props) {
  if (connections.length === 0) return <p className="empty">No connections in this range</p>;
  return (
    <ul className="connections" aria-label="Connections">
      {connections.map((c) => {
        const on = c.person.id === highlightedId;
        return (
          <li key={c.person.id}>
            <button type="button" aria-pressed={on} className={on ? 'on' : ''} onClick={() => onHighlight(on ? null : c.person.id)}>
              <span className="name">{fullName(c.person)}</span>
              <span className="company">{c.person.company_name}</span>
              <span className="facts">
                <span>first met {when(c.first_met)}</span>
                <span>last met {when(c.last_met)}</span>
                <span>
                  {c.match_count} {c.match_count === 1 ? 'match' : 'matches'}
                </span>
                <span>closest {meters(c.closest_distance_meters)}</span>
              </span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
