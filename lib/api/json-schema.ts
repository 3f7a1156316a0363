/**
 * zod schemas as JSON Schema (zod 4's `z.toJSONSchema`): draft 2020-12 for OpenAPI 3.1, draft 7 for
 * AsyncAPI 3 (its default schema format is a superset of draft 7), with every named schema
 * (`meta({id})`, lib/schemas/wire.ts) gathered once under `#/components/schemas/`.
 */
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';
const SAFE = Number.MAX_SAFE_INTEGER;

/** `#/$defs/X` (and draft 7's `#/definitions/X`) → `#/components/schemas/X`; the ±2^53 bounds zod writes for every `.int()` dropped (they say nothing). */
function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (!node || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [ k, v ] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && /^#\/(\$defs|definitions)\//.test(v)) out[k] = REF_PREFIX + v.slice(v.indexOf('/', 2) + 1);
    else if ((k === 'minimum' && v === -SAFE) || (k === 'maximum' && v === SAFE)) continue;
    else out[k] = tidy(v);
  }
  return out;
}

export class SchemaSet {
  /** the named schemas, for `components.schemas` */
  readonly components: Record<string, JsonSchema> = {};

  constructor(private readonly target: 'draft-2020-12' | 'draft-7') {}

  /**
   * JSON Schema of `schema`: `input` for what the server accepts (before its transforms), `output`
   * for what it sends. Named parts become references into `components`.
   */
  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const json = z.toJSONSchema(schema, {
      target: this.target,
      io,
      // custom checks (byte caps, nesting depth) are described in words, not in the schema
      unrepresentable: 'any',
      // "no payload" in a union of accepted payloads: JSON has no value for it, so it matches nothing
      override: ctx => {
        if (ctx.zodSchema._zod.def.type === 'undefined') ctx.jsonSchema.not = {};
      },
    }) as JsonSchema;
    const { $schema: _dialect, $defs, definitions, ...rest } = json;
    for (const [ name, def ] of Object.entries(($defs ?? definitions ?? {}) as Record<string, JsonSchema>)) {
      const tidied = tidy(def) as JsonSchema;
      const known = this.components[name];
      if (known && JSON.stringify(known) !== JSON.stringify(tidied)) throw new Error(`two different schemas are named ${name}`);
      this.components[name] = tidied;
    }
    return tidy(rest) as JsonSchema;
  }
}
