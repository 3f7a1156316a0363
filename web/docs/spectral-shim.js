// The AsyncAPI parser's models import its linter (Spectral) for one class they use while parsing,
// which the /docs page never does (web/docs/parser-shim.js); this stands in for it.
export class Document {}
