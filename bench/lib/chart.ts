/**
 * A small SVG line chart of p99 latency against offered load, one line per
 * target, log-scaled latency. No dependencies: the benchmark writes it next
 * to its Markdown table.
 */
export interface Series {
  name: string;
  points: { x: number; y: number | null }[];
}

const colors = ['#2f6fed', '#1a9b53', '#c53030', '#c77700'];

export function latencyChart(series: Series[], title: string): string {
  const W = 860,
    H = 420,
    L = 90,
    R = 250,
    T = 40,
    B = 50;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.flatMap((p) => (p.y === null ? [] : [p.y])));
  const xMax = Math.max(...xs) * 1.05;
  const yMin = Math.max(0.1, Math.min(...ys) / 1.5);
  const yMax = Math.max(...ys) * 1.5;
  const sx = (x: number) => L + (x / xMax) * (W - L - R);
  const sy = (y: number) => T + (1 - (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${L}" y="22" font-size="15" font-weight="600">${title}</text>`,
  ];
  // Gridlines at 1, 2 and 5 per decade, leaving out any that would crowd the one drawn before.
  let lastY = Infinity;
  for (let e = Math.floor(Math.log10(yMin)); e <= Math.ceil(Math.log10(yMax)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < yMin || v > yMax || lastY - sy(v) < 16) continue;
      lastY = sy(v);
      out.push(`<line x1="${L}" x2="${W - R}" y1="${sy(v)}" y2="${sy(v)}" stroke="#e5e7eb"/>`, `<text x="${L - 8}" y="${sy(v) + 4}" text-anchor="end" fill="#555">${v} ms</text>`);
    }
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${T}" y2="${H - B}" stroke="#f0f1f3"/>`, `<text x="${sx(x)}" y="${H - B + 18}" text-anchor="middle" fill="#555">${x / 1000}k</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle" fill="#333">offered load (msg/s)</text>`);
  out.push(`<text x="18" y="${(T + H - B) / 2}" transform="rotate(-90 18 ${(T + H - B) / 2})" text-anchor="middle" fill="#333">p99 send-to-deliver latency</text>`);
  series.forEach((s, i) => {
    const c = colors[i % colors.length]!;
    const pts = s.points.filter((p) => p.y !== null).map((p) => `${sx(p.x).toFixed(1)},${sy(p.y!).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${c}"/>`);
    out.push(`<rect x="${W - R + 14}" y="${T + i * 22}" width="12" height="12" fill="${c}"/>`, `<text x="${W - R + 32}" y="${T + i * 22 + 10}">${s.name}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
