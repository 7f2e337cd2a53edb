import { useCallback, useEffect, useLayoutEffect, useState, type KeyboardEvent, type ReactNode } from 'react';
import {
  defaultParams,
  fetchConnections,
  fetchLocations,
  fetchMe,
  fetchPerson,
  fetchPersons,
  fullName,
  UnauthorizedError,
  validateParams,
  type ApiContext,
  type Location,
  type Me,
  type Person,
  type PersonConnection,
  type QueryParams,
  type Role,
} from './api';
import { PeopleList } from './PeopleList';
import { Controls } from './Controls';
import { Connections } from './Connections';
import { MapView } from './MapView';
import { EventView } from './EventView';
import { LiveStatus, Toasts, useLiveMeetings } from './LiveMeetings';
import { DEFAULT_TILE_URL } from './config';
import { SignIn } from './SignIn';
import { clearToken, EXPIRED_MESSAGE, readToken, storeToken, takeTokenFromFragment } from './session';

type Remote<T> = { state: 'idle' } | { state: 'loading' } | { state: 'error'; message: string } | { state: 'ok'; data: T };

export interface AppProps {
  /** Prefix for API calls; '' = same origin (the frontend server proxies /api). */
  apiBaseUrl: string;
  /** Leaflet tile URL template, from the server's TILE_URL (/config.json). */
  tileUrl?: string;
}

const isAbort = (err: unknown) => (err as Error)?.name === 'AbortError';
const hasLinkToken = () => new URLSearchParams(window.location.hash.slice(1)).has('token');

interface Auth {
  token: string | null;
  /** Why the sign-in form is shown. */
  message: string | null;
}

export function App({ apiBaseUrl, tileUrl = DEFAULT_TILE_URL }: AppProps) {
  const [auth, setAuth] = useState<Auth>(() => ({ token: hasLinkToken() ? null : readToken(), message: null }));

  // A sign-in link (#token=…), on load or pasted into the address bar of this tab later.
  useLayoutEffect(() => {
    const take = () => {
      const r = takeTokenFromFragment();
      if (r === null) return;
      if ('token' in r) return setAuth({ token: r.token, message: null });
      clearToken();
      setAuth({ token: null, message: r.problem });
    };
    take();
    window.addEventListener('hashchange', take);
    return () => window.removeEventListener('hashchange', take);
  }, []);

  const signIn = useCallback((token: string) => {
    storeToken(token);
    setAuth({ token, message: null });
  }, []);
  const signOut = useCallback((message: string | null) => {
    clearToken();
    setAuth({ token: null, message });
  }, []);

  if (auth.token === null) {
    return (
      <Shell tagline="Who was near whom at the conference. Sign in to see it.">
        <main className="signed-out">
          <SignIn message={auth.message} onSignIn={signIn} />
        </main>
      </Shell>
    );
  }
  // Keyed by the token: a new sign-in starts from a clean slate.
  return <SignedIn key={auth.token} ctx={{ base: apiBaseUrl, token: auth.token }} tileUrl={tileUrl} onSignOut={signOut} />;
}

const TAGLINE = 'Who was near whom: pick a person to see the people they met.';

function Shell({ who, tagline = TAGLINE, children }: { who?: ReactNode; tagline?: string; children: ReactNode }) {
  return (
    <div className="app">
      <header>
        <div>
          <h1>UdaConnect</h1>
          <p>{tagline}</p>
        </div>
        {who}
      </header>
      {children}
    </div>
  );
}

const MAX_TIMER_MS = 2 ** 31 - 1;

interface SignedInProps {
  ctx: ApiContext;
  tileUrl: string;
  onSignOut: (message: string | null) => void;
}

