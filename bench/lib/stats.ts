// Small statistics and formatting helpers shared by the bench sections.

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Linear interpolation between closest ranks; NaN for no data. */
export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  /** Interquartile range relative to the median: the noise of a figure. */
  iqrPct: number;
}

export function spread(xs: readonly number[]): Spread {
  const m = median(xs);
  return {
    n: xs.length,
    median: m,
    min: Math.min(...xs),
    max: Math.max(...xs),
    iqrPct: xs.length >= 3 ? (100 * (quantile(xs, 0.75) - quantile(xs, 0.25))) / m : NaN,
  };
}

/** Least squares y = a + b x, with R². */
export function linearFit(xs: readonly number[], ys: readonly number[]): { a: number; b: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  const b = sxy / sxx;
  return { a: my - b * mx, b, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/** "1,234 ms", "2.31 s" */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`;
}

export function num(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes >= 10 * 1024 * 1024 ? 0 : 2)} MB`;
}

export function usd(x: number): string {
  return x >= 0.01 ? `$${x.toFixed(4)}` : `$${x.toPrecision(2)}`;
}

/** "median 312 ms (n=10, 280-401, IQR 9%)" */
export function describe(s: Spread): string {
  const iqr = Number.isFinite(s.iqrPct) ? `, IQR ${Math.round(s.iqrPct)}%` : '';
  return `median of ${s.n}, ${ms(s.min)}–${ms(s.max)}${iqr}`;
}
