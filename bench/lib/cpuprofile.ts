// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time by function and by package.
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  byPackage: Array<{ name: string; ms: number }>;
  byFunction: Array<{ name: string; ms: number }>;
}

function pkgOf(url: string): string {
  if (!url) return '(native / idle / gc)';
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) return /^((?:@[^/]+\/)?[^/]+)/.exec(url.slice(i + 13))?.[1] ?? url;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '').replace(/^.*\/(lambdas|bench|test|bin)\//, '$1/');
}

export async function summarizeProfile(file: string, top = 12): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const pkgs = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    total += t;
    const pkg = pkgOf(f.url);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + t);
    const fn = `${f.functionName || '(anonymous)'} ${pkg}:${f.lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + t);
  }
  const sorted = (m: Map<string, number>): Array<{ name: string; ms: number }> =>
    [...m]
      .map(([name, ms]) => ({ name, ms }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  return { totalMs: total, byPackage: sorted(pkgs), byFunction: sorted(fns) };
}