/** Asks GET /api/me who the token speaks for, then shows the organizer's or the attendee's view. */
function SignedIn({ ctx, tileUrl, onSignOut }: SignedInProps) {
  // App passes a new ctx object on every render: the effects follow its fields, not the object.
  const { base, token } = ctx;
  const [me, setMe] = useState<Remote<Me & { role: Role }>>({ state: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const expired = useCallback(() => onSignOut(EXPIRED_MESSAGE), [onSignOut]);
  /** Any API call that answers 401 ends the session. */
  const failed = useCallback(
    (err: unknown, show: (message: string) => void) => {
      if (isAbort(err)) return;
      if (err instanceof UnauthorizedError) return expired();
      show((err as Error).message);
    },
    [expired],
  );

  useEffect(() => {
    const ctl = new AbortController();
    setMe({ state: 'loading' });
    const api = { base, token };
    (async () => {
      const who = await fetchMe(api, ctl.signal);
      if (who.role !== 'organizer' && who.role !== 'attendee') {
        return onSignOut(`This token is for the role “${who.role}”, which cannot use this page. Sign in with an organizer’s or an attendee’s token.`);
      }
      if (who.role === 'attendee') {
        if (typeof who.person_id !== 'number') throw new Error('The API named no person for this attendee token.');
        if (!who.person) who.person = await fetchPerson(api, who.person_id, ctl.signal);
      }
      setMe({ state: 'ok', data: who as Me & { role: Role } });
    })().catch((err) => failed(err, (message) => setMe({ state: 'error', message })));
    return () => ctl.abort();
  }, [base, token, attempt, failed, onSignOut]);

  // The page signs itself out when the token runs out, rather than at the next failed call.
  const expiresAt = me.state === 'ok' ? Date.parse(me.data.expires_at) : NaN;
  useEffect(() => {
    if (!Number.isFinite(expiresAt)) return;
    const t = setTimeout(expired, Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())));
    return () => clearTimeout(t);
  }, [expiresAt, expired]);

  const who = (
    <div className="who" role="group" aria-label="Signed in">
      {me.state === 'ok' && (
        <p>
          Signed in as <strong className="role">{me.data.role}</strong>
          {me.data.role === 'attendee' && me.data.person && (
            <>
              {' '}
              <span className="who-name">{fullName(me.data.person)}</span>
            </>
          )}
          <span className="expires"> · until {new Date(expiresAt).toLocaleString()}</span>
        </p>
      )}
      <button type="button" onClick={() => onSignOut(null)}>
        Sign out
      </button>
    </div>
  );

  return (
    <Shell who={who} tagline={me.state === 'ok' && me.data.role === 'attendee' ? 'Who you were near, and when.' : TAGLINE}>
      {me.state === 'loading' && (
        <p className="loading page-status" role="status">
          Signing in…
        </p>
      )}
      {me.state === 'error' && (
        <div className="error-banner" role="alert">
          <p>Could not check your sign-in. {me.message}</p>
          <button type="button" onClick={() => setAttempt((n) => n + 1)}>
            Retry
          </button>
        </div>
      )}
      {me.state === 'ok' && <Workspace ctx={ctx} me={me.data} tileUrl={tileUrl} failed={failed} />}
    </Shell>
  );
}

interface WorkspaceProps {
  ctx: ApiContext;
  me: Me & { role: Role };
  tileUrl: string;
  failed: (err: unknown, show: (message: string) => void) => void;
}

