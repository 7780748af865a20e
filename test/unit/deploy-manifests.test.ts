/**
 * deploy/: the Kubernetes manifests parse, carry what the DaemonSet API
 * requires (apps/v1: selector matching the template's labels, containers
 * with a name and an image, every volumeMount backed by a volume), and ask
 * for exactly what the agent needs: the host's bpffs and cgroup2 by
 * hostPath, CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (the set
 * test/e2e/ops-container.test.ts proves is enough, each one needed), not
 * privileged. The ConfigMap's configuration is one toa-bpf reads; the
 * Containerfile's inputs exist.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, TOA_BPF } from '../lab/index.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function load(file: string): any[] {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', file), 'utf8'));
  for (const d of docs) expect(d.errors, file).toEqual([]);
  return docs.map((d) => d.toJS());
}

const [ds] = load('daemonset.yaml');
const [cm] = load('configmap.yaml');

describe('deploy/kubernetes', () => {
  it('the DaemonSet has what apps/v1 requires', () => {
    expect(ds).toMatchObject({ apiVersion: 'apps/v1', kind: 'DaemonSet' });
    expect(ds.metadata.name).toMatch(DNS_LABEL);
    const labels = ds.spec.template.metadata.labels;
    expect(Object.keys(ds.spec.selector.matchLabels).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    const pod = ds.spec.template.spec;
    expect(pod.containers.length).toBeGreaterThan(0);
    const volumes = new Set(pod.volumes.map((v: any) => v.name));
    for (const c of pod.containers) {
      expect(c.name).toMatch(DNS_LABEL);
      expect(typeof c.image).toBe('string');
      for (const m of c.volumeMounts) {
        expect(volumes.has(m.name), m.name).toBe(true);
        expect(m.mountPath.startsWith('/')).toBe(true);
      }
    }
    expect(['RollingUpdate', 'OnDelete']).toContain(ds.spec.updateStrategy.type);
  });

  it('asks for the host bpffs and cgroup2, three capabilities, nothing more', () => {
    const pod = ds.spec.template.spec;
    const [agent] = pod.containers;
    const hostPaths = Object.fromEntries(pod.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath.path]));
    expect(Object.values(hostPaths).sort()).toEqual(['/sys/fs/bpf', '/sys/fs/cgroup']);
    const mountOf = (path: string) => agent.volumeMounts.find((m: any) => hostPaths[m.name] === path);
    // The pins go on the host's bpffs where toa-bpf looks for it; the host's cgroup2 beside the container's own.
    expect(mountOf('/sys/fs/bpf').mountPath).toBe('/sys/fs/bpf');
    expect(mountOf('/sys/fs/cgroup').mountPath).toBe('/host/sys/fs/cgroup');
    expect(agent.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['BPF', 'NET_ADMIN', 'PERFMON'] });
    expect(agent.securityContext.privileged).toBe(false);
    expect(agent.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostPID ?? false).toBe(false);
  });

  it('the ConfigMap is the agent configuration: mounted where TOA_CONFIG points, attaching to the host cgroup2 root', () => {
    expect(cm).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
    const pod = ds.spec.template.spec;
    const [agent] = pod.containers;
    const vol = pod.volumes.find((v: any) => v.configMap);
    expect(vol.configMap.name).toBe(cm.metadata.name);
    const mount = agent.volumeMounts.find((m: any) => m.name === vol.name);
    const conf = agent.env.find((e: any) => e.name === 'TOA_CONFIG').value;
    expect(dirname(conf)).toBe(mount.mountPath);
    const text = cm.data[conf.split('/').pop()];
    expect(text).toMatch(/^trust = /m);
    expect(text).toMatch(/^cgroup = \/host\/sys\/fs\/cgroup$/m);
  });

  it.skipIf(!existsSync(TOA_BPF))('toa-bpf reads the ConfigMap configuration: keys it knows, nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toa-cm-'));
    try {
      writeFileSync(join(dir, 'realserver.conf'), cm.data['realserver.conf']);
      // status takes the file's pin-dir and checks every key; the values are checked by attach in ops-container.
      const r = spawnSync(TOA_BPF, ['realserver', 'status', '--config', join(dir, 'realserver.conf')], { encoding: 'utf8' });
      expect(r.status, r.stderr).not.toBe(2);
      writeFileSync(join(dir, 'bad.conf'), `${cm.data['realserver.conf']}trusted = 1\n`);
      const bad = spawnSync(TOA_BPF, ['realserver', 'status', '--config', join(dir, 'bad.conf')], { encoding: 'utf8' });
      expect(bad.status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the Containerfile's inputs exist and its entrypoint is executable", () => {
    const cf = readFileSync(join(DEPLOY, 'container/Containerfile'), 'utf8');
    for (const m of cf.matchAll(/^COPY (?!--from)(\S+) /gm)) expect(existsSync(join(REPO_ROOT, m[1])), m[1]).toBe(true);
    expect(cf).toMatch(/^ENTRYPOINT \["\/usr\/sbin\/toa-agent"\]$/m);
    expect(cf).toMatch(/^COPY deploy\/container\/agent\.sh \/usr\/sbin\/toa-agent$/m);
    expect(statSync(join(DEPLOY, 'container/agent.sh')).mode & 0o111).not.toBe(0);
  });
});
