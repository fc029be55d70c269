import type { Sample } from './growth.ts';

/** An SVG of RSS and heap over a soak run, linear axes, with the RSS trend line. No dependencies. */
export function soakChart(samples: readonly Sample[], trend: { from: number; slopePerSecond: number; at: number }, title: string): string {
  const W = 860,
    H = 400,
    L = 70,
    R = 150,
    T = 40,
    B = 50;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const yMax = Math.max(1, ...samples.map((s) => s.rssMiB)) * 1.15;
  const sx = (t: number) => L + (t / tMax) * (W - L - R);
  const sy = (y: number) => T + (1 - y / yMax) * (H - T - B);
  const line = (pick: (s: Sample) => number) => samples.map((s) => `${sx(s.t).toFixed(1)},${sy(pick(s)).toFixed(1)}`).join(' ');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${L}" y="22" font-size="15" font-weight="600">${title}</text>`,
  ];
  const step = 10 ** Math.floor(Math.log10(yMax / 2));
  for (let y = 0; y <= yMax; y += step * (yMax / step > 10 ? 2 : 1)) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e7eb"/>`, `<text x="${L - 8}" y="${sy(y) + 4}" text-anchor="end" fill="#555">${y} MiB</text>`);
  }
  for (let m = 0; m <= tMax / 60; m += Math.max(1, Math.round(tMax / 60 / 10))) {
    out.push(`<text x="${sx(m * 60)}" y="${H - B + 18}" text-anchor="middle" fill="#555">${m} min</text>`);
  }
  out.push(
    `<polyline fill="none" stroke="#2f6fed" stroke-width="2" points="${line((s) => s.rssMiB)}"/>`,
    `<polyline fill="none" stroke="#1a9b53" stroke-width="2" points="${line((s) => s.heapMiB)}"/>`,
    `<line x1="${sx(trend.from)}" x2="${sx(tMax)}" y1="${sy(trend.at)}" y2="${sy(trend.at + trend.slopePerSecond * (tMax - trend.from))}" stroke="#c53030" stroke-dasharray="6 4"/>`,
    `<text x="${W - R + 10}" y="${T + 10}" fill="#2f6fed">RSS</text>`,
    `<text x="${W - R + 10}" y="${T + 28}" fill="#1a9b53">heap used</text>`,
    `<text x="${W - R + 10}" y="${T + 46}" fill="#c53030">RSS trend</text>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle" fill="#333">time</text>`,
    '</svg>',
  );
  return out.join('\n');
}
