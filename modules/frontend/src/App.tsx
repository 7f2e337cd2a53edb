import { useEffect, useState } from 'react';
import {
  defaultParams,
  fetchConnections,
  fetchLocations,
  fetchPersons,
  fullName,
  validateParams,
  type Location,
  type Person,
  type PersonConnection,
  type QueryParams,
} from './api';
import { PeopleList } from './PeopleList';
import { Controls } from './Controls';
import { Connections } from './Connections';
import { MapView } from './MapView';

type Remote<T> = { state: 'idle' } | { state: 'loading' } | { state: 'error'; message: string } | { state: 'ok'; data: T };

export interface AppProps {
  /** Prefix for API calls; '' = same origin (the frontend server proxies /api). */
  apiBaseUrl: string;
}

const isAbort = (err: unknown) => (err as Error)?.name === 'AbortError';

export function App({ apiBaseUrl }: AppProps) {
  const [persons, setPersons] = useState<Remote<Person[]>>({ state: 'loading' });
  const [search, setSearch] = useState('');
  const [selectedId, setSelectedId] = useState<number | null>(null);
  const [params, setParams] = useState<QueryParams>(defaultParams);
  const [connections, setConnections] = useState<Remote<PersonConnection[]>>({ state: 'idle' });
  const [pings, setPings] = useState<Remote<Location[]>>({ state: 'idle' });
  const [highlightedId, setHighlightedId] = useState<number | null>(null);
  const problem = validateParams(params);

  useEffect(() => {
    const ctl = new AbortController();
    setPersons({ state: 'loading' });
    fetchPersons(apiBaseUrl, ctl.signal).then(
      (data) => setPersons({ state: 'ok', data }),
      (err) => !isAbort(err) && setPersons({ state: 'error', message: (err as Error).message }),
    );
    return () => ctl.abort();
  }, [apiBaseUrl]);

  useEffect(() => {
    if (selectedId === null || problem) {
      setConnections({ state: 'idle' });
      setPings({ state: 'idle' });
      return;
    }
    const ctl = new AbortController();
    setConnections({ state: 'loading' });
    setPings({ state: 'loading' });
    fetchConnections(apiBaseUrl, selectedId, params, ctl.signal).then(
      (data) => setConnections({ state: 'ok', data }),
      (err) => !isAbort(err) && setConnections({ state: 'error', message: (err as Error).message }),
    );
    fetchLocations(apiBaseUrl, selectedId, params, ctl.signal).then(
      (data) => setPings({ state: 'ok', data }),
      (err) => !isAbort(err) && setPings({ state: 'error', message: (err as Error).message }),
    );
    return () => ctl.abort();
  }, [apiBaseUrl, selectedId, params.startDate, params.endDate, params.distance, params.timeWindow, problem]);

  function select(id: number) {
    if (id !== selectedId) setHighlightedId(null);
    setSelectedId(id);
  }

  const selected = persons.state === 'ok' ? persons.data.find((p) => p.id === selectedId) : undefined;
  const errors = [
    persons.state === 'error' && `Could not load people. ${persons.message}`,
    connections.state === 'error' && `Could not load connections. ${connections.message}`,
    pings.state === 'error' && `Could not load locations. ${pings.message}`,
  ].filter((m): m is string => typeof m === 'string');

  return (
    <div className="app">
      <header>
        <h1>UdaConnect</h1>
        <p>Who was near whom: pick a person to see the people they met.</p>
      </header>
      {errors.length > 0 && (
        <div className="error-banner" role="alert">
          {errors.map((m) => (
            <p key={m}>{m}</p>
          ))}
          <button type="button" onClick={() => window.location.reload()}>
            Retry
          </button>
        </div>
      )}
      <main>
        <aside>
          {persons.state === 'loading' && <p className="loading" role="status">Loading people…</p>}
          {persons.state === 'ok' &&
            (persons.data.length === 0 ? (
              <p className="empty">No people yet.</p>
            ) : (
              <PeopleList persons={persons.data} search={search} onSearch={setSearch} selectedId={selectedId} onSelect={select} />
            ))}
        </aside>
        <section className="detail" aria-labelledby="connections-heading">
          <h2 id="connections-heading">{selected ? `Connections of ${fullName(selected)}` : 'Connections'}</h2>
          <Controls params={params} onChange={setParams} problem={problem} />
          {selectedId === null && <p className="hint">Select a person to see whom they met.</p>}
          {connections.state === 'loading' && <p className="loading" role="status">Loading connections…</p>}
          {connections.state === 'ok' && (
            <Connections connections={connections.data} highlightedId={highlightedId} onHighlight={setHighlightedId} />
          )}
          <MapView
            pings={pings.state === 'ok' ? pings.data : []}
            connections={connections.state === 'ok' ? connections.data : []}
            highlightedId={highlightedId}
          />
        </section>
      </main>
    </div>
  );
}
