/**
 * Secrets (EAB HMAC keys, TSIG secrets, hook-provided tokens) must never reach a terminal, a log
 * file or a JSON document, even when an error message or a child process echoes them. They often
 * travel encoded, so each secret is also matched in its base64, base64url and JSON-escaped
 * spellings. A secret encoded inside a longer base64 string at an unaligned offset cannot be
 * recognised; such text (JWS bodies) is simply never logged.
 */

export const REDACTED = '[redacted]';

/** Every spelling of `secret` that `redact` replaces, longest first. */
export function secretVariants(secret: string): string[] {
  if (secret === '') return [];
  const variants = new Set<string>([secret]);
  const bytes = Buffer.from(secret, 'utf8');
  const standard = bytes.toString('base64');
  variants.add(standard);
  variants.add(standard.replace(/=+$/, ''));
  variants.add(bytes.toString('base64url'));
  // A secret that is itself base64 or base64url (EAB keys are base64url) may appear re-encoded in the other alphabet.
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(secret) && secret.length >= 4) {
    const decoded = Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (decoded.length > 0) {
      const reStandard = decoded.toString('base64');
      variants.add(reStandard);
      variants.add(reStandard.replace(/=+$/, ''));
      variants.add(decoded.toString('base64url'));
    }
  }
  const escaped = JSON.stringify(secret).slice(1, -1);
  variants.add(escaped);
  return [...variants].filter((v) => v !== '').sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret (and its encodings) with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  if (secrets.length === 0 || text === '') return text;
  const variants = [...new Set(secrets.flatMap(secretVariants))].sort((a, b) => b.length - a.length);
  let result = text;
  for (const variant of variants) {
    if (result.includes(variant)) result = result.split(variant).join(REDACTED);
  }
  return result;
}
