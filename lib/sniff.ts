/**
 * File types by content, for the types uploads may have and no others. A general detector (file-type
 * 16 was used) parses a hundred formats of untrusted bytes, each parser a chance to loop or crash
 * (CVE-2026-31808: a 254-byte ASF file looped its parser forever); recognising the few we accept
 * takes fixed offsets in the first bytes, no loop over the content and no dependency.
 */

export interface Sniffed {
  /** the name the upload allowlist (config.upload.allow) uses */
  ext: string;
  mime: string;
}

/** Every `ext` sniff() can return, so a configured allowlist can be checked at start. */
export const SNIFFABLE = [ 'png', 'jpg', 'gif', 'webp', 'mp3', 'm4a', 'wav', 'ogg', 'opus', 'pdf' ] as const;

const at = (buf: Buffer, offset: number, signature: string | number[]) => {
  const bytes = typeof signature === 'string' ? Buffer.from(signature, 'latin1') : Buffer.from(signature);
  return buf.length >= offset + bytes.length && buf.subarray(offset, offset + bytes.length).equals(bytes);
};

/** An MPEG audio layer III frame header (the sync word, then layer bits 01); ADTS AAC and layers I/II are not. */
const mp3Frame = (buf: Buffer, offset: number) =>
  buf.length >= offset + 2 && buf[offset] === 0xff && (buf[offset + 1] & 0xe0) === 0xe0 && (buf[offset + 1] & 0x06) === 0x02;

/**
 * The type of a file from its first bytes (`head`: as many as were read, up to 4 KiB), or null when it
 * is none of SNIFFABLE.
 */
export function sniff(head: Buffer): Sniffed | null {
  if (at(head, 0, [ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ])) return { ext: 'png', mime: 'image/png' };
  if (at(head, 0, [ 0xff, 0xd8, 0xff ])) return { ext: 'jpg', mime: 'image/jpeg' };
  if (at(head, 0, 'GIF87a') || at(head, 0, 'GIF89a')) return { ext: 'gif', mime: 'image/gif' };
  if (at(head, 0, 'RIFF') && at(head, 8, 'WEBP')) return { ext: 'webp', mime: 'image/webp' };
  if (at(head, 0, 'RIFF') && at(head, 8, 'WAVE')) return { ext: 'wav', mime: 'audio/wav' };
  if (at(head, 0, '%PDF-')) return { ext: 'pdf', mime: 'application/pdf' };
  if (at(head, 4, 'ftyp') && at(head, 8, 'M4A ')) return { ext: 'm4a', mime: 'audio/x-m4a' };
  if (at(head, 0, 'OggS')) {
    // the first page's first packet names the codec (offset 28)
    if (at(head, 28, 'OpusHead')) return { ext: 'opus', mime: 'audio/opus' };
    if (at(head, 28, [ 0x01, ...Buffer.from('vorbis') ])) return { ext: 'ogg', mime: 'audio/ogg' };
    return null;
  }
  if (at(head, 0, 'ID3') && head.length >= 10) {
    // ID3v2 tag: 10-byte header, then a size in four 7-bit bytes; the audio follows it
    const size = ((head[6] & 0x7f) << 21) | ((head[7] & 0x7f) << 14) | ((head[8] & 0x7f) << 7) | (head[9] & 0x7f);
    const audio = 10 + size + ((head[5] & 0x10) ? 10 : 0); // a footer when flagged
    // a tag larger than the head (cover art) hides the first frame: the tag alone says MP3
    if (audio + 2 > head.length || mp3Frame(head, audio)) return { ext: 'mp3', mime: 'audio/mpeg' };
    return null;
  }
  if (mp3Frame(head, 0)) return { ext: 'mp3', mime: 'audio/mpeg' };
  return null;
}
