import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Files of the built web client (web/dist: the page, the service worker, the /docs page), read for
 * the routes that serve them with their own headers. Production keeps each in memory once read;
 * development reads it again at every request, so a rebuild shows at once. A file not built is null.
 */
export class BuiltFiles {
  private readonly kept = new Map<string, Buffer>();

  constructor(private readonly dir: string, private readonly keep: boolean) {}

  async read(name: string): Promise<Buffer | null> {
    const held = this.kept.get(name);
    if (held) return held;
    const bytes = await readFile(path.join(this.dir, name)).catch(() => null);
    if (bytes && this.keep) this.kept.set(name, bytes);
    return bytes;
  }
}
