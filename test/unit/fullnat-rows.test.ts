/**
 * The fullnat-vm bench's rows from the guest's figures (test/vm/bench-fullnat.ts): each row
 * compares the steps it names, and turns the difference into instructions per connection or
 * per KiB (a guest ns is one instruction). The guest run itself takes half an hour: made-up
 * figures here, chosen so that every step differs.
 */
import { expect, test } from 'vitest';
import { fullnatRows, type StepFigures } from '../vm/bench-fullnat.js';

const figures = (): StepFigures => ({
  steps: { nat: [5000, 5000, 4000], fullnat: [4000], writer: [3200], whole: [3000], synproxy: [2000], bare: [2500], rsdev: [1600] },
  bulk: {
    // 8192e6 bits/s: a KiB every 1000 ns, so 1000 instructions per KiB.
    upload: { nat: [8192e6], fullnat: [4096e6], mss: [2048e6], writer: [1024e6], whole: [512e6] },
    download: { nat: [8192e6], fullnat: [8192e6], mss: [8192e6], writer: [4096e6], whole: [4096e6] },
  },
});

test('each row compares its steps and says what the feature adds per connection or per KiB', () => {
  const rows = fullnatRows('6.12-test', figures());
  const by = (name: string) => {
    const r = rows.filter((x) => x.name === name);
    expect(r, name).toHaveLength(1);
    return r[0];
  };
  // The median of the baseline's rounds: 5000.
  expect(by('FullNAT + TOA vs plain NAT on 6.12-test: connections/s')).toMatchObject({ baseline: 5000, feature: 3000, goal: '>= 0.95 (+133.3 k insn/connection)' });
  expect(by("  of it: the director's writer")).toMatchObject({ baseline: 4000, feature: 3200, goal: '(+62.5 k insn/connection)' });
  expect(by('SYNPROXY + --rs-dev vs FullNAT + writer (no flood): connections/s')).toMatchObject({ baseline: 3200, feature: 2000 });
  expect(by('  the --rs-dev writer behind it (no timestamps)')).toMatchObject({ baseline: 2500, feature: 1600 });
  expect(by('FullNAT + TOA vs plain NAT: bulk upload (iperf3)')).toMatchObject({ baseline: 8192e6, feature: 512e6, goal: '>= 0.97 (+15000 insn/KiB)' });
  // Upload's, then download's.
  const sameMss = rows.filter((r) => r.name === '  of it: the writer at the same MSS');
  expect(sameMss.map((r) => [r.baseline, r.feature, r.unit])).toEqual([[2048e6, 1024e6, 'b/s'], [8192e6, 4096e6, 'b/s']]);
  expect(by('director: bulk upload, the writer vs none')).toMatchObject({ baseline: 4096e6, feature: 1024e6, goal: '>= 0.98 (+6000 insn/KiB)' });
  expect(by('FullNAT + TOA vs plain NAT: bulk download (iperf3 -R)')).toMatchObject({ baseline: 8192e6, feature: 4096e6, goal: '>= 0.97 (+1000 insn/KiB)' });
  expect(rows).toHaveLength(7 + 2 * 6);
});

test('a step without figures is named in the error, not printed as a row', () => {
  const f = figures();
  f.steps.rsdev = [];
  delete (f.bulk.download as Partial<StepFigures['bulk']['download']>).mss;
  expect(() => fullnatRows('6.12-test', f)).toThrow(/no figures for rsdev, download mss/);
});
