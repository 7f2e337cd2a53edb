/** The Kafka wrapper against the real broker that `npm test` provisions. */
import { createLogger } from '../src/logger';
import { createKafkaBus, type IncomingMessage, type KafkaBus } from '../src/kafka';
import { infraEnv, runId } from '../../../test/support/test-env';

let bus: KafkaBus;
beforeAll(() => {
  bus = createKafkaBus({ brokers: infraEnv().kafkaBrokers.split(','), clientId: 'common-test', logger: createLogger('kafka-test', 'silent') });
});
afterAll(() => bus.close());

test('a message produced to a fresh topic is consumed back with its key and headers, and offsets are committed', async () => {
  const topic = `test.${runId()}.roundtrip.${Date.now()}`;
  await bus.ensureTopics([{ topic, numPartitions: 3 }]);
  await bus.ensureTopics([{ topic, numPartitions: 3 }]); // idempotent
  expect(await bus.isReachable()).toBe(true);

  const producer = await bus.producer();
  const sent = Array.from({ length: 20 }, (_, i) => ({ key: `person-${i % 4}`, value: Buffer.from(`ping ${i}`), headers: { n: String(i) } }));
  await producer.send(topic, sent);
  await producer.close();

  const groupId = `test-${runId()}-${Date.now()}`;
  const consumer = bus.consumer({ groupId });
  const received: IncomingMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    consumer.onCrash(reject);
    void consumer
      .run([topic], async (batch) => {
        received.push(...batch.messages);
        if (received.length >= sent.length) resolve();
      })
      .catch(reject);
  });
  await consumer.close();

  expect(received.map((m) => m.value!.toString()).sort()).toEqual(sent.map((m) => m.value.toString()).sort());
  for (const m of received) {
    expect(m.topic).toBe(topic);
    expect(m.headers.n).toBe(m.value!.toString().split(' ')[1]);
  }
  // Same key → same partition (a person's pings stay in order).
  const partitionsByKey = new Map<string, Set<number>>();
  for (const m of received) partitionsByKey.set(m.key!, (partitionsByKey.get(m.key!) ?? new Set()).add(m.partition));
  for (const parts of partitionsByKey.values()) expect(parts.size).toBe(1);

  // A new consumer in the same group starts after the committed offsets: nothing is redelivered.
  const again = bus.consumer({ groupId });
  const redelivered: IncomingMessage[] = [];
  const producer2 = await bus.producer();
  await producer2.send(topic, [{ key: 'person-0', value: Buffer.from('ping 20'), headers: { n: '20' } }]);
  await producer2.close();
  await new Promise<void>((resolve, reject) => {
    again.onCrash(reject);
    void again.run([topic], async (batch) => {
      redelivered.push(...batch.messages);
      resolve();
    });
  });
  await again.close();
  expect(redelivered.map((m) => m.value!.toString())).toEqual(['ping 20']);
});

test('isReachable is false for a broker that does not answer', async () => {
  const nowhere = createKafkaBus({ brokers: ['127.0.0.1:1'], clientId: 'nowhere', logger: createLogger('kafka-test', 'silent') });
  expect(await nowhere.isReachable(1_000)).toBe(false);
  await nowhere.close();
});
