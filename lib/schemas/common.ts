import { z } from 'zod';

/** The first problem zod found, as `field: message` (the whole value is `fallback`). */
export function firstIssue(error: { issues: Array<{ path: PropertyKey[]; message: string }> }, fallback: string) {
  const issue = error.issues[0];
  return `${issue.path.length ? issue.path.map(String).join('.') : fallback}: ${issue.message}`;
}

/** A 24-hex-digit ObjectId string; anything else (objects, operators, other strings) is refused. */
export const objectId = z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be an id (24 hex digits)').transform(s => s.toLowerCase());

const hasUnsafeKey = (value: unknown, depth = 0): boolean => {
  if (depth > 8) return true;
  if (Array.isArray(value)) return value.some(v => hasUnsafeKey(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([ k, v ]) => k.startsWith('$') || k.includes('.') || k.includes('\0') || hasUnsafeKey(v, depth + 1));
  }
  return false;
};

/** A free JSON object kept as it is (profiles, message extras): size-capped, no operator-like keys, ≤ 8 levels. */
export const freeObject = (maxBytes: number) => z.record(z.string(), z.unknown())
  .refine(v => Buffer.byteLength(JSON.stringify(v)) <= maxBytes, `must be at most ${maxBytes} bytes of JSON`)
  .refine(v => !hasUnsafeKey(v), 'keys must not start with "$" or contain "." and nesting is limited to 8 levels');
