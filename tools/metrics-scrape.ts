/** Samples of a Prometheus text scrape, by `name{labels}` as written (labels in the relay's order). */
export type Scrape = Map<string, number>;

export async function scrape(metricsPort: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  if (!res.ok) throw new Error(`metrics: ${res.status}`);
  const out: Scrape = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** A sample's value, 0 when absent (a labelled counter not yet seen). */
export const sample = (s: Scrape, key: string): number => s.get(key) ?? 0;
