import { z } from 'zod';

/** The first problem zod found, as `field: message` (the whole value is `fallback`). */
export function firstIssue(error: { issues: Array<{ path: PropertyKey[]; message: string }> }, fallback: string) {
  const issue = error.issues[0];
  return `${issue.path.length ? issue.path.map(String).join('.') : fallback}: ${issue.message}`;
}

/** A 24-hex-digit ObjectId string; anything else (objects, operators, other strings) is refused. */
export const objectId = z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be an id (24 hex digits)').transform(s => s.toLowerCase());

/** The `:id` of `GET /files/:id`: hex digits (a file key is 32; anything else of the shape is just not found). */
export const fileId = z.string().regex(/^[0-9a-fA-F]{1,64}$/, 'must be a file id').transform(s => s.toLowerCase());

/** how deep a free object may nest */
const MAX_DEPTH = 8;

/**
 * Why a free object is refused, or null. The walk is bounded (it stops past MAX_DEPTH levels and
 * never recurses), and only an object that passed it is serialized to measure its size: serializing
 * first overflowed the stack on deeply nested input (a 500 instead of 20002).
 */
function freeObjectProblem(value: unknown, maxBytes: number): string | null {
  const stack: Array<[ unknown, number ]> = [ [ value, 0 ] ];
  while (stack.length) {
    const [ v, depth ] = stack.pop()!;
    if (depth > MAX_DEPTH) return `nesting is limited to ${MAX_DEPTH} levels`;
    if (!v || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const item of v) stack.push([ item, depth + 1 ]);
      continue;
    }
    for (const [ k, item ] of Object.entries(v)) {
      if (k.startsWith('$') || k.includes('.') || k.includes('\0')) return 'keys must not start with "$" or contain "."';
      stack.push([ item, depth + 1 ]);
    }
  }
  return Buffer.byteLength(JSON.stringify(value)) <= maxBytes ? null : `must be at most ${maxBytes} bytes of JSON`;
}

/** A free JSON object kept as it is (profiles, message extras): ≤ 8 levels, no operator-like keys, size-capped. */
export const freeObject = (maxBytes: number) => z.record(z.string(), z.unknown()).check(ctx => {
  const problem = freeObjectProblem(ctx.value, maxBytes);
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});
