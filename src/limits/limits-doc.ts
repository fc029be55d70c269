import { limitsTable } from './limits-table.ts';

/** The limits table as Markdown, as SECURITY.md publishes it (`npm run -s limits:doc` prints it). */
export function limitsMarkdown(): string {
  const rows = Object.values(limitsTable).map((l) => `| \`${l.env}\` | ${l.default} ${l.unit} | ${l.onBreach} | ${l.why} |`);
  return ['| variable | default | on breach | why |', '|---|---|---|---|', ...rows].join('\n');
}

if (process.argv[1]?.endsWith('limits-doc.ts')) console.log(limitsMarkdown());
