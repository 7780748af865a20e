// The module scenarios, in run order: the guest runs them
// (module-scenarios.ts), the host turns each into a test (module.test.ts), so
// a scenario that never ran fails instead of vanishing.
export const MODULE_SCENARIOS: string[] = [
  'refuses to load without a trust decision or with bad parameters',
  'loads with a trust list and shows /proc/net/toa_stats',
  'v4 TOA in the handshake ACK: dual-stack socket sees ::ffff:client',
  'v4 TOA: IPv4 socket sees the client',
  'v6 and v6-ali TOA over IPv6: IPv6 socket sees the client',
  'TOA only in the first data segment is taken',
  'getsockopt(TOA_SO_RECORD): the record, and NAT64 recorded but not rewritten',
  'accept() returns the client too (IPv4 and IPv6)',
  'forged TOA from the stranger (untrusted source) is ignored',
  'malformed options are never trusted, and counted by reason',
  'a malformed option in the handshake does not end the search: a TOA in the next segment is taken, as on the eBPF path',
  'SYN cookies: the option is taken from the cookie-validated ACK',
  'load: 50 keep-alive connections call getpeername() while 10,000 short ones come and go, then rmmod with them open',
  'unload and reload 20 times while connections come and go',
  'a connection opened before rmmod keeps working after it',
  'director writer: attaches on cli0',
  'director writer: by tcx links from Linux 6.6, by clsact filters before; --hook tcx on an older kernel says why',
  'director writer: IPv4 client on a dual-stack socket sees ::ffff:client',
  'director writer: IPv4 client on an IPv4 socket sees the client',
  'director writer: IPv6 client sees the client',
  'director writer: the toa package reads the record (IPv4 and IPv6)',
  'director writer: counters in /proc/net/toa_stats add up',
  'director writer: many Node connections from several clients without cross-talk',
  'rmmod leaves nothing behind',
];
