/**
 * The persons the simulated devices belong to, through the public REST API: the existing
 * ones are reused, the missing ones created ("Attendee 0042"), so pings name real persons.
 */

export class PersonApiUnreachableError extends Error {
  constructor(
    readonly api: string,
    detail: string,
  ) {
    super(`cannot reach person-api at ${api} — is \`npm start\` running? (${detail})`);
    this.name = 'PersonApiUnreachableError';
  }
}

const COMPANIES = ['Acme Robotics', 'Globex', 'Initech', 'Hooli', 'Umbrella Labs', 'Stark Industries', 'Wayne Enterprises', 'Soylent'];
/** GET /api/persons returns at most this many per request. */
const PAGE = 10_000;

export interface EnsurePersonsOptions {
  /** An organizer token: listing and creating persons is the organizers' business. */
  token: string;
  concurrency?: number;
  timeoutMs?: number;
  /** Told after each person created. */
  onCreated?: (created: number, missing: number) => void;
}

/** Returns `count` person ids (the lowest existing ids first), creating as many persons as are missing. */
export async function ensurePersons(api: string, count: number, opts: EnsurePersonsOptions): Promise<number[]> {
  const base = api.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const call = async (path: string, init?: RequestInit): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        ...init,
        headers: { ...init?.headers, authorization: `Bearer ${opts.token}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new PersonApiUnreachableError(base, cause?.code ?? cause?.message ?? (err as Error).message);
    }
    const body = await res.text();
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${base}${path} answered ${res.status}: ${body.slice(0, 300)}`);
    return JSON.parse(body) as unknown;
  };

  const existing = ((await call(`/api/persons?limit=${PAGE}`)) as Array<{ id: number }>).map((p) => p.id).sort((a, b) => a - b);
  const ids = existing.slice(0, count);
  // Attendee numbers continue after the persons that exist: "Attendee 0006" when there are five.
  const todo = Array.from({ length: count - ids.length }, (_, k) => existing.length + k + 1);
  const missing = todo.length;
  const worker = async () => {
    for (let n = todo.shift(); n !== undefined; n = todo.shift()) {
      const person = (await call('/api/persons', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ first_name: 'Attendee', last_name: String(n).padStart(4, '0'), company_name: COMPANIES[n % COMPANIES.length] }),
      })) as { id: number };
      ids.push(person.id);
      opts.onCreated?.(ids.length - (count - missing), missing);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, missing) }, worker));
  return ids.sort((a, b) => a - b);
}
