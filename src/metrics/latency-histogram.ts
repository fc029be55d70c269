/**
 * A histogram kept as plain numbers: fixed bucket bounds, one counter per
 * bucket, a sum and a count. Observing is a short scan and two additions,
 * so it can sit on a message's path; the cumulative form Prometheus wants
 * is built only when it is scraped.
 */
export class LatencyHistogram {
  private readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per upper bound, `+Inf` last. */
  cumulative(): { le: string; count: number }[] {
    const out: { le: string; count: number }[] = [];
    let running = 0;
    for (let i = 0; i < this.counts.length; i++) {
      running += this.counts[i]!;
      out.push({ le: i < this.bounds.length ? String(this.bounds[i]) : '+Inf', count: running });
    }
    return out;
  }
}
