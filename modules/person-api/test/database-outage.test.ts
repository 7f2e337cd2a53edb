/** The database goes away (its connection is cut) and comes back: 503 meanwhile, then recovery without a restart. */
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import { eventually } from '../../../test/support/eventually';
import { infraEnv } from '../../../test/support/test-env';
import { startTestPersonApi, type Harness } from './harness';

let h: Harness;
let proxy: TcpProxy;
beforeAll(async () => {
  const pg = new URL(infraEnv().databaseUrl);
  proxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
  h = await startTestPersonApi('outage', {
    urlOverride: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(proxy.port);
      return u.toString();
    },
  });
});
afterAll(async () => {
  await h.close();
  await proxy.close();
});

test('answers 503 problem+json while the database is down and recovers by itself', async () => {
  await h.http.get('/api/persons').expect(200);

  await proxy.cut();
  const down = await h.http.get('/api/persons').expect(503);
  expect(down.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(down.body).toMatchObject({ status: 503, title: 'Service Unavailable' });
  await h.http.get('/api/persons/5').expect(503);
  await h.http.post('/api/persons').send({ first_name: 'A', last_name: 'B', company_name: 'C' }).expect(503);
  const ready = await h.http.get('/readyz').expect(503);
  expect(ready.body.detail).toMatch(/database/);
  await h.http.get('/healthz').expect(200);

  await proxy.restore();
  await eventually(async () => {
    await h.http.get('/api/persons').expect(200);
  });
  await h.http.get('/readyz').expect(200);
  const res = await h.http.get('/api/persons/5').expect(200);
  expect(res.body.first_name).toBe('Taco');
});
