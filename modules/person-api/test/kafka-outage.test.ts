/**
 * person-api starts while Kafka is unreachable (the broker behind a TCP proxy that is cut): the API
 * answers, /readyz reports kafka: false, a ping is refused with 503 (never acknowledged before Kafka
 * has it); once the broker is reachable the producer connects by itself and pings are accepted.
 */
import { eventually } from '../../../test/support/eventually';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy';
import { infraEnv } from '../../../test/support/test-env';
import { startTestPersonApi, type Harness } from './harness';

let proxy: TcpProxy;
let h: Harness;
beforeAll(async () => {
  const [host, port] = infraEnv().kafkaBrokers.split(',')[0]!.split(':') as [string, string];
  proxy = await startTcpProxy(host, Number(port));
  await proxy.cut();
  h = await startTestPersonApi('kafkaoutage', { kafka: true, kafkaBrokers: `127.0.0.1:${proxy.port}`, waitForKafka: false });
}, 60_000);
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

const ping = () => ({ person_id: 5, latitude: 37.553441, longitude: -122.290524, creation_time: new Date().toISOString() });

test('starts without Kafka, refuses pings until it is reachable, then accepts them without a restart', async () => {
  await h.http.get('/api/persons/5').expect(200);
  const ready = await h.http.get('/readyz').expect(200);
  expect(ready.body.checks).toMatchObject({ database: true, kafka: false });
  const refused = await h.http.post('/api/locations').send(ping()).expect(503);
  expect(refused.headers['retry-after']).toBe('5');

  await proxy.restore();
  await eventually(async () => {
    await h.http.post('/api/locations').send(ping()).expect(202);
  }, 45_000);
  expect((await h.http.get('/readyz').expect(200)).body.checks.kafka).toBe(true);
}, 90_000);
