import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../src/config/config.ts';
import { startRelay, tempDir } from '../../tools/relay-process.ts';
import { createTestDatabase } from '../helpers/databases.ts';
import { TEST_SECRET } from '../helpers/tokens.ts';

/**
 * The Kubernetes manifests under deploy/kubernetes, checked without a
 * cluster (neither kubectl nor helm installs from npm or Debian): every
 * object against the Kubernetes (and Prometheus Operator) schemas, the
 * references between them, the drain against the grace period, and the
 * probes and ports against a relay started with the ConfigMap's settings.
 */
const dir = path.resolve(import.meta.dirname, '../../deploy/kubernetes');
const root = path.resolve(dir, '../..');
const load = (file: string): Record<string, unknown> => parse(readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
const kustomization = load('kustomization.yaml') as { resources: string[] };
const objects = kustomization.resources.map((file) => ({ file, obj: load(file) }));
const byKind = (kind: string) => {
  const found = objects.filter((o) => o.obj['kind'] === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!.obj;
};

const models: Record<string, { validate(): void }> = {};
const validated = (obj: Record<string, unknown>) => {
  const make: Record<string, (o: never) => { validate(): void }> = {
    Deployment: (o) => new Deployment(o),
    Service: (o) => new Service(o),
    ConfigMap: (o) => new ConfigMap(o),
    PodDisruptionBudget: (o) => new PodDisruptionBudget(o),
    ServiceMonitor: (o) => new ServiceMonitor(o),
  };
  const kind = String(obj['kind']);
  expect(Object.keys(make), `a model for ${kind}`).toContain(kind);
  return (models[kind] = make[kind]!(obj as never));
};

type Container = { ports: { name: string; containerPort: number }[]; readinessProbe: Probe; livenessProbe: Probe; startupProbe: Probe; securityContext: Record<string, unknown> };
type Probe = { httpGet: { path: string; port: string } };

describe('Kubernetes manifests', () => {
  it('lists every manifest in kustomization.yaml, and each one is valid against its schema', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const { file, obj } of objects) {
      expect(() => validated(obj).validate(), file).not.toThrow();
    }
    // The schema check is not a formality: a wrong field type is caught.
    const broken = structuredClone(byKind('Deployment')) as { spec: { replicas: unknown } };
    broken.spec.replicas = 'three';
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it('gives the drain its whole window before Kubernetes kills the pod', () => {
    const data = byKind('ConfigMap')['data'] as Record<string, string>;
    const drainSeconds = Number(data['DRAIN_READY_SECONDS']) + Number(data['DRAIN_SECONDS']) + Number(data['SHUTDOWN_TIMEOUT_MS']) / 1000;
    const grace = (byKind('Deployment') as { spec: { template: { spec: { terminationGracePeriodSeconds: number } } } }).spec.template.spec.terminationGracePeriodSeconds;
    expect(grace).toBeGreaterThan(drainSeconds);
    // Disruptions take one pod at a time.
    expect((byKind('PodDisruptionBudget') as { spec: { maxUnavailable: number } }).spec.maxUnavailable).toBe(1);
  });

  it('names only settings the relay knows, and the selectors and ports agree', () => {
    const data = byKind('ConfigMap')['data'] as Record<string, string>;
    const known = Object.keys(configSchema.shape);
    for (const key of Object.keys(data)) expect(known, key).toContain(key);
    expect(() => configSchema.parse({ ...data, JWT_SECRET: TEST_SECRET })).not.toThrow();

    const pod = (
      byKind('Deployment') as {
        spec: {
          selector: { matchLabels: Record<string, string> };
          template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[]; securityContext: Record<string, unknown> } };
        };
      }
    ).spec;
    expect(pod.template.metadata.labels).toMatchObject(pod.selector.matchLabels);
    const service = byKind('Service') as { metadata: { labels: Record<string, string> }; spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] } };
    expect(pod.template.metadata.labels).toMatchObject(service.spec.selector);
    expect((byKind('PodDisruptionBudget') as { spec: { selector: { matchLabels: Record<string, string> } } }).spec.selector.matchLabels).toEqual(pod.selector.matchLabels);
    const monitor = byKind('ServiceMonitor') as { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } };
    expect(service.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]!.port);

    const container = pod.template.spec.containers[0]!;
    const portOf = (name: string) => container.ports.find((p) => p.name === name)?.containerPort;
    for (const p of service.spec.ports) expect(portOf(p.targetPort), p.name).toBeDefined();
    expect(portOf('ws')).toBe(Number(data['PORT']));
    expect(portOf('metrics')).toBe(Number(data['METRICS_PORT']));
    // The admin API is on the pod's loopback only: no port of the pod or the Service exposes it.
    expect(data['ADMIN_HOST']).toBe('127.0.0.1');
    expect(container.ports.map((p) => p.containerPort)).not.toContain(Number(data['ADMIN_PORT']));
  });

  it('runs as the non-root user the image sets, with nothing writable but /tmp', () => {
    const spec = (byKind('Deployment') as { spec: { template: { spec: { containers: Container[]; securityContext: Record<string, unknown> } } } }).spec.template.spec;
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(spec.containers[0]!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    // Numeric, so that runAsNonRoot can verify it without reading /etc/passwd.
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).not.toMatch(/^USER (root|0)\b/m);
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1]!.split(/\s+/).map(Number);
    for (const p of spec.containers[0]!.ports) expect(exposed).toContain(p.containerPort);
  });

  it("answers the probes and the scrape on the ports the manifests name, started with the ConfigMap's settings", async () => {
    const data = byKind('ConfigMap')['data'] as Record<string, string>;
    const container = (byKind('Deployment') as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec.containers[0]!;
    const db = await createTestDatabase(process.env['DATABASE_URL'] ? 'postgres' : 'pglite');
    // Ports 0 and loopback: tests run in parallel on one machine. Everything else as the ConfigMap says.
    const relay = await startRelay({
      ...data,
      DATA_DIR: tempDir('deploy'),
      ...db.env,
      JWT_SECRET: TEST_SECRET,
      HOST: '127.0.0.1',
      METRICS_HOST: '127.0.0.1',
      PORT: '0',
      METRICS_PORT: '0',
      ADMIN_PORT: '0',
    });
    try {
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
        expect(probe.httpGet.port).toBe('ws');
        expect((await fetch(`http://127.0.0.1:${relay.port}${probe.httpGet.path}`)).status, probe.httpGet.path).toBe(200);
      }
      const monitor = byKind('ServiceMonitor') as { spec: { endpoints: { path: string }[] } };
      expect((await fetch(`http://127.0.0.1:${relay.metricsPort}${monitor.spec.endpoints[0]!.path}`)).status).toBe(200);
      // Production without ADMIN_TOKEN: the admin API stays off (the Secret supplies the token).
      expect(relay.adminPort).toBeNull();
    } finally {
      await relay.stop();
      await db.drop();
    }
  });
});
