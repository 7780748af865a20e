/**
 * The guest's qemu command line (test/vm/guest.ts): the VM bench's
 * instruction clock is qemu's icount on one vCPU, and a second vCPU under
 * icount is refused before anything boots (qemu 7.2 never brings it up).
 */
import { expect, test } from 'vitest';
import { qemuArgs } from '../vm/guest.js';

const kernel = { vmlinuz: '/boot/vmlinuz-test' };
const after = (args: string[], flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
};

test('icount: the guest clock counts instructions, one vCPU', () => {
  const args = qemuArgs(kernel, '/tmp/initrd', '/tmp/results', { icount: true, cpus: 1 });
  expect(after(args, '-icount')).toBe('shift=0');
  expect(after(args, '-smp')).toBe('1');
});

test('without icount: the host clock, two vCPUs by default', () => {
  const args = qemuArgs(kernel, '/tmp/initrd', '/tmp/results', {});
  expect(args).not.toContain('-icount');
  expect(after(args, '-smp')).toBe('2');
});

test.each([[{ icount: true }], [{ icount: true, cpus: 2 }]])('icount with more than one vCPU is refused: %j', (opts) => {
  expect(() => qemuArgs(kernel, '', '', opts)).toThrow(/icount needs cpus: 1/);
});
