/**
 * The Content-Security-Policy of the pages we serve (the web client, /docs): everything from our
 * origin only, no inline script or style, no plugins, no framing. `widen` replaces or adds
 * directives (e.g. where images may come from).
 */
export function pagePolicy(widen: Record<string, string> = {}): string {
  const directives: Record<string, string> = {
    'default-src': "'self'",
    'script-src': "'self'",
    'style-src': "'self'",
    'img-src': "'self'",
    'connect-src': "'self'",
    'font-src': "'self'",
    'object-src': "'none'",
    'base-uri': "'none'",
    'form-action': "'self'",
    'frame-ancestors': "'none'",
    ...widen,
  };
  return Object.entries(directives).map(([ name, value ]) => `${name} ${value}`).join('; ');
}
