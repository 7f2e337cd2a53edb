/**
 * Static checks of the production overlay (overlays/production, `kubectl apply -k
 * overlays/production`): rendered by kustomize as a user renders it, after the secrets step
 * (placeholders, as manifests.test.ts does). Three Kafka brokers whose node ids, advertised
 * listeners and quorum voters agree with each other and with the clients' KAFKA_BROKERS, topics
 * replicated 3 times with 2 in sync, at least 2 pods of every stateless service, a
 * PodDisruptionBudget and a CPU HorizontalPodAutoscaler for each, Pod Security "restricted" still
 * met by every pod, and broker-to-broker traffic still allowed by the network policies. The real
 * kube-apiserver check of the same rendering is in scripts/deploy/test-deploy.sh.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { personApiConfigSchema } from '../../modules/person-api/src/config';
import { ingestConfigSchema } from '../../modules/location-ingest/src/config';
import { locationWriterConfigSchema } from '../../modules/location-writer/src/config';
import { connectionConfigSchema } from '../../modules/connection-service/src/config';
import { frontendConfigSchema } from '../../modules/frontend/server/config';
import {
  DEPLOYMENT_DIR,
  K8sObject,
  ROOT,
  SECRETS_MARKER,
  parseEnvFile,
  parseRenderedYaml,
  renderKustomize,
  restrictedViolations,
  validateObject,
} from './manifests';

const haveKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const describeKubectl = haveKubectl ? describe : describe.skip;
if (!haveKubectl) console.warn('kubectl not found: skipping the production overlay checks');

type Obj = Record<string, any>;
type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };

const NS = 'udaconnect';
/** Every stateless service: a Deployment each. */
const STATELESS = ['connection-service', 'frontend', 'location-ingest', 'location-writer', 'person-api'];
const SCHEMAS: Record<string, z.ZodObject> = {
  'person-api': personApiConfigSchema,
  'location-ingest': ingestConfigSchema,
  'location-writer': locationWriterConfigSchema,
  'connection-service': connectionConfigSchema,
  frontend: frontendConfigSchema,
};
/** What the wrapper must end by running: the CMD of apache/kafka (and of our stand-in, scripts/deploy/kafka.Containerfile). */
const KAFKA_START = '/etc/kafka/docker/run';

function render(target: 'base' | 'production'): K8sObject[] {
  const r = renderKustomize(target, { secrets: true });
  if (r.status !== 0) throw new Error(`kubectl kustomize (${target}) failed: ${r.stderr}`);
  return parseRenderedYaml(r.stdout);
}

function matches(sel: Selector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (sel.matchExpressions ?? []).every((e) => {
    if (e.operator !== 'In') throw new Error(`unsupported selector operator ${e.operator}`);
    return (e.values ?? []).includes(labels[e.key]!);
  });
  return byLabels && byExpressions;
}

/** `$(VAR)` references as the kubelet expands them in env values and commands ("$$" is a literal "$"). */
function kubeletExpand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in vars ? vars[name]! : m,
  );
}

