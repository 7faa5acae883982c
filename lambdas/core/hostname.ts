/** RFC 6125 name matching, as HubSpot applies it to the certificate's CN. */

function normalise(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * Whether a certificate name (CN or SAN dNSName) covers the host.
 * A wildcard is allowed only as the whole left-most label and covers exactly one label.
 */
export function nameMatches(certName: string, host: string): boolean {
  const pattern = normalise(certName);
  const target = normalise(host);
  if (pattern === '' || target === '') return false;
  if (!pattern.startsWith('*.')) return pattern === target;
  const suffix = pattern.slice(1); // ".example.com"
  // A wildcard needs at least two labels under it (no "*.com").
  if (suffix.split('.').filter(Boolean).length < 2) return false;
  if (!target.endsWith(suffix)) return false;
  const label = target.slice(0, target.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}
