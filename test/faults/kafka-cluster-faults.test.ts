/**
 * The pipeline on a three-broker Kafka cluster (scripts/kafka-cluster.sh), with the production
 * settings: every topic 3 copies, a ping acknowledged to the device once 2 brokers have it.
 * - One broker killed with SIGKILL while pings flow: ingest keeps acknowledging, and every
 *   acknowledged ping is stored exactly once.
 * - Two location-writers in one consumer group, one killed with SIGKILL while its INSERT is
 *   running: the other takes its partitions, and every acknowledged ping is stored exactly once.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Knex } from 'knex';
import type { LocationIngestClient } from '@udaconnect/proto';
import { decodePing } from '@udaconnect/domain';
import { eventually } from '../support/eventually';
import { testKnex } from '../support/test-database';
import { ROOT } from '../support/test-env';
import { Device, expectExactlyOnce, type FaultRig, sleep, startFaultRig, WriterProcess } from './fault-kit';

jest.setTimeout(300_000);

const BROKERS = 'localhost:19092,localhost:19094,localhost:19096';
const cluster = (...args: string[]) => {
  const r = spawnSync('bash', [join(ROOT, 'scripts/kafka-cluster.sh'), ...args], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`kafka-cluster.sh ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
};

let rig: FaultRig;
let knex: Knex;
let client: LocationIngestClient;
let admin: Admin;
let topic: string;

beforeAll(async () => {
  cluster('start', '--fresh');
  admin = new Kafka({ brokers: BROKERS.split(','), clientId: 'faults-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await eventually(async () => expect((await admin.describeCluster()).brokers).toHaveLength(3), 60_000, 500);
  rig = await startFaultRig('kcluster', BROKERS, { KAFKA_REPLICATION_FACTOR: '3' });
  ({ knex, client } = rig);
  topic = rig.writerEnv.LOCATIONS_TOPIC!;
}, 240_000);

afterAll(async () => {
  await rig?.close();
  await admin?.disconnect();
  cluster('stop');
});

/** Per partition of the pings' topic: its leader's node id, its replicas and its in-sync replicas. */
async function partitions() {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0]!.partitions;
}

/**
 * Where acknowledged pings without a row are: on the topic (partition, offset; and the writers' group
 * committed past them or not) or on the dead-letter topic (with its reason), or on neither.
 */
async function whereAre(missing: string[]): Promise<string> {
  const wanted = new Set(missing);
  const found: string[] = [];
  const kafka = new Kafka({ brokers: BROKERS.split(','), clientId: 'faults-diagnosis', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `faults-diagnosis-${Date.now()}` });
  await consumer.connect();
  const dlq = rig.writerEnv.LOCATIONS_DLQ_TOPIC!;
  await consumer.subscribe({ topics: [topic, dlq], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      const id = message.value ? decodePing(message.value).eventId : '';
      if (wanted.has(id))
        found.push(`${id} on ${t === dlq ? 'the DLQ' : 'the topic'} p${partition}@${message.offset} ${t === dlq ? JSON.stringify(message.headers) : ''}`);
    },
  });
  await sleep(15_000);
  await consumer.disconnect();
  const committed = await admin.fetchOffsets({ groupId: rig.writerEnv.KAFKA_GROUP_ID!, topics: [topic] });
  const ends = await admin.fetchTopicOffsets(topic);
  return `${found.join('; ') || 'on neither topic'}; writers' committed offsets ${JSON.stringify(committed[0]?.partitions)}, ends ${JSON.stringify(ends.map((e) => [e.partition, e.high]))}`;
}

/** The longest time between two acknowledged batches from `from` on (ms). */
function longestAckGap(device: Device, from: number): number {
  const times = [from, ...device.ackTimes.filter((t) => t > from)];
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return gap;
}

test('topics are created with 3 copies, acknowledged once 2 brokers have a ping', async () => {
  const writer = new WriterProcess(rig.writerEnv, 'cluster-topics-writer');
  writer.start();
  try {
    await eventually(async () => expect(await partitions()).toHaveLength(3), 60_000, 500);
    for (const p of await partitions()) expect(p.replicas).toHaveLength(3);
    const configs = await admin.describeConfigs({
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['min.insync.replicas'] }],
      includeSynonyms: false,
    });
    expect(configs.resources[0]!.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue).toBe('2');
  } finally {
    await writer.kill('SIGTERM');
  }
});

