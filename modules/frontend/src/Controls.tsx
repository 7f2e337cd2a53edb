import type { QueryParams } from './api';

interface Props {
  params: QueryParams;
  onChange: (next: QueryParams) => void;
  problem: string | null;
}

/** Date range, distance and optional time window; every change re-runs the query. */
export function Controls({ params, onChange, problem }: Props) {
  const set = (key: keyof QueryParams) => (e: React.ChangeEvent<HTMLInputElement>) => onChange({ ...params, [key]: e.target.value });
  return (
    <form className="controls" aria-label="Query" onSubmit={(e) => e.preventDefault()}>
      <label>
        Start date
        <input type="date" name="start_date" value={params.startDate} onChange={set('startDate')} />
      </label>
      <label>
        End date
        <input type="date" name="end_date" value={params.endDate} onChange={set('endDate')} />
      </label>
      <label>
        Distance (m)
        <input type="number" name="distance" min="0" max="10000" step="any" value={params.distance} onChange={set('distance')} />
      </label>
      <label>
        Time window (minutes, optional)
        <input type="number" name="time_window" min="0" step="any" placeholder="any time" value={params.timeWindow} onChange={set('timeWindow')} />
      </label>
      {problem && (
        <p className="problem" role="status">
          {problem}
        </p>
      )}
    </form>
  );
}
