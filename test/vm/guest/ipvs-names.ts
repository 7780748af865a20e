// The IPVS scenarios, in run order: the guest runs them (ipvs-scenarios.ts),
// the host turns each into a test (test/vm/ipvs.test.ts), so a scenario that
// never ran fails instead of vanishing.
export const IPVS_SCENARIOS: string[] = [
  'ipvsadm: NAT-mode services for IPv4 and IPv6, SNAT to the LIP pool, vs.conntrack=1, the writer on cli0',
  'without a reader the real server sees a LIP of the pool, through IPVS (IPv4 and IPv6)',
  'eBPF real server: IPv4 and IPv6 clients see themselves, spread over the LIP pool',
  'toa.ko: IPv4 and IPv6 clients see themselves, spread over the LIP pool',
  'keepalived (examples/ipvs-keepalived): builds the IPVS table, real servers in once their TCP check passes',
  'keepalived: IPv4 and IPv6 clients see themselves through its IPVS',
  'keepalived: a SYN from the real servers\' side, sent to a VIP or source-routed to one through the director, gets no connection through IPVS',
  'keepalived: a failing TCP check takes the real server out, a passing one puts it back',
  'keepalived: on exit it removes its virtual services',
];
