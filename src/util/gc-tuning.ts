import { setFlagsFromString } from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for this process; call it
 * before the relay allocates anything on its hot path.
 *
 * Pretenuring watches which object literals survive scavenges and, past a
 * threshold, allocates every later object of that literal straight in the
 * old generation. The relay creates many objects from the same literals
 * whether they live seconds (at start-up: registrations, backlog reads)
 * or a millisecond (an online recipient's ack). Once a site is tipped, its
 * objects are allocated old, the young frames they point to survive each
 * scavenge because they do, and all of them die in the old generation.
 * Measured at 10k msg/s (with the renewing indexes of
 * renewing-collections.ts): in about half the runs, 1.3 MB promoted per
 * scavenge and 6 ms scavenges, from the start of the load; with
 * pretenuring off, 0.25 to 0.35 MB and 2.2 ms in each of six runs. Which
 * site tipped was not identified. Long-lived objects still reach the old
 * generation, after the usual two scavenges.
 *
 * Set here, before the server starts, the flag gave the same figures as on
 * node's command line (three runs each), and it covers every way the relay
 * is started.
 */
export function tuneGarbageCollector(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
