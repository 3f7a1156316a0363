/**
 * Duplicate-key errors, recognised in one place. MongoDB (and FerretDB on insert) answer 11000;
 * FerretDB 1.24 reports a duplicate made by an update or upsert as an InternalError (code 1)
 * whose message names the unique index, so that form counts too.
 */
const codeOf = (e: any) => e?.code ?? e?.err?.code;

export function isDuplicateKey(err: any): boolean {
  if (codeOf(err) === 11000) return true;
  if (writeErrorsOf(err)?.some(e => codeOf(e) === 11000)) return true;
  return codeOf(err) === 1 && /duplicate key|UNIQUE constraint/i.test(String(err?.message ?? err?.errmsg ?? ''));
}

export function writeErrorsOf(err: any): any[] | undefined {
  const errors = err?.writeErrors ?? err?.result?.writeErrors;
  return Array.isArray(errors) ? errors : undefined;
}

/** Where an ordered insert stopped on a duplicate key; null for any other failure. */
export function duplicateAt(err: any): number | null {
  const first = writeErrorsOf(err)?.[0];
  return first && codeOf(first) === 11000 && typeof first.index === 'number' ? first.index : null;
}

/**
 * Inserts, skipping documents whose unique key already exists (another process made them first);
 * resolves with the documents this call inserted.
 */
export async function insertIgnoringDuplicates<T extends object>(collection: { insertMany(docs: any[], opts: object): Promise<unknown> }, docs: T[]): Promise<T[]> {
  if (!docs.length) return [];
  try {
    await collection.insertMany(docs, { ordered: false });
    return docs;
  } catch (err) {
    const errors = writeErrorsOf(err);
    if (!errors || !errors.every(e => codeOf(e) === 11000)) throw err;
    // which went in is known only from the errors' indexes: without them, claim none
    if (!errors.every(e => typeof e.index === 'number')) return [];
    const taken = new Set(errors.map(e => e.index));
    return docs.filter((_, i) => !taken.has(i));
  }
}
