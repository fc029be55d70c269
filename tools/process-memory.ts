import { readFileSync } from 'node:fs';

/** Resident set size of a process in bytes, from /proc (Linux); throws when the process is gone. */
export function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no resident set size for process ${pid}`);
  return Number(kb) * 1024;
}