describeKubectl('overlays/production', () => {
  const objs = haveKubectl ? render('production') : [];
  const base = haveKubectl ? render('base') : [];
  const get = (list: K8sObject[], kind: string, name: string) => {
    const o = list.find((x) => x.kind === kind && x.metadata.name === name);
    if (!o) throw new Error(`no ${kind}/${name}`);
    return o as Obj;
  };
  const ofKind = (kind: string) => objs.filter((o) => o.kind === kind) as Obj[];
  const workloads = objs.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind)) as Obj[];
  const configMap = () => get(objs, 'ConfigMap', 'udaconnect-config').data as Record<string, string>;
  const secretExample = parseEnvFile(fs.readFileSync(path.join(DEPLOYMENT_DIR, 'secrets.env.example'), 'utf8'));

  /** A container's environment as the kubelet builds it for the pod named podName. */
  function resolveEnv(c: Obj, podName: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) out[e.name] = kubeletExpand(String(e.value), out);
      else if (e.valueFrom?.configMapKeyRef) {
        const { name, key } = e.valueFrom.configMapKeyRef;
        expect(name).toBe('udaconnect-config');
        expect({ env: e.name, key, present: key in configMap() }).toEqual({ env: e.name, key, present: true });
        out[e.name] = configMap()[key]!;
      } else if (e.valueFrom?.secretKeyRef) {
        out[e.name] = (secretExample[e.valueFrom.secretKeyRef.key] ?? '').replace(/<[^>]*>/g, 'x');
      } else if (e.valueFrom?.fieldRef) {
        expect(e.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
        out[e.name] = podName;
      } else throw new Error(`${c.name}: ${e.name} has no value`);
    }
    return out;
  }

  it('on a fresh clone (no generated secrets) it stops, as the base does, naming scripts/k3s-secrets.sh', () => {
    const r = renderKustomize('production', { secrets: false });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(SECRETS_MARKER);
    expect(r.stderr).toMatch(/k3s-secrets\.sh/);
  });

  it('renders every base object, namespaced and valid, plus a PodDisruptionBudget and an autoscaler per service', () => {
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
    const added = objs.map(key).filter((k) => !base.map(key).includes(k));
    expect(added.sort()).toEqual(
      [...['kafka', ...STATELESS].map((n) => `PodDisruptionBudget/${n}`), ...STATELESS.map((n) => `HorizontalPodAutoscaler/${n}`)].sort(),
    );
    expect(base.map(key).filter((k) => !objs.map(key).includes(k))).toEqual([]);
    for (const o of objs) {
      if (o.kind !== 'Namespace') expect({ obj: key(o), ns: o.metadata.namespace }).toEqual({ obj: key(o), ns: NS });
      if (o.kind !== 'Secret') expect(() => validateObject(o)).not.toThrow();
    }
    // The same generated Secrets as the base (the base's generator, its files).
    const secrets = (list: K8sObject[]) => list.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name);
    expect(secrets(objs).sort()).toEqual(secrets(base).sort());
    expect(secrets(objs)).toHaveLength(3);
    // PostgreSQL stays as it is in the base (one pod; a replica is a separate item).
    expect(get(objs, 'StatefulSet', 'postgis')).toEqual(get(base, 'StatefulSet', 'postgis'));
    expect(get(objs, 'StatefulSet', 'postgis').spec.replicas).toBe(1);
  });

  describe('Kafka: three KRaft brokers', () => {
    const sts = () => get(objs, 'StatefulSet', 'kafka');
    const container = () => sts().spec.template.spec.containers[0] as Obj;
    const podNames = () => Array.from({ length: sts().spec.replicas as number }, (_, i) => `kafka-${i}`);
    const svc = () => get(objs, 'Service', sts().spec.serviceName as string);
    const port = (name: string) => (svc().spec.ports as Obj[]).find((p) => p.name === name)!.port as number;
    const dnsName = (pod: string) => `${pod}.${svc().metadata.name}.${NS}.svc.cluster.local`;

    /** Runs the container's command as its shell would, with the image's start replaced by `env`: the environment it starts Kafka with. */
    function runWrapper(podName: string): { status: number | null; env: Record<string, string>; stderr: string } {
      const [shell, flag, script] = container().command as string[];
      const r = spawnSync(shell!, [flag!, script!.replace(`exec ${KAFKA_START}`, 'exec env')], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...resolveEnv(container(), podName) },
      });
      return { status: r.status, env: parseEnvFile(r.stdout), stderr: r.stderr };
    }

    it('3 replicas started together (a quorum cannot form one pod at a time), behind the headless Service that resolves them before they are ready', () => {
      expect(sts().spec.replicas).toBe(3);
      expect(sts().spec.podManagementPolicy).toBe('Parallel');
      expect(svc().spec.clusterIP).toBe('None');
      expect(svc().spec.publishNotReadyAddresses).toBe(true);
      expect(matches({ matchLabels: svc().spec.selector }, sts().spec.template.metadata.labels)).toBe(true);
    });

    it('the wrapper takes node.id from the pod’s ordinal, then execs the image’s own start', () => {
      const command = container().command as string[];
      expect(command.slice(0, 2)).toEqual(['sh', '-c']);
      expect(command).toHaveLength(3);
      expect(container().args).toBeUndefined();
      expect(command[2]!.trim().split('\n').pop()!.trim()).toBe(`exec ${KAFKA_START}`);
      // The kubelet expands $(NAME) in commands too: the script must reach the shell as written.
      expect(kubeletExpand(command[2]!, resolveEnv(container(), 'kafka-0'))).toBe(command[2]);
      expect(command[2]).not.toMatch(/\$\(|\$\$/);
      // Our stand-in image starts with the same script apache/kafka does.
      const containerfile = fs.readFileSync(path.join(ROOT, 'scripts/deploy/kafka.Containerfile'), 'utf8');
      expect(containerfile).toMatch(new RegExp(`^CMD \\["${KAFKA_START}"\\]$`, 'm'));
      for (const [i, pod] of podNames().entries()) {
        const r = runWrapper(pod);
        expect({ pod, status: r.status, stderr: r.stderr }).toEqual({ pod, status: 0, stderr: '' });
        expect({ pod, nodeId: r.env.KAFKA_NODE_ID }).toEqual({ pod, nodeId: String(i) });
      }
      // A pod name without an ordinal stops the container instead of starting a broker with a wrong id.
      for (const bad of ['kafka', 'kafka-x', 'kafka-']) {
        const r = runWrapper(bad);
        expect({ bad, status: r.status }).toEqual({ bad, status: 1 });
        expect(r.stderr).toContain('no ordinal');
      }
      // node.id comes from the wrapper only.
      expect((container().env as Obj[]).map((e) => e.name)).not.toContain('KAFKA_NODE_ID');
    });

    it('each broker advertises its own stable name; the quorum voters are all three, by node id; clients list the same three', () => {
      const env0 = resolveEnv(container(), 'kafka-0');
      const listeners = Object.fromEntries(env0.KAFKA_LISTENERS!.split(',').map((l) => /^(\w+):\/\/:(\d+)$/.exec(l)!.slice(1, 3) as [string, string]));
      expect(Number(listeners.PLAINTEXT)).toBe(port('kafka'));
      expect(Number(listeners[env0.KAFKA_CONTROLLER_LISTENER_NAMES!]!)).toBe(port('controller'));
      for (const [name, p] of [
        ['kafka', port('kafka')],
        ['controller', port('controller')],
      ] as const)
        expect((container().ports as Obj[]).find((x) => x.name === name)?.containerPort).toBe(p);

      // $(POD_NAME) must be defined before the variable that refers to it, or the kubelet leaves it as is.
      const names = (container().env as Obj[]).map((e) => e.name as string);
      for (const [i, e] of (container().env as Obj[]).entries()) {
        for (const [, ref] of String(e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          expect({ env: e.name, ref, definedBefore: names.indexOf(ref!) > -1 && names.indexOf(ref!) < i }).toEqual({ env: e.name, ref, definedBefore: true });
        }
      }
      const advertised = podNames().map((pod) => {
        const env = resolveEnv(container(), pod);
        expect(env.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://${dnsName(pod)}:${port('kafka')}`);
        return `${dnsName(pod)}:${port('kafka')}`;
      });
      const voters = env0.KAFKA_CONTROLLER_QUORUM_VOTERS!.split(',');
      expect(voters).toEqual(podNames().map((pod) => `${runWrapper(pod).env.KAFKA_NODE_ID}@${dnsName(pod)}:${port('controller')}`));
      expect(voters.map((v) => v.split('@')[0])).toEqual(['0', '1', '2']);
      // Every pod gets the same voters (no per-pod value).
      for (const pod of podNames()) expect(resolveEnv(container(), pod).KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(env0.KAFKA_CONTROLLER_QUORUM_VOTERS);
      expect(env0.KAFKA_PROCESS_ROLES).toBe('broker,controller');
      expect(configMap().KAFKA_BROKERS!.split(',')).toEqual(advertised);
    });

    it('replication: 3 copies, 2 in sync, for every topic (the services’ and Kafka’s own); one broker may be away', () => {
      const env = resolveEnv(container(), 'kafka-0');
      const brokers = sts().spec.replicas as number;
      expect(Number(env.KAFKA_DEFAULT_REPLICATION_FACTOR)).toBe(3);
      expect(Number(env.KAFKA_MIN_INSYNC_REPLICAS)).toBe(2);
      expect(Number(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR)).toBe(3);
      expect(Number(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR)).toBe(3);
      expect(Number(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR)).toBe(2);
      expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
      expect(Number(env.KAFKA_DEFAULT_REPLICATION_FACTOR)).toBeLessThanOrEqual(brokers);
      // The topics the services create: the same settings, through the ConfigMap.
      expect(configMap().KAFKA_REPLICATION_FACTOR).toBe(env.KAFKA_DEFAULT_REPLICATION_FACTOR);
      expect(configMap().KAFKA_MIN_INSYNC_REPLICAS).toBe(env.KAFKA_MIN_INSYNC_REPLICAS);
      // A drain takes at most as many brokers as the topics can lose and still take writes.
      const pdb = get(objs, 'PodDisruptionBudget', 'kafka');
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.minAvailable).toBeUndefined();
      expect(pdb.spec.maxUnavailable).toBeLessThanOrEqual(Number(env.KAFKA_DEFAULT_REPLICATION_FACTOR) - Number(env.KAFKA_MIN_INSYNC_REPLICAS));
      expect(matches(pdb.spec.selector, sts().spec.template.metadata.labels)).toBe(true);
    });

    it('only the command, node identity, replication and placement differ from deployment/kafka.yaml', () => {
      const baseSts = get(base, 'StatefulSet', 'kafka');
      const baseC = baseSts.spec.template.spec.containers[0] as Obj;
      const strip = (c: Obj) => ({ ...c, env: undefined, command: undefined });
      expect(strip(container())).toEqual(strip(baseC));
      const { affinity, ...podSpec } = sts().spec.template.spec as Obj;
      expect({ ...podSpec, containers: undefined }).toEqual({ ...baseSts.spec.template.spec, containers: undefined });
      expect(affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm).toEqual({
        topologyKey: 'kubernetes.io/hostname',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'kafka' } },
      });
      expect(sts().spec.volumeClaimTemplates).toEqual(baseSts.spec.volumeClaimTemplates);
      // Every setting of the base broker is kept (the overlay replaces the env list as a whole);
      // those that are not about identity or replication keep the base's value.
      const changed = /^(KAFKA_NODE_ID|KAFKA_ADVERTISED_LISTENERS|KAFKA_CONTROLLER_QUORUM_VOTERS|.*_REPLICATION_FACTOR|.*_MIN_ISR|KAFKA_MIN_INSYNC_REPLICAS)$/;
      const prod = new Map((container().env as Obj[]).map((e) => [e.name, e]));
      for (const e of baseC.env as Obj[]) {
        if (e.name === 'KAFKA_NODE_ID') continue;
        expect({ env: e.name, kept: prod.has(e.name) }).toEqual({ env: e.name, kept: true });
        if (!changed.test(e.name)) expect(prod.get(e.name)).toEqual(e);
      }
    });
  });

  describe('stateless services', () => {
    const deployments = () => ofKind('Deployment');

    it('the Deployments are the stateless services, each with at least 2 replicas', () => {
      expect(
        deployments()
          .map((d) => d.metadata.name)
          .sort(),
      ).toEqual(STATELESS);
      for (const d of deployments()) expect({ d: d.metadata.name, atLeast2: d.spec.replicas >= 2 }).toEqual({ d: d.metadata.name, atLeast2: true });
    });

    it.each(STATELESS.map((n) => [n] as const))('%s: a PodDisruptionBudget that selects its pods (and no other), keeping one', (name) => {
      const d = get(objs, 'Deployment', name);
      const pdbs = ofKind('PodDisruptionBudget').filter((p) => matches(p.spec.selector, d.spec.template.metadata.labels));
      expect(pdbs.map((p) => p.metadata.name)).toEqual([name]);
      const pdb = pdbs[0]!;
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec.minAvailable).toBe(1);
      // A drain can still evict one: fewer must stay than the Deployment (and its autoscaler) keeps.
      expect(pdb.spec.minAvailable).toBeLessThan(d.spec.replicas);
      const selected = workloads.filter((w) => matches(pdb.spec.selector, w.spec.template.metadata.labels)).map((w) => w.metadata.name);
      expect(selected).toEqual([name]);
    });

    it.each(STATELESS.map((n) => [n] as const))('%s: a HorizontalPodAutoscaler on CPU, at least 2, on requests every container declares', (name) => {
      const d = get(objs, 'Deployment', name);
      const hpas = ofKind('HorizontalPodAutoscaler').filter((h) => h.spec.scaleTargetRef.name === name);
      expect(hpas).toHaveLength(1);
      const hpa = hpas[0]!;
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      expect(d.spec.replicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
      expect(d.spec.replicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      expect(hpa.spec.metrics).toEqual([
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } } },
      ]);
      const target = hpa.spec.metrics[0].resource.target.averageUtilization as number;
      expect(target).toBeGreaterThan(0);
      expect(target).toBeLessThanOrEqual(100);
      // Utilization is a share of the request: without one the autoscaler has nothing to divide by.
      for (const c of d.spec.template.spec.containers as Obj[])
        expect({ c: c.name, cpu: c.resources?.requests?.cpu }).toEqual({ c: c.name, cpu: expect.any(String) });
      // Spread over nodes where there are several.
      expect(d.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm).toEqual({
        topologyKey: 'kubernetes.io/hostname',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } },
      });
    });

    it('every autoscaler and disruption budget belongs to a workload of this deployment', () => {
      for (const h of ofKind('HorizontalPodAutoscaler')) expect(STATELESS).toContain(h.spec.scaleTargetRef.name);
      for (const p of ofKind('PodDisruptionBudget')) expect(workloads.filter((w) => matches(p.spec.selector, w.spec.template.metadata.labels))).toHaveLength(1);
    });

    it('location-writer never scales past the partitions of its topic (one consumer per partition in a group)', () => {
      const writer = get(objs, 'Deployment', 'location-writer');
      const writerEnv = locationWriterConfigSchema.parse(resolveEnv(writer.spec.template.spec.containers[0], 'location-writer-x'));
      // Whichever service starts first creates the topic, with its LOCATIONS_PARTITIONS.
      const partitions = ['person-api', 'location-ingest', 'location-writer'].map((n) => {
        const env = resolveEnv(get(objs, 'Deployment', n).spec.template.spec.containers[0], `${n}-x`);
        const cfg = SCHEMAS[n]!.parse(env) as { LOCATIONS_PARTITIONS: number; LOCATIONS_TOPIC: string };
        expect(cfg.LOCATIONS_TOPIC).toBe(writerEnv.LOCATIONS_TOPIC);
        return cfg.LOCATIONS_PARTITIONS;
      });
      const hpa = ofKind('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === 'location-writer')!;
      expect(hpa.spec.maxReplicas).toBeLessThanOrEqual(Math.min(...partitions));
    });

    it('every service that creates topics gets replication factor 3 and 2 in sync; its config parses', () => {
      const creators = STATELESS.filter((n) => 'KAFKA_REPLICATION_FACTOR' in SCHEMAS[n]!.shape);
      expect(creators.sort()).toEqual(['location-ingest', 'location-writer', 'person-api']);
      for (const n of STATELESS) {
        const env = resolveEnv(get(objs, 'Deployment', n).spec.template.spec.containers[0], `${n}-x`);
        const parsed = SCHEMAS[n]!.safeParse(env);
        expect({ n, parsed: parsed.success ? 'ok' : parsed.error.message }).toEqual({ n, parsed: 'ok' });
        if (!creators.includes(n)) continue;
        const cfg = parsed.data as { KAFKA_REPLICATION_FACTOR: number; KAFKA_MIN_INSYNC_REPLICAS?: number; KAFKA_BROKERS: unknown };
        expect({ n, rf: cfg.KAFKA_REPLICATION_FACTOR, minIsr: cfg.KAFKA_MIN_INSYNC_REPLICAS }).toEqual({ n, rf: 3, minIsr: 2 });
        expect(env.KAFKA_BROKERS).toBe(configMap().KAFKA_BROKERS);
      }
    });
  });

  it.each(workloads.map((w) => [`${w.kind}/${w.metadata.name}`, w] as const))(
    '%s still meets Pod Security "restricted" and the base’s pod settings',
    (_n, w) => {
      const tpl = w.spec.template;
      expect(restrictedViolations(tpl)).toEqual([]);
      // Nothing about security or resources is relaxed against the base's pod template.
      const b = get(base, w.kind, w.metadata.name).spec.template.spec as Obj;
      expect(tpl.spec.securityContext).toEqual(b.securityContext);
      expect(tpl.spec.automountServiceAccountToken).toEqual(b.automountServiceAccountToken);
      expect(tpl.spec.volumes).toEqual(b.volumes);
      for (const [i, c] of (tpl.spec.containers as Obj[]).entries()) {
        const bc = b.containers[i] as Obj;
        expect({ c: c.name, sc: c.securityContext }).toEqual({ c: bc.name, sc: bc.securityContext });
        expect({ c: c.name, limits: c.resources.limits }).toEqual({ c: c.name, limits: bc.resources.limits });
        expect(c.resources.requests.memory).toBe(bc.resources.requests.memory);
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'])
          expect({ c: c.name, probe, v: c[probe] }).toEqual({ c: c.name, probe, v: bc[probe] });
        if (w.kind !== 'Job') expect(c.readinessProbe && c.livenessProbe).toBeTruthy();
      }
      expect(w.spec.selector?.matchLabels ?? {}).toEqual(get(base, w.kind, w.metadata.name).spec.selector?.matchLabels ?? {});
    },
  );

  describe('network policies', () => {
    const policies = () => ofKind('NetworkPolicy');
    const labelsOf = (name: string) => workloads.find((w) => w.metadata.name === name)!.spec.template.metadata.labels as Record<string, string>;
    /** Whether some policy admits traffic from pods `from` to pods `to` on a TCP port. */
    function allowed(from: string, to: string, port: number): boolean {
      return policies().some(
        (p) =>
          matches(p.spec.podSelector, labelsOf(to)) &&
          (p.spec.ingress ?? []).some(
            (rule: Obj) =>
              (rule.from === undefined || (rule.from as Obj[]).some((f) => f.podSelector && matches(f.podSelector, labelsOf(from)))) &&
              (rule.ports as Obj[]).some((x) => (x.protocol ?? 'TCP') === 'TCP' && x.port === port),
          ),
      );
    }

    it('are the base’s, unchanged: ingress denied by default, each flow allowed explicitly', () => {
      const byName = (list: K8sObject[]) => list.filter((o) => o.kind === 'NetworkPolicy').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
      expect(byName(objs)).toEqual(byName(base));
      expect(policies().filter((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.ingress === undefined)).toHaveLength(1);
    });

    it('the brokers reach each other on the broker and controller ports; every client reaches the broker port', () => {
      const kafka = get(objs, 'Service', 'kafka');
      const ports = (kafka.spec.ports as Obj[]).map((p) => p.port as number);
      expect(ports.sort()).toEqual([9092, 9093]);
      // Every broker pod carries the same labels (one template), so "kafka → kafka" covers each pair.
      for (const port of ports) expect({ port, brokerToBroker: allowed('kafka', 'kafka', port) }).toEqual({ port, brokerToBroker: true });
      const clients = workloads.filter((w) =>
        (w.spec.template.spec.containers as Obj[]).some((c) => (c.env ?? []).some((e: Obj) => e.name === 'KAFKA_BROKERS')),
      );
      expect(clients.map((w) => w.metadata.name).sort()).toEqual(['connection-service', 'location-ingest', 'location-writer', 'person-api']);
      for (const c of clients)
        expect({ c: c.metadata.name, toBroker: allowed(c.metadata.name, 'kafka', 9092) }).toEqual({ c: c.metadata.name, toBroker: true });
      // The controllers are no client's business.
      for (const c of clients)
        expect({ c: c.metadata.name, toController: allowed(c.metadata.name, 'kafka', 9093) }).toEqual({ c: c.metadata.name, toController: false });
    });
  });
});
