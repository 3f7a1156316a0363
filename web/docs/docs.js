// The /docs page: Swagger UI renders the OpenAPI document, the AsyncAPI React component's standalone
// bundle the AsyncAPI one. Both libraries are served from /docs/ (copied by scripts/build-docs.js):
// the page's CSP allows scripts from our origin only, with no inline script and no eval.
'use strict';

window.SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#openapi',
  // the validator badge would load an image from swagger.io
  validatorUrl: null,
  docExpansion: 'list',
});

/**
 * The AsyncAPI parser compiles JSON schemas to code at run time (eval), which the CSP refuses, so the
 * component gets the document the way its parser would hand it over: references resolved, schemas
 * named after their components, marked as parsed. The server checks the document with the real
 * parser in its tests.
 */
function asParsed(doc) {
  for (const [ name, schema ] of Object.entries(doc.components?.schemas ?? {})) schema['x-parser-schema-id'] = name;
  const resolved = new Map();
  const target = pointer => pointer.slice(2).split('/').map(s => s.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((node, key) => node[key], doc);
  const walk = node => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string' && node.$ref.startsWith('#/')) {
      if (!resolved.has(node.$ref)) {
        // the placeholder first, so a schema that refers to itself ends
        const out = {};
        resolved.set(node.$ref, out);
        Object.assign(out, walk(target(node.$ref)));
      }
      return resolved.get(node.$ref);
    }
    const out = {};
    for (const [ key, value ] of Object.entries(node)) out[key] = walk(value);
    return out;
  };
  return { ...walk(doc), 'x-parser-spec-parsed': true, 'x-parser-api-version': 3 };
}

const socketDocs = document.getElementById('asyncapi');
fetch('/api/asyncapi.json')
  .then(res => (res.ok ? res.json() : Promise.reject(new Error(`GET /api/asyncapi.json: ${res.status}`))))
  .then(doc => window.AsyncApiStandalone.render({ schema: asParsed(doc), config: { show: { sidebar: false, errors: true } } }, socketDocs))
  .catch(err => { socketDocs.textContent = `The socket API document could not be shown: ${err.message}`; });
