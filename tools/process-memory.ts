import { readFileSync } from 'node:fs';

/** Resident set size of a process in bytes, from /proc (Linux); throws when the process is gone. */
export function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no resident set size for process ${pid}`);
  return Number(kb) * 1024;
}

/**
 * A process's resident memory by kind, in bytes, from /proc/PID/smaps:
 * `brk` the main malloc arena ([heap]), `anon` every other private anonymous
 * mapping (V8's heap pages, malloc's mmap'd arenas, thread stacks), `file`
 * pages of mapped files (the node binary and shared libraries, which the
 * kernel can drop and read back). A leak shows
 * in brk or anon; file grows as code paths run for the first time.
 */
export function residentByKind(pid: number): { brk: number; anon: number; file: number } {
  const out = { brk: 0, anon: 0, file: 0 };
  let kind: keyof typeof out = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) {
      const [, inode, name = ''] = header;
      kind = name === '[heap]' ? 'brk' : inode !== '0' ? 'file' : 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)?.[1];
    if (rss !== undefined) out[kind] += Number(rss) * 1024;
  }
  return out;
}