test('a broker killed with SIGKILL while pings flow: ingest keeps acknowledging, every acknowledged ping stored once', async () => {
  const writer = new WriterProcess(rig.writerEnv, 'cluster-broker-kill-writer');
  writer.start();
  const device = new Device(client);
  try {
    device.start();
    await sleep(3_000);
    // The leader of partition 0: its pings must move to another broker.
    const victim = (await partitions()).find((p) => p.partitionId === 0)!.leader;
    const ackedBefore = device.acked.size;
    cluster('kill', String(victim));
    const killedAt = Date.now();
    await sleep(20_000);
    const ackedDuring = device.acked.size - ackedBefore;
    const gap = longestAckGap(device, killedAt);
    const callsPerSecond = (from: number, to: number) => device.ackTimes.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
    const before = callsPerSecond(killedAt - 3_000, killedAt);
    const after = callsPerSecond(killedAt + 12_000, killedAt + 20_000);
    console.log(
      `[faults] broker ${victim} killed: ${ackedDuring} pings acknowledged in the next 20 s, longest pause between acknowledgements ${gap} ms; ` +
        `acknowledged calls/s ${before.toFixed(1)} in the 3 s before, ${after.toFixed(1)} 12–20 s after; failed calls ${device.failures}`,
    );
    // Ingest kept acknowledging: once the partitions moved (a few seconds: the dead broker is fenced
    // after 6 s), calls are acknowledged at a rate like before the kill, and the last one just now.
    expect(after).toBeGreaterThan(before / 3);
    expect(Date.now() - device.ackTimes.at(-1)!).toBeLessThan(5_000);
    // Every partition has a leader among the two survivors, with 2 copies in sync.
    for (const p of await partitions()) {
      expect(p.leader).not.toBe(victim);
      expect(p.isr).toHaveLength(2);
    }
    await device.finish(120_000);
    await expectExactlyOnce(knex, device, 120_000, whereAre);
  } finally {
    await device.stop();
    await writer.kill('SIGTERM');
    // The killed node again (`start` leaves running nodes alone): it catches up and rejoins every partition's ISR.
    cluster('start');
  }
  await eventually(
    async () => {
      for (const p of await partitions()) expect(p.isr).toHaveLength(3);
    },
    120_000,
    1_000,
  );
});

/** The local TCP ports of `pid`'s connections to PostgreSQL (port 5432). */
function postgresPortsOf(pid: number): Set<number> {
  const ss = spawnSync('ss', ['-tnpH', 'state', 'established', '( dport = :5432 )'], { encoding: 'utf8' });
  const ports = new Set<number>();
  for (const line of ss.stdout.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    const m = /:(\d+)\s+\S+:5432\b/.exec(line);
    if (m) ports.add(Number(m[1]));
  }
  return ports;
}

test('two writers in one group, one killed with SIGKILL mid-INSERT: the other takes its partitions, every ping stored once', async () => {
  const a = new WriterProcess(rig.writerEnv, 'cluster-writer-a', false);
  const b = new WriterProcess(rig.writerEnv, 'cluster-writer-b', false);
  a.start();
  b.start();
  const group = rig.writerEnv.KAFKA_GROUP_ID!;
  const device = new Device(client);
  try {
    await eventually(
      async () => {
        const { groups } = await admin.describeGroups([group]);
        expect(groups[0]!.state).toBe('Stable');
        expect(groups[0]!.members).toHaveLength(2);
      },
      60_000,
      500,
    );
    device.start();
    await sleep(3_000);
    // Kill A while one of its INSERTs runs: a batch read from Kafka, being written, offsets not committed.
    // pg_stat_activity shows a session's query to its own role: asked as the writers' role.
    const asWriter = testKnex(rig.writerEnv.DATABASE_URL!);
    const pid = a.child!.pid!;
    let caught = false;
    try {
      const until = Date.now() + 30_000;
      while (!caught && Date.now() < until) {
        const ports = postgresPortsOf(pid);
        const { rows } = await asWriter.raw<{ rows: Array<{ port: number }> }>(
          `SELECT client_port AS port FROM pg_stat_activity
            WHERE datname = current_database() AND state = 'active' AND query ILIKE '%insert into location%'`,
        );
        caught = rows.some((r) => ports.has(r.port));
        if (caught) await a.kill('SIGKILL');
        else await sleep(5);
      }
    } finally {
      await asWriter.destroy();
    }
    expect(caught).toBe(true);
    await sleep(5_000);
    await device.finish(120_000);
    // B alone now: the group forgets A after its session timeout (30 s), then B reads A's partitions too.
    await expectExactlyOnce(knex, device, 150_000, whereAre);
    const { groups } = await admin.describeGroups([group]);
    expect(groups[0]!.members).toHaveLength(1);
  } finally {
    await device.stop();
    await a.kill('SIGTERM');
    await b.kill('SIGTERM');
  }
});
