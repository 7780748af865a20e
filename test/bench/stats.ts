/** Benchmark bookkeeping: interleaved rounds, medians, ratios, one table. */

export interface Row {
  /** What was measured. */
  name: string;
  unit: string;
  /** Median without the feature (the baseline run in the same invocation). */
  baseline: number;
  /** Median with the feature. */
  feature: number;
  /** Higher is better (rates) or lower is better (costs). */
  better: 'higher' | 'lower';
  /** The goal for feature/baseline (rates) or an absolute bound (costs), printed for the reader. */
  goal?: string;
  samples?: { baseline: number[]; feature: number[] };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs baseline and feature measurements alternately, rounds times each, so
 * that drift in the machine's load hits both sides alike.
 */
export async function interleaved(
  rounds: number,
  baseline: () => Promise<number>,
  feature: () => Promise<number>,
): Promise<{ baseline: number[]; feature: number[] }> {
  const [b, f] = await interleavedN(rounds, [baseline, feature]);
  return { baseline: b, feature: f };
}

/** Like interleaved, for any number of variants measured in turn each round: samples per variant. */
export async function interleavedN(rounds: number, variants: (() => Promise<number>)[]): Promise<number[][]> {
  const out = variants.map(() => [] as number[]);
  for (let i = 0; i < rounds; i++) {
    for (const [j, v] of variants.entries()) out[j].push(await v());
  }
  return out;
}

export function row(name: string, unit: string, better: Row['better'], samples: Row['samples'] & {}, goal?: string): Row {
  return { name, unit, better, goal, baseline: median(samples.baseline), feature: median(samples.feature), samples };
}

function fmt(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(x < 10 ? 2 : 0);
}

/** Per-round ratios (rounds ran interleaved, so round i of each side shared the machine's mood): lowest and highest. */
function roundRange(r: Row): string {
  const s = r.samples;
  if (!s || s.baseline.length < 2 || s.baseline.length !== s.feature.length) return '';
  // A round where either side measured nothing (all its connections stalled) has no ratio: say how many.
  const ratios = s.feature.map((f, i) => f / s.baseline[i]).filter((x) => Number.isFinite(x) && x > 0);
  const empty = s.baseline.length - ratios.length;
  const range = ratios.length ? `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}` : '-';
  return empty ? `${range} (${empty} empty)` : range;
}

/** The printed table: raw medians, the ratio of the medians feature/baseline, and the spread of per-round ratios. */
export function table(title: string, rows: Row[]): string {
  const w = Math.max(46, ...rows.map((r) => r.name.length));
  const lines = [
    `\n${title}`,
    `${'measure'.padEnd(w)} ${'baseline'.padStart(12)} ${'with'.padStart(12)}  ${'ratio'.padStart(6)}  ${'rounds'.padStart(9)}  goal`,
  ];
  for (const r of rows) {
    const ratio = r.feature / r.baseline;
    lines.push(
      `${r.name.padEnd(w)} ${`${fmt(r.baseline)} ${r.unit}`.padStart(12)} ${`${fmt(r.feature)} ${r.unit}`.padStart(12)}  ${ratio.toFixed(3).padStart(6)}  ${roundRange(r).padStart(9)}  ${r.goal ?? ''}`,
    );
  }
  return lines.join('\n');
}
