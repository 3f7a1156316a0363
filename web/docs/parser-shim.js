// What the AsyncAPI React component uses of @asyncapi/parser, without the parser itself (it
// validates with eval-compiled schemas, and pulls in Node-only modules): the document models, and
// a Parser that refuses, since the /docs page only ever hands over a parsed document (docs.js).
import { AsyncAPIDocumentV2, AsyncAPIDocumentV3, SchemaV2 } from '@asyncapi/parser/esm/models';

export { SchemaV2 };

export function isAsyncAPIDocument(doc) {
  return doc instanceof AsyncAPIDocumentV2 || doc instanceof AsyncAPIDocumentV3;
}

export function isOldAsyncAPIDocument() {
  return false;
}

/** a parsed document's models, as the parser's own toAsyncAPIDocument makes them */
export function toAsyncAPIDocument(doc) {
  if (isAsyncAPIDocument(doc)) return doc;
  if (!doc || !doc['x-parser-spec-parsed']) return undefined;
  const [ major, minor, patch ] = String(doc.asyncapi).split('.').map(Number);
  const asyncapi = { input: doc, parsed: doc, semver: { version: doc.asyncapi, major, minor, patch } };
  const Document = major === 2 ? AsyncAPIDocumentV2 : AsyncAPIDocumentV3;
  return new Document(doc, { asyncapi, pointer: '/' });
}

export function isStringifiedDocument() {
  return false;
}

export function unstringify() {
  return undefined;
}

export class Parser {
  registerSchemaParser() {}
  parse() {
    return Promise.reject(new Error('this page renders parsed documents only'));
  }
}

export function fromURL() {
  throw new Error('this page renders parsed documents only');
}
