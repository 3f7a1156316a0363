import { Controller } from 'egg';
import parseRange from 'range-parser';
import { create as contentDisposition } from 'content-disposition';
import { AppError, ErrorCode } from '../../lib/errors';
import { fileId } from '../../lib/schemas/common';

/** Shown in the browser: images, audio and text; anything else (PDF) is downloaded, never rendered on our origin. */
const INLINE = /^(image\/|audio\/|text\/plain$)/;

export default class FileController extends Controller {
  async upload() {
    const { ctx } = this;
    ctx.ok(await ctx.service.file.upload(ctx.auth.userId), 201);
  }

  async download() {
    const { ctx } = this;
    const id = ctx.validate(fileId, ctx.params.id);
    const file = await ctx.service.file.info(id);
    // a file never changes, so its id is a strong validator
    const etag = `"${file.id}"`;
    ctx.set({
      ETag: etag,
      'Accept-Ranges': 'bytes',
      // the URL is the file's only secret: browsers may keep it, shared caches (proxies, CDNs) may not
      'Cache-Control': 'private, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Content-Disposition': contentDisposition(file.filename, { type: INLINE.test(file.mime) ? 'inline' : 'attachment' }),
    });
    const inm = ctx.get('if-none-match');
    if (inm && (inm.trim() === '*' || inm.split(',').some(t => t.trim().replace(/^W\//, '') === etag))) {
      ctx.status = 304;
      return;
    }
    let range: { start: number; end: number } | undefined;
    const header = ctx.get('range');
    const ifRange = ctx.get('if-range');
    if (header && (!ifRange || ifRange === etag)) {
      const ranges = parseRange(file.size, header, { combine: true });
      if (ranges === -1) {
        ctx.set('Content-Range', `bytes */${file.size}`);
        throw new AppError(ErrorCode.MISS_PARAMS, 'range not satisfiable', 416);
      }
      // several ranges would need multipart/byteranges: the whole file answers them too (RFC 9110 §14.2)
      if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) range = ranges[0];
    }
    ctx.type = file.mime === 'text/plain' ? 'text/plain; charset=utf-8' : file.mime;
    if (range) {
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
      ctx.length = range.end - range.start + 1;
    } else {
      ctx.status = 200;
      ctx.length = file.size;
    }
    ctx.body = ctx.service.file.open(file, range);
  }
}
