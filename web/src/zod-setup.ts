// zod compiles object parsers with `new Function` unless told not to, and decides when a schema is
// built; the page's CSP forbids eval. So this module is imported first, before any schema exists.
import { z } from 'zod';

z.config({ jitless: true });
