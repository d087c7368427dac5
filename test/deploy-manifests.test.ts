import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOG_FORMATS } from '../src/util/logger.ts';

// docker/k8s/*.json (kubectl accepts JSON; no YAML parser is installed here) checked by a small structural
// validator, and against the Dockerfile and compose file: same ports, same RTC range, same metric names.
const ROOT = path.resolve(import.meta.dirname, '..');
const K8S = path.join(ROOT, 'docker/k8s');
type Obj = Record<string, any>;

const files = readdirSync(K8S).filter((f) => f.endsWith('.json')).sort();
const objects: Array<{ file: string; o: Obj }> = files.flatMap((file) => {
  const doc = JSON.parse(readFileSync(path.join(K8S, file), 'utf8')) as Obj;
  return (doc.kind === 'List' ? doc.items : [doc]).map((o: Obj) => ({ file, o }));
});
const find = (kind: string, name: string) => objects.find(({ o }) => o.kind === kind && o.metadata?.name === name)?.o;

/** Problems of one object: the fields kubectl would refuse or that make it do nothing. */
function problems(o: Obj): string[] {
  const p: string[] = [];
  const known: Record<string, string> = { Service: 'v1', PersistentVolumeClaim: 'v1', Deployment: 'apps/v1', StatefulSet: 'apps/v1', HorizontalPodAutoscaler: 'autoscaling/v2' };
  if (known[o.kind] !== o.apiVersion) p.push(`kind ${o.kind} with apiVersion ${o.apiVersion}`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata?.name ?? '')) p.push(`metadata.name ${o.metadata?.name}`);
  if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
    const match = o.spec?.selector?.matchLabels ?? {};
    const labels = o.spec?.template?.metadata?.labels ?? {};
    if (!Object.keys(match).length || Object.entries(match).some(([k, v]) => labels[k] !== v)) p.push('selector does not match the template labels');
    const containers: Obj[] = o.spec?.template?.spec?.containers ?? [];
    if (!containers.length) p.push('no containers');
    const volumes = new Set([...(o.spec.template.spec.volumes ?? []).map((v: Obj) => v.name), ...(o.spec.volumeClaimTemplates ?? []).map((v: Obj) => v.metadata.name)]);
    for (const c of containers) {
      if (!c.name || !c.image) p.push('container without name or image');
      const portNames = new Set((c.ports ?? []).map((x: Obj) => x.name));
      const portNumbers = new Set((c.ports ?? []).map((x: Obj) => x.containerPort));
      for (const x of c.ports ?? []) if (!(Number.isInteger(x.containerPort) && x.containerPort > 0 && x.containerPort < 65536) || (x.name && x.name.length > 15)) p.push(`port ${JSON.stringify(x)}`);
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        if (!probe) p.push(`container ${c.name} without readiness and liveness probes`);
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (port !== undefined && !portNames.has(port) && !portNumbers.has(port)) p.push(`probe port ${port} is not a container port`);
      }
      for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) p.push(`volume mount ${m.name} has no volume`);
      for (const e of c.env ?? []) if (!e.name || (e.value === undefined) === (e.valueFrom === undefined)) p.push(`env ${e.name}: exactly one of value, valueFrom`);
    }
    for (const v of o.spec.template.spec.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (claim && !find('PersistentVolumeClaim', claim)) p.push(`volume ${v.name}: no PersistentVolumeClaim ${claim}`);
    }
  }
  if (o.kind === 'Service') {
    const selected = objects.filter(({ o: d }) => (d.kind === 'Deployment' || d.kind === 'StatefulSet') && Object.entries(o.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
    if (!selected.length) p.push('selects no workload');
    for (const port of o.spec.ports) {
      const names = selected.flatMap(({ o: d }) => d.spec.template.spec.containers.flatMap((c: Obj) => (c.ports ?? []).flatMap((x: Obj) => [x.name, x.containerPort])));
      if (!names.includes(port.targetPort)) p.push(`targetPort ${port.targetPort} is no container port`);
    }
  }
  if (o.kind === 'HorizontalPodAutoscaler') {
    const t = o.spec.scaleTargetRef;
    if (!find(t.kind, t.name)) p.push(`scaleTargetRef ${t.kind}/${t.name} not found`);
    if (!(o.spec.minReplicas >= 1 && o.spec.maxReplicas >= o.spec.minReplicas)) p.push('replica bounds');
    if (!o.spec.metrics?.length) p.push('no metrics');
  }
  return p;
}

describe('deployment manifests', () => {
  it('are valid by the structural check, every object', () => {
    expect(files).toEqual(['data.json', 'redis.json', 'server.json', 'status.json', 'worker.json']);
    expect(objects.length).toBeGreaterThanOrEqual(8);
    for (const { file, o } of objects) expect(problems(o), `${file}: ${o.kind}/${o.metadata?.name}`).toEqual([]);
  });

  it('the validator catches broken objects (it can fail)', () => {
    const d = structuredClone(find('Deployment', 'facerestore-worker')!);
    d.spec.selector.matchLabels = { app: 'other' };
    d.spec.template.spec.containers[0].readinessProbe.httpGet.port = 'nope';
    expect(problems(d)).toEqual(['selector does not match the template labels', 'probe port nope is not a container port']);
    const h = structuredClone(find('HorizontalPodAutoscaler', 'facerestore-worker')!);
    h.spec.scaleTargetRef.name = 'missing';
    expect(problems(h)).toEqual(['scaleTargetRef Deployment/missing not found']);
  });

  it('scale workers on the queue depth metric the services expose, from their metrics port', () => {
    const hpa = find('HorizontalPodAutoscaler', 'facerestore-worker')!;
    const metric = hpa.spec.metrics[0].external.metric;
    expect(metric).toEqual({ name: 'facerestore_queue_jobs', selector: { matchLabels: { state: 'waiting' } } });
    // The same metric name and label that jobs serve and jobs worker register.
    for (const src of ['src/apps/jobs/statusServer.ts', 'src/apps/jobs/JobWorker.ts']) expect(readFileSync(path.join(ROOT, src), 'utf8')).toContain(`name: 'facerestore_queue_jobs'`);
    const worker = find('Deployment', 'facerestore-worker')!.spec.template.spec.containers[0];
    const port = worker.args[worker.args.indexOf('--metrics-port') + 1];
    expect(worker.ports).toContainEqual({ name: 'metrics', containerPort: Number(port) });
    expect(LOG_FORMATS).toContain(worker.args[worker.args.indexOf('--log-format') + 1]);
  });

  it('give the server the RTC range the Dockerfiles and compose use, and the node IP as announced address', () => {
    const server = find('Deployment', 'facerestore-server')!;
    expect(server.spec.template.spec.hostNetwork).toBe(true);
    const env = Object.fromEntries(server.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]));
    expect(env.FACERESTORE_ANNOUNCED_ADDRESS).toEqual({ fieldRef: { fieldPath: 'status.hostIP' } });
    const range = `${env.FACERESTORE_RTC_MIN_PORT}-${env.FACERESTORE_RTC_MAX_PORT}`;
    expect(range).toBe('40000-40100');
    for (const f of ['docker/Dockerfile', 'docker/Dockerfile.cuda']) {
      const text = readFileSync(path.join(ROOT, f), 'utf8');
      expect(text).toContain(`FACERESTORE_RTC_MIN_PORT=${env.FACERESTORE_RTC_MIN_PORT}`);
      expect(text).toContain(`FACERESTORE_RTC_MAX_PORT=${env.FACERESTORE_RTC_MAX_PORT}`);
      expect(text).toContain(`EXPOSE 8080 ${range}/udp`);
      expect(text.match(/^HEALTHCHECK /gm)).toHaveLength(2);
    }
    const compose = readFileSync(path.join(ROOT, 'docker/compose.yaml'), 'utf8');
    expect(compose).toContain(`"${range}:${range}/udp"`);
    expect(compose).toContain(`FACERESTORE_RTC_MIN_PORT: "${env.FACERESTORE_RTC_MIN_PORT}"`);
    expect(compose).toContain('FACERESTORE_ANNOUNCED_ADDRESS:');
    // Every long-running service restarts.
    expect(compose.match(/restart: unless-stopped/g)).toHaveLength(4);
  });
});
