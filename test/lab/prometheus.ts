/**
 * Prometheus text parsed by an independent parser: Debian's
 * python3-prometheus-client (the Debian python, not whatever python3 is
 * first on PATH, which may not see Debian's packages).
 */
import { spawnSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help: string;
  samples: PromSample[];
}

const SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = [{"name": f.name, "type": f.type, "help": f.documentation,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
       for f in text_string_to_metric_families(sys.stdin.read())]
json.dump(out, sys.stdout)
`;

/** Why the parser cannot run here, or null. */
export function promParserUnavailable(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import prometheus_client'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'no python3-prometheus-client (apt-get install python3-prometheus-client)';
}

/** Parses the text; throws with the parser's message when it is not valid exposition format. */
export function parseProm(text: string): PromFamily[] {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prometheus_client rejected the text: ${r.stderr}`);
  return JSON.parse(r.stdout) as PromFamily[];
}

/** The value of one sample, by full name and labels; undefined when absent. */
export function promValue(fams: PromFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of fams) {
    for (const s of f.samples) {
      if (s.name === name && Object.keys(labels).every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}