/** The organizer picks anyone from the people list; an attendee sees themself and their contacts. */
function Workspace({ ctx, me, tileUrl, failed }: WorkspaceProps) {
  const { base, token } = ctx; // a new object whenever App renders: the effects follow its fields
  const attendee = me.role === 'attendee' ? (me.person ?? null) : null;
  const [persons, setPersons] = useState<Remote<Person[]>>(attendee ? { state: 'ok', data: [attendee] } : { state: 'loading' });
  const [search, setSearch] = useState('');
  const [selectedId, setSelectedId] = useState<number | null>(attendee ? attendee.id : null);
  const [params, setParams] = useState<QueryParams>(defaultParams);
  const [connections, setConnections] = useState<Remote<PersonConnection[]>>({ state: 'idle' });
  const [pings, setPings] = useState<Remote<Location[]>>({ state: 'idle' });
  const [highlightedId, setHighlightedId] = useState<number | null>(null);
  const [view, setView] = useState<View>('connections');
  const [eventId, setEventId] = useState<number | null>(null);
  const problem = validateParams(params);
  const { startDate, endDate, distance, timeWindow } = params;

  useEffect(() => {
    if (attendee) return; // an attendee may not list everyone (403): they see themself
    const ctl = new AbortController();
    setPersons({ state: 'loading' });
    fetchPersons({ base, token }, ctl.signal).then(
      (data) => setPersons({ state: 'ok', data }),
      (err) => failed(err, (message) => setPersons({ state: 'error', message })),
    );
    return () => ctl.abort();
  }, [base, token, attendee, failed]);

  useEffect(() => {
    if (selectedId === null || problem) {
      setConnections({ state: 'idle' });
      setPings({ state: 'idle' });
      return;
    }
    const ctl = new AbortController();
    setConnections({ state: 'loading' });
    setPings({ state: 'loading' });
    const api = { base, token };
    const query = { startDate, endDate, distance, timeWindow };
    fetchConnections(api, selectedId, query, ctl.signal).then(
      (data) => setConnections({ state: 'ok', data }),
      (err) => failed(err, (message) => setConnections({ state: 'error', message })),
    );
    fetchLocations(api, selectedId, query, ctl.signal).then(
      (data) => setPings({ state: 'ok', data }),
      (err) => failed(err, (message) => setPings({ state: 'error', message })),
    );
    return () => ctl.abort();
  }, [base, token, selectedId, startDate, endDate, distance, timeWindow, problem, failed]);

  function select(id: number) {
    if (id !== selectedId) setHighlightedId(null);
    setSelectedId(id);
  }

  const selected = persons.state === 'ok' ? persons.data.find((p) => p.id === selectedId) : undefined;
  const expired = useCallback(() => failed(new UnauthorizedError('The API answered 401.'), () => undefined), [failed]);
  /** Whom live meetings are about: "You" for the attendee, else the person selected. */
  const liveSubject = attendee ? null : selected ? fullName(selected) : `Person ${selectedId}`;
  const live = useLiveMeetings(ctx, selectedId, liveSubject, expired);
  const errors = [
    persons.state === 'error' && `Could not load people. ${persons.message}`,
    connections.state === 'error' && `Could not load connections. ${connections.message}`,
    pings.state === 'error' && `Could not load locations. ${pings.message}`,
  ].filter((m): m is string => typeof m === 'string');

  return (
    <>
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
          {attendee ? (
            <section className="people" aria-labelledby="you-heading">
              <h2 id="you-heading">You</h2>
              <div className="you" aria-label="Your details">
                <span className="name">{fullName(attendee)}</span>
                <span className="company">{attendee.company_name}</span>
              </div>
              <p className="hint">Your connections and your pings; nobody else’s.</p>
            </section>
          ) : (
            <>
              {persons.state === 'loading' && (
                <p className="loading" role="status">
                  Loading people…
                </p>
              )}
              {persons.state === 'ok' &&
                (persons.data.length === 0 ? (
                  <p className="empty">No people yet.</p>
                ) : (
                  <PeopleList persons={persons.data} search={search} onSearch={setSearch} selectedId={selectedId} onSelect={select} />
                ))}
            </>
          )}
        </aside>
        <section className="detail">
          <ViewTabs view={view} onView={setView} />
          <LiveStatus state={live.state} subject={liveSubject} />
          {view === 'connections' ? (
            <div role="tabpanel" id="panel-connections" aria-labelledby="tab-connections">
              <h2 id="connections-heading">{selected ? `Connections of ${fullName(selected)}` : 'Connections'}</h2>
              <Controls params={params} onChange={setParams} problem={problem} />
              {selectedId === null && <p className="hint">Select a person to see whom they met.</p>}
              {connections.state === 'loading' && (
                <p className="loading" role="status">
                  Loading connections…
                </p>
              )}
              {connections.state === 'ok' && <Connections connections={connections.data} highlightedId={highlightedId} onHighlight={setHighlightedId} />}
              <MapView
                tileUrl={tileUrl}
                pings={pings.state === 'ok' ? pings.data : []}
                connections={connections.state === 'ok' ? connections.data : []}
                highlightedId={highlightedId}
              />
            </div>
          ) : (
            <div role="tabpanel" id="panel-event" aria-labelledby="tab-event">
              <EventView ctx={ctx} eventId={eventId} onEventId={setEventId} person={attendee ?? selected ?? null} isSelf={attendee !== null} failed={failed} />
            </div>
          )}
        </section>
      </main>
      <Toasts toasts={live.toasts} onDismiss={live.dismiss} />
    </>
  );
}

type View = 'connections' | 'event';
const VIEWS: Array<{ view: View; label: string }> = [
  { view: 'connections', label: 'Connections' },
  { view: 'event', label: 'Event' },
];

/** The two views of the selected person: tabs (arrow keys move between them). */
function ViewTabs({ view, onView }: { view: View; onView: (v: View) => void }) {
  function onKeyDown(e: KeyboardEvent<HTMLButtonElement>, index: number) {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (step === 0) return;
    e.preventDefault();
    const next = VIEWS[(index + step + VIEWS.length) % VIEWS.length]!;
    onView(next.view);
    document.getElementById(`tab-${next.view}`)?.focus();
  }
  return (
    <div className="tabs" role="tablist" aria-label="Views">
      {VIEWS.map((v, i) => (
        <button
          key={v.view}
          type="button"
          role="tab"
          id={`tab-${v.view}`}
          aria-selected={view === v.view}
          aria-controls={`panel-${v.view}`}
          tabIndex={view === v.view ? 0 : -1}
          onClick={() => onView(v.view)}
          onKeyDown={(e) => onKeyDown(e, i)}
        >
          {v.label}
        </button>
      ))}
    </div>
  );
}
