import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { basename } from 'node:path';
import { Service } from 'egg';
import type { mongo } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { sniff } from '../../lib/sniff';

/** the head read before anything is stored: the type is decided from it (lib/sniff.ts) */
const SNIFF_BYTES = 4100;
const TEXT_MIME = 'text/plain';

export interface StoredFile {
  url: string;
  filename: string;
  size: number;
  mime: string;
}

/**
 * A file's id, which is its URL's secret: 128 random bits as 32 hex digits. `GET /files/:id` needs no
 * token (an <img src> cannot send one), so the URL must not be guessable (ObjectIds were).
 */
export const FILE_KEY = /^[0-9a-f]{32}$/;

/** GridFS takes any _id (ours are strings); the driver's types only name ObjectId. */
const gridId = (key: string) => key as unknown as mongo.ObjectId;

/** What `GET /files/:id` needs to answer. */
export interface FileInfo {
  id: string;
  filename: string;
  size: number;
  mime: string;
}

/** one bucket per database: a bucket checks its indexes once, on its first upload */
const buckets = new WeakMap<object, mongo.GridFSBucket>();

/** An upload part as egg-multipart hands it over (a busboy file stream). */
type UploadPart = Readable & { filename?: string; fieldname?: string; mimeType?: string; mime?: string };

const fileError = (message: string, status: number) => new AppError(ErrorCode.FILE_ERROR, message, status);
const tooLarge = (max: number) => fileError(`file is larger than ${max} bytes`, 413);
const badType = () => fileError('file type not allowed', 415);

/** A name safe to store and show: no path, no control characters, bounded. */
export function cleanFilename(name: string | undefined) {
  const base = basename(String(name ?? '').replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 200);
  return base && base !== '.' && base !== '..' ? base : 'file';
}

/**
 * Files in GridFS, so every worker and machine serves them (PROTOCOL §7 Files). Uploads are streamed:
 * the first bytes decide the type (by content, never by name), then the rest flows into GridFS while
 * being counted; a refusal or failure midway deletes what was written.
 */
export default class FileService extends Service {
  private get bucket(): mongo.GridFSBucket {
    const { mongo: driver, connection } = this.app.mongoose;
    let bucket = buckets.get(connection.db);
    if (!bucket) buckets.set(connection.db, bucket = new driver.GridFSBucket(connection.db, { bucketName: 'files' }));
    return bucket;
  }

  /** Stores the request's multipart field `file` for `ownerId` and tells the owner's sockets. */
  async upload(ownerId: string): Promise<StoredFile> {
    const { maxBytes } = this.config.upload;
    let iterator: AsyncIterator<Buffer> | undefined;
    try {
      // busboy stops one byte past our limit, so an oversized file is seen as one
      const part = await this.ctx.getFileStream({ limits: { fileSize: maxBytes + 1 } }) as UploadPart;
      iterator = part[Symbol.asyncIterator]();
      if (part.fieldname !== 'file') throw new AppError(ErrorCode.MISS_PARAMS, 'the file goes in the multipart field "file"');
      const stored = await this.store(part, iterator, ownerId);
      this.app.outbox.send({ user: ownerId }, 'upload', stored);
      return stored;
    } catch (err: any) {
      // read the refused rest of the request, so the client gets our answer rather than a reset
      if (iterator) await drain(iterator);
      if (err?.name === 'MultipartFileTooLargeError' || err?.code === 'Request_fileSize_limit') throw tooLarge(maxBytes);
      throw err;
    }
  }

  private async store(part: UploadPart, iterator: AsyncIterator<Buffer>, ownerId: string): Promise<StoredFile> {
    const { maxBytes, allow } = this.config.upload;
    const head: Buffer[] = [];
    let headLength = 0;
    let ended = false;
    while (headLength < SNIFF_BYTES) {
      const next = await iterator.next();
      if (next.done) { ended = true; break; }
      head.push(next.value);
      headLength += next.value.length;
    }
    const first = Buffer.concat(head);
    if (first.length === 0) throw fileError('the file is empty', 400);

    const filename = cleanFilename(part.filename);
    const detected = sniff(first);
    let mime: string;
    let text: TextDecoder | null = null;
    if (detected) {
      if (!allow.includes(detected.ext)) throw badType();
      mime = detected.mime;
    } else {
      // not one of the sniffed types: only text may be, when it says so and is UTF-8 without NULs
      const declared = String(part.mimeType ?? part.mime ?? '').toLowerCase();
      if (!allow.includes('txt') || (declared !== TEXT_MIME && !/\.txt$/i.test(filename))) throw badType();
      mime = TEXT_MIME;
      text = new TextDecoder('utf-8', { fatal: true });
    }

    const upload = this.bucket.openUploadStreamWithId(gridId(randomBytes(16).toString('hex')), filename, { metadata: { owner: ownerId, mime } });
    // Each chunk is checked before it is written and each write is awaited (the driver calls back
    // once a full GridFS chunk is stored), so on a refusal nothing is in flight and abort() removes
    // every chunk already written; the file document is only written by end().
    let size = 0;
    let chunk: Buffer | undefined = first;
    try {
      while (chunk) {
        size += chunk.length;
        if (size > maxBytes) throw tooLarge(maxBytes);
        if (text) checkText(text, chunk);
        const current = chunk;
        await settle(upload, cb => upload.write(current, cb));
        const next: IteratorResult<Buffer> | null = ended ? null : await iterator.next();
        chunk = next && !next.done ? next.value : undefined;
      }
      if (text) checkText(text);
      await settle(upload, cb => upload.end(cb));
    } catch (err) {
      await upload.abort().catch(() => undefined);
      throw err;
    }
    return { url: `/files/${upload.id}`, filename, size, mime };
  }

  /** The stored file, or 404 / 10005 (also for any id that is not a file key, such as the old ObjectIds). */
  async info(id: string): Promise<FileInfo> {
    const doc = FILE_KEY.test(id) ? await this.bucket.find({ _id: gridId(id) }, { limit: 1 }).next() : null;
    if (!doc) throw new AppError(ErrorCode.NOT_FOUND, 'file not found');
    return { id: String(doc._id), filename: doc.filename, size: doc.length, mime: String(doc.metadata?.mime || 'application/octet-stream') };
  }

  /** The bytes `start`..`end` (inclusive) of a stored file. */
  open(file: FileInfo, range?: { start: number; end: number }) {
    return this.bucket.openDownloadStream(gridId(file.id), range ? { start: range.start, end: range.end + 1 } : undefined);
  }
}

async function drain(iterator: AsyncIterator<Buffer>) {
  try {
    while (!(await iterator.next()).done) { /* discard */ }
  } catch {
    // the upload is refused already; a broken rest changes nothing
  }
}

/** Runs a GridFS write-stream call that takes a callback, failing if the stream errors instead. */
function settle(stream: NodeJS.EventEmitter, call: (cb: () => void) => void) {
  return new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    call(() => {
      stream.off('error', reject);
      resolve();
    });
  });
}

/** Text must be UTF-8 without NUL bytes (a decoder in stream mode checks chunk by chunk; no chunk = the end). */
function checkText(decoder: TextDecoder, chunk?: Buffer) {
  try {
    if (chunk?.includes(0)) throw new Error('NUL byte');
    if (chunk) decoder.decode(chunk, { stream: true }); else decoder.decode();
  } catch {
    throw badType();
  }
}
