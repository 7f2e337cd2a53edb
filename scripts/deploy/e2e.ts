/**
 * The end-to-end checks of `npm run test:deploy`, from the host (outside every pod) against the
 * pods that scripts/deploy/podman-run.sh started from the rendered manifests:
 *
 *   1. an organizer token signed with the key of the udaconnect-auth Secret (the file person-api
 *      mounts), as scripts/k3s-token.sh makes one from the cluster
 *   2. scripts/simulate.ts streams gRPC pings over TLS into location-ingest (CA of udaconnect-tls)
 *   3. the pings appear as rows in PostGIS (ct_admin, through the postgis pod's published port)
 *   4. two persons at the same place (POST /api/locations → Kafka → location-writer) are each
 *      other's connection over REST (person-api → connection-service over gRPC)
 *   5. an event with a booth: 3 minutes of a person's pings there are a visit (location-writer), and two
 *      persons meeting there are told on the SSE stream (connection-service ← Kafka, via person-api)
 *   6. the frontend serves its page, and its /api proxy reaches person-api over in-cluster TLS
 *
 * usage: node --import tsx scripts/deploy/podman-kube.ts e2e <plan.json> <ca.crt> <secrets.env>
 * Prints "PROVED …" lines (test-deploy.sh collects them); throws on the first failed check.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { organizerTokens } from '@udaconnect/common';
import { MeetingsClient, type Meeting } from '@udaconnect/proto';
import type { Plan } from './podman-kube';

const ROOT = path.resolve(__dirname, '../..');

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function request(url: string, opts: { method?: string; token?: string; ca?: Buffer; body?: unknown } = {}): Promise<Answer> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method ?? 'GET',
        ca: opts.ca,
        timeout: 15_000,
        headers: {
          ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      },
    );
    req.once('timeout', () => req.destroy(new Error(`${url}: timeout`)));
    req.once('error', reject);
    req.end(payload);
  });
}

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const proved = (s: string) => console.log(`PROVED ${s}`);

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${(last as Error).message})` : ''}`);
}

export async function runEndToEnd(args: string[]): Promise<void> {
  const [planFile, caFile, secretsEnv] = args;
  if (!planFile || !caFile || !secretsEnv) throw new Error('usage: e2e.ts <plan.json> <ca.crt> <secrets.env>');
  const plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as Plan;
  const ca = fs.readFileSync(caFile);
  const pod = (name: string) => {
    const p = plan.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name} in the plan`);
    return p;
  };
  const hostPort = (name: string, containerPort: number) => {
    const p = pod(name).ports[String(containerPort)];
    if (!p) throw new Error(`${name} publishes no port ${containerPort}`);
    return p;
  };
  const api = `https://127.0.0.1:${hostPort('person-api', 30001)}`;
  const ingest = `127.0.0.1:${hostPort('location-ingest', 30002)}`;
  const frontend = `http://127.0.0.1:${hostPort('frontend', 30000)}`;
  const meetingsPort = `127.0.0.1:${hostPort('connection-service', 30005)}`;

  // 1. Token, signed with the private key person-api mounts from the udaconnect-auth Secret.
  const keyFile = path.join(path.dirname(planFile), 'volumes', 'person-api', 'auth', 'signing-key.json');
  const { token } = await (await organizerTokens(keyFile))('deploy-test', 900);
  const me = await request(`${api}/api/me`, { token, ca });
  check(me.status === 200, `GET /api/me with the cluster-key token → ${me.status} ${me.body}`);
  const noToken = await request(`${api}/api/persons`, { ca });
  check(noToken.status === 401, `GET /api/persons without a token → ${noToken.status} (want 401)`);
  proved(
    `person-api over HTTPS (CA of udaconnect-tls) accepts a token signed with the Secret's key (/api/me: ${(JSON.parse(me.body) as { role: string }).role}) and refuses none (401)`,
  );

  // 2. Pings over gRPC with TLS, by the repository's simulator.
  const started = new Date();
  const sim = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/simulate.ts',
      '--target',
      ingest,
      '--api',
      api,
      '--ca',
      caFile,
      '--token',
      token,
      '--persons',
      '4',
      '--rate',
      '40',
      '--duration',
      '3',
      '--streams',
      '1',
      '--batch',
      '20',
    ],
    { cwd: ROOT, timeout: 90_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile } },
  ).catch((e: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`simulate failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  });
  const acked = Number(/acknowledged ([\d,]+)/.exec(sim.stdout)?.[1]?.replace(/,/g, '') ?? 'NaN');
  const ids = /ids (\d+)…(\d+)/.exec(sim.stdout);
  check(acked > 0 && ids, `simulate acknowledged pings: ${sim.stdout}`);
  proved(`gRPC (TLS) into location-ingest: scripts/simulate.ts had ${acked} pings acknowledged for persons ${ids[1]}…${ids[2]}`);

  // 3. Rows in PostGIS, through location-writer.
  const env = Object.fromEntries(
    fs
      .readFileSync(secretsEnv, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const db = new pg.Client({
    host: '127.0.0.1',
    port: hostPort('postgis', 5432),
    user: 'ct_admin',
    password: env.POSTGRES_PASSWORD,
    database: 'geoconnections',
  });
  await db.connect();
  try {
    const rows = await until('the pings as rows in PostGIS', 60_000, async () => {
      const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM location WHERE person_id BETWEEN $1 AND $2 AND received_at >= $3', [
        ids[1],
        ids[2],
        started,
      ]);
      const n = Number(r.rows[0]!.n);
      return n >= acked ? n : undefined;
    });
    const pgv = await db.query<{ v: string }>('SELECT postgis_lib_version() AS v');
    proved(`PostGIS ${pgv.rows[0]!.v} holds ${rows} location rows for the simulated persons (location-ingest → Kafka → location-writer)`);
  } finally {
    await db.end();
  }

  // 4. Persons and a connection over REST.
  const mk = async (first: string) => {
    const r = await request(`${api}/api/persons`, {
      method: 'POST',
      token,
      ca,
      body: { first_name: first, last_name: 'Deploytest', company_name: 'udaconnect' },
    });
    check(r.status === 201, `POST /api/persons → ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { id: number }).id;
  };
  const a = await mk('Ada');
  const b = await mk('Bob');
  const when = new Date().toISOString();
  for (const person_id of [a, b]) {
    const r = await request(`${api}/api/locations`, {
      method: 'POST',
      token,
      ca,
      body: { person_id, latitude: 37.55363, longitude: -122.290883, creation_time: when },
    });
    check(r.status === 202, `POST /api/locations → ${r.status} ${r.body}`);
  }
  const day = when.slice(0, 10);
  const connections = await until(`person ${a}'s connection to ${b}`, 60_000, async () => {
    const r = await request(`${api}/api/persons/${a}/connection?start_date=${day}&end_date=${day}&distance=5`, { token, ca });
    check(r.status === 200, `GET /api/persons/${a}/connection → ${r.status} ${r.body}`);
    const list = JSON.parse(r.body) as { person: { id: number } }[];
    return list.some((c) => c.person.id === b) ? list : undefined;
  });
  const persons = await request(`${api}/api/persons`, { token, ca });
  check(persons.status === 200, `GET /api/persons → ${persons.status}`);
  const count = (JSON.parse(persons.body) as unknown[]).length;
  proved(
    `REST through person-api: ${count} persons listed; persons ${a} and ${b}, located together by POST /api/locations, are connected (${connections.length} connection(s), via connection-service gRPC)`,
  );

  // 5. Presence and live meetings: an event with a booth; a person's pings there for 3 minutes become a
  //    visit (location-writer's presence worker), and two persons meeting there now are told on the SSE
  //    stream (connection-service reading Kafka → Meetings/Watch → person-api).
  await presenceAndMeetings({ api, token, ca, mk, meetingsPort });

  // 6. The frontend's page and its proxy to person-api (in-cluster name + the CA of udaconnect-tls).
  const page = await request(`${frontend}/`);
  check(page.status === 200 && /<html/i.test(page.body), `GET ${frontend}/ → ${page.status}`);
  const title = /<title>([^<]*)<\/title>/i.exec(page.body)?.[1] ?? '(no title)';
  const proxied = await request(`${frontend}/api/persons/${a}`, { token });
  check(
    proxied.status === 200 && (JSON.parse(proxied.body) as { id: number }).id === a,
    `GET ${frontend}/api/persons/${a} → ${proxied.status} ${proxied.body}`,
  );
  proved(
    `frontend serves its page ("${title}", ${page.body.length} bytes, CSP ${page.headers['content-security-policy'] ? 'set' : 'missing'}) and proxies /api to person-api over TLS by its Service name`,
  );
}

/** Step 5 (see the file's comment). */
async function presenceAndMeetings(o: { api: string; token: string; ca: Buffer; mk: (first: string) => Promise<number>; meetingsPort: string }): Promise<void> {
  const { api, token, ca } = o;
  const post = async (path: string, body: unknown, want: number) => {
    const r = await request(`${api}${path}`, { method: 'POST', token, ca, body });
    check(r.status === want, `POST ${path} → ${r.status} ${r.body}`);
    return JSON.parse(r.body) as { id: number };
  };
  // Away from step 4's pings (37.55363, -122.290883): only Cy and Dee meet here.
  const [lat, lon, d] = [37.5612, -122.2987, 0.00004];
  const now = Date.now();
  const event = await post(
    '/api/events',
    { name: `Deploy test ${now}`, starts_at: new Date(now - 3_600_000).toISOString(), ends_at: new Date(now + 3_600_000).toISOString() },
    201,
  );
  const ring = [
    [lon - d, lat - d],
    [lon + d, lat - d],
    [lon + d, lat + d],
    [lon - d, lat + d],
    [lon - d, lat - d],
  ];
  const booth = await post(`/api/events/${event.id}/places`, { name: 'Booth 1', kind: 'booth', area: { type: 'Polygon', coordinates: [ring] } }, 201);
  const [cy, dee] = [await o.mk('Cy'), await o.mk('Dee')];

  // A visit: Cy's pings every 30 s from 4 to 1 minutes ago.
  for (let i = 0; i <= 6; i++) {
    const creation_time = new Date(now - 240_000 + i * 30_000).toISOString();
    await post('/api/locations', { person_id: cy, latitude: lat, longitude: lon, creation_time }, 202);
  }
  const visit = await until(`person ${cy}'s visit to the booth`, 60_000, async () => {
    const r = await request(`${api}/api/persons/${cy}/visits?event_id=${event.id}`, { token, ca });
    check(r.status === 200, `GET /api/persons/${cy}/visits → ${r.status} ${r.body}`);
    const places = (JSON.parse(r.body) as { places: Array<{ place: { id: number }; minutes: number }> }).places;
    return places.find((p) => p.place.id === booth.id);
  });

  // A live meeting, told to Cy's phone on connection-service's devices' port (gRPC over TLS, with a
  // device token person-api issues) and to Dee on the SSE stream.
  const issued = await request(`${api}/api/persons/${cy}/devices`, { method: 'POST', token, ca, body: { label: 'deploy-test phone', ttl: '15m' } });
  check(issued.status === 201, `POST /api/persons/${cy}/devices → ${issued.status} ${issued.body}`);
  const deviceToken = (JSON.parse(issued.body) as { token: string }).token;
  const phoneClient = new MeetingsClient(o.meetingsPort, grpc.credentials.createSsl(ca));
  const auth = new grpc.Metadata();
  auth.set('authorization', `Bearer ${deviceToken}`);
  const phoneGot: Meeting[] = [];
  let phoneError: grpc.ServiceError | undefined;
  let phoneOpen = false;
  let phone: grpc.ClientReadableStream<Meeting> | undefined;
  const openPhone = () => {
    phoneError = undefined;
    const call = phoneClient.watch({}, auth);
    call.on('data', (m: Meeting) => phoneGot.push(m));
    call.on('error', (err: grpc.ServiceError) => (phoneError = err));
    call.on('metadata', () => (phoneOpen = true));
    phone = call;
  };
  openPhone();
  // UNAVAILABLE while connection-service is still catching up with the topic: call again, as a phone does.
  await until(`Cy's phone stream open on ${o.meetingsPort}`, 60_000, () => {
    const failed = phoneError;
    if (failed) {
      if (failed.code === grpc.status.UNAVAILABLE) openPhone();
      throw new Error(`Meetings/Watch on the devices' port: ${failed.code} ${failed.details}`);
    }
    return Promise.resolve(phoneOpen || undefined);
  });
  let text = '';
  const stream = await new Promise<http.ClientRequest>((resolve, reject) => {
    const req = https.get(`${api}/api/persons/${dee}/meetings/live`, { ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /api/persons/${dee}/meetings/live → ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      resolve(req);
    });
    req.once('error', reject);
  });
  try {
    // connection-service may still be catching up with the topic: until it answers, the stream ends with
    // `event: end`; the place index refreshes every 5 s. Send the pair of pings again until Dee is told.
    const meeting = await until(`a live meeting of persons ${cy} and ${dee} on the SSE stream`, 90_000, async () => {
      if (/event: end/.test(text)) throw new Error(`the meetings stream ended: ${text}`);
      const at = Date.now();
      await post('/api/locations', { person_id: cy, latitude: lat, longitude: lon, creation_time: new Date(at).toISOString() }, 202);
      await post('/api/locations', { person_id: dee, latitude: lat + 0.00001, longitude: lon, creation_time: new Date(at + 1000).toISOString() }, 202);
      await new Promise((r) => setTimeout(r, 3_000));
      const told = [...text.matchAll(/event: meeting\ndata: (.*)\n/g)].map(
        (m) => JSON.parse(m[1]!) as { other_person: { id: number }; place: { name: string } | null; distance_meters: number },
      );
      check(
        told.every((t) => t.other_person.id === cy),
        `Dee is told only of Cy: ${JSON.stringify(told)}`,
      );
      if (phoneError) throw new Error(`Cy's phone stream failed: ${phoneError.code} ${phoneError.details}`);
      check(
        phoneGot.every((m) => m.otherPersonId === dee),
        `Cy's phone is told only of Dee: ${JSON.stringify(phoneGot)}`,
      );
      return told[0] && phoneGot[0] ? told[0] : undefined;
    });
    proved(
      `presence and meetings: person ${cy}'s 3 minutes at a booth are a visit (${visit.minutes} min, location-writer), and persons ${cy} and ${dee} ` +
        `meeting there are told on the SSE stream (${meeting.distance_meters} m at ${meeting.place?.name ?? 'no place'}; connection-service ← Kafka → Meetings/Watch → person-api) ` +
        `and on person ${cy}'s phone: Meetings/Watch over TLS on connection-service's devices' port, with a device token`,
    );
  } finally {
    stream.destroy();
    phone?.cancel();
    phoneClient.close();
  }
}
