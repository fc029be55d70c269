import { setFlagsFromString } from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for this process; call it
 * before the relay allocates anything on its hot path.
 *
 * Pretenuring watches which object literals survive scavenges and, past a
 * threshold, allocates every later object of that literal straight in the
 * old generation. The relay creates its queue entries from the same code
 * whether they wait seconds (a backlog read at connect, a burst of
 * registrations) or milliseconds (an online recipient's ack). When a
 * start-up burst tips a site into pretenuring, every entry after it is
 * allocated old, the young frames it points to survive each scavenge
 * because it does, and all of them die in the old generation. Measured at
 * 10k msg/s (with the renewing indexes of renewing-collections.ts): in
 * about half the runs, 1.3 MB promoted per scavenge and 6 ms scavenges;
 * with pretenuring off, 0.25 to 0.35 MB and 2.2 ms in each of six runs. Long-lived objects still reach the old generation, after the usual
 * two scavenges.
 *
 * The flag is read by the collector at each scavenge, so setting it at
 * start-up (rather than on node's command line) covers every way the relay
 * is started.
 */
export function tuneGarbageCollector(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
