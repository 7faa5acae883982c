// The bench's one output format: rows grouped by section, printed as a table and saved as JSON.

export interface Row {
  measure: string;
  value: string;
  /** A ratio, a target and whether it is met, or a comparison. */
  versus?: string;
  detail?: string;
}

export interface Section<T = unknown> {
  id: string;
  title: string;
  rows: Row[];
  /** Free text printed under the rows (breakdowns, timelines). */
  notes?: string[];
  /** Everything measured, for the JSON file. */
  data: T;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatTable(sections: readonly Section[]): string {
  const all = sections.flatMap((s) => s.rows);
  const w = {
    measure: Math.max(7, ...all.map((r) => r.measure.length)),
    value: Math.max(5, ...all.map((r) => r.value.length)),
    versus: Math.max(11, ...all.map((r) => (r.versus ?? '').length)),
  };
  const line = (r: Row): string =>
    `${pad(r.measure, w.measure)}  ${pad(r.value, w.value)}  ${pad(r.versus ?? '', w.versus)}  ${r.detail ?? ''}`.trimEnd();
  const out: string[] = [line({ measure: 'MEASURE', value: 'VALUE', versus: 'VS / TARGET', detail: 'DETAIL' })];
  for (const s of sections) {
    out.push('', `## ${s.title}`);
    for (const r of s.rows) out.push(line(r));
    if (s.notes?.length) out.push('', ...s.notes.map((n) => `  ${n}`));
  }
  return out.join('\n');
}

/** "✓ ≤ 10" or "✗ ≤ 10" */
export function target(ok: boolean, text: string): string {
  return `${ok ? 'met' : 'MISSED'}: ${text}`;
}
