/** What `npm start` runs (scripts/services.ts): ports, the test overrides, the restart backoff. */
import { nextRestart, selectServices } from '../../scripts/services';

test('restart backoff: 1 s, 2 s, 4 s … at most 30 s; a run of a minute or more starts over at 1 s', () => {
  const delays: number[] = [];
  let consecutive = 0;
  for (let i = 0; i < 8; i++) {
    const next = nextRestart(consecutive, 500); // each run died after half a second
    delays.push(next.delayMs / 1000);
    consecutive = next.consecutive;
  }
  expect(delays).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
  expect(nextRestart(consecutive, 59_999).delayMs).toBe(30_000);
  expect(nextRestart(consecutive, 60_000)).toEqual({ delayMs: 1_000, consecutive: 1 });
  expect(nextRestart(1, 60_000 * 10).delayMs).toBe(1_000);
});

test('npm start (no overrides): every service on 30000–30004, with the built-in addresses', () => {
  const all = selectServices({});
  expect(all.map((s) => [s.name, s.port])).toEqual([
    ['frontend', 30000],
    ['person-api', 30001],
    ['location-ingest', 30002],
    ['connection-service', 30003],
    ['location-writer', 30004],
  ]);
  expect(all.find((s) => s.name === 'frontend')!.url).toBe('http://localhost:30000/');
  expect(all.find((s) => s.name === 'person-api')!.url).toBe('http://localhost:30001/');
  // The frontend's operator port (/metrics) is set explicitly, as the other services' are.
  expect(all.find((s) => s.name === 'frontend')!.env?.METRICS_PORT).toBe('30010');
  // connection-service also serves the devices' Meetings port.
  expect(all.find((s) => s.name === 'connection-service')!.env?.MEETINGS_PORT).toBe('30005');
  // Nothing set that the services' defaults already say.
  for (const s of all) {
    expect(s.env?.PERSON_API_URL).toBeUndefined();
    expect(s.env?.CONNECTION_SERVICE_ADDRESS).toBeUndefined();
    expect(s.env?.CORS_ORIGINS).toBeUndefined();
  }
});

test('UDACONNECT_PORT_OFFSET moves every port and the addresses the services call each other on', () => {
  const all = selectServices({ UDACONNECT_PORT_OFFSET: '1000' });
  expect(all.map((s) => s.port)).toEqual([31000, 31001, 31002, 31003, 31004]);
  const byName = Object.fromEntries(all.map((s) => [s.name, s]));
  expect(byName.frontend!.env).toMatchObject({ PERSON_API_URL: 'http://localhost:31001', METRICS_PORT: '31010' });
  expect(byName['person-api']!.env).toMatchObject({ CONNECTION_SERVICE_ADDRESS: 'localhost:31003', CORS_ORIGINS: 'http://localhost:31000' });
  expect(byName['location-writer']!.url).toBe('http://localhost:31004/metrics');
  expect(byName['connection-service']!.env).toMatchObject({ MEETINGS_PORT: '31005', METRICS_PORT: '31013' });
});

test('UDACONNECT_SERVICES runs only the named services; bad values are refused', () => {
  expect(selectServices({ UDACONNECT_SERVICES: 'location-writer, person-api' }).map((s) => s.name)).toEqual(['person-api', 'location-writer']);
  expect(() => selectServices({ UDACONNECT_SERVICES: 'person-api,nope' })).toThrow(/unknown service nope/);
  expect(() => selectServices({ UDACONNECT_PORT_OFFSET: 'ten' })).toThrow(/UDACONNECT_PORT_OFFSET/);
  expect(() => selectServices({ UDACONNECT_PORT_OFFSET: '40000' })).toThrow(/UDACONNECT_PORT_OFFSET/);
});
