/**
 * The lab states the benchmarks compare, each as a wrapper around a measure:
 * set the state up, measure, and undo it, also when the measure fails (the
 * next variant of an interleaved round must find the lab as it was).
 */
import type { Lab } from '../lab/index.js';
import { CLAMPED_MSS } from './bulk.js';

/** Runs a measure (whatever it returns) in a lab state. */
export type Wrapper = <T>(f: () => Promise<T>) => Promise<T>;

/** A wrapper that runs setup, the measure, then undo. */
export function within(setup: () => Promise<void>, undo: () => Promise<void>): Wrapper {
  return async <T>(f: () => Promise<T>): Promise<T> => {
    await setup();
    try {
      return await f();
    } finally {
      await undo();
    }
  };
}

/** The steps from plain NAT to the whole FullNAT + TOA, and SYNPROXY, for a lab whose app listens on ports. */
export function labSteps(lab: Lab, ports: number[]) {
  const writer = within(() => lab.attachWriter({ ports }), () => lab.detachWriter());
  const realserver = within(() => lab.attachRealserver(), () => lab.detachRealserver());
  return {
    /** dnat only: the real server routes its replies back through the director. */
    plainNat: within(() => lab.setNat('nat'), () => lab.setNat('fullnat')),
    /** The real server advertises the writer's clamped MSS by its routes, no eBPF. */
    sameMss: within(() => lab.routeMss(CLAMPED_MSS), () => lab.routeMss(null)),
    /** The director's writer. */
    writer,
    /** The real server's eBPF path. */
    realserver,
    /** The writer and the real server's eBPF path. */
    whole: (<T>(f: () => Promise<T>) => writer(() => realserver(f))) as Wrapper,
    /** The SYNPROXY recipe in front of FullNAT; timestamp: whether its cookies carry timestamps. */
    synproxy: (timestamp = true) => within(() => lab.setSynproxy({ timestamp }), () => lab.setSynproxy(null)),
    /** The writer on both devices (--rs-dev), as behind SYNPROXY. */
    rsWriter: within(() => lab.attachWriter({ ports, rsDev: true }), () => lab.detachWriter()),
  };
}
