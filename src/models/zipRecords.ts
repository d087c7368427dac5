/**
 * Reads records of a zip archive (a `.pth` checkpoint) with bounded memory. torch.save stores records
 * uncompressed, and those are read by byte range; a deflate-compressed record (a re-zipped checkpoint) is
 * inflated as a stream that keeps only the requested range and stops at its end. yauzl's entry-size
 * validation makes the stream fail as soon as it yields more than the record's declared size, so no
 * record ever inflates past what its header says, and callers cap that declared size.
 */
import type { Readable } from 'node:stream';
import type yauzl from 'yauzl';
import { FaceRestoreError } from '../errors.ts';

function fail(path: string, message: string, cause?: unknown): never {
  throw new FaceRestoreError('E_CHECKPOINT', `checkpoint ${path}: ${message}`, cause === undefined ? undefined : { cause });
}

/**
 * Bytes [start, end) of a record's uncompressed data (the whole record when no range is given).
 * @param maxBytes most bytes the caller accepts from this record; a larger declared size is refused
 *   before anything is read.
 */
export async function readZipRecord(zip: yauzl.ZipFile, entry: yauzl.Entry, path: string, maxBytes: number, start = 0, end?: number): Promise<Uint8Array> {
  const declared = entry.uncompressedSize;
  if (declared > maxBytes) fail(path, `record ${entry.fileName} declares ${declared} bytes, more than the ${maxBytes} it may hold`);
  const stop = end ?? declared;
  if (start < 0 || stop < start || stop > declared) fail(path, `record ${entry.fileName} has ${declared} bytes; bytes ${start}–${stop} were asked for`);
  const stored = entry.compressionMethod === 0 && !entry.isEncrypted();
  let stream: Readable;
  try {
    stream = await zip.openReadStreamPromise(entry, stored ? { decodeFileData: false, start, end: stop } : {});
  } catch (e) {
    fail(path, `cannot read record ${entry.fileName}: ${(e as Error).message}`, e);
  }
  const out = Buffer.allocUnsafe(stop - start);
  let pos = stored ? start : 0; // offset in the uncompressed record of the next chunk's first byte
  let filled = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const from = Math.max(0, start - pos);
      const to = Math.min(chunk.length, stop - pos);
      if (to > from) {
        chunk.copy(out, filled, from, to);
        filled += to - from;
      }
      pos += chunk.length;
      if (filled === out.length) break; // the rest of a compressed record is never inflated
    }
  } catch (e) {
    fail(path, `record ${entry.fileName} is damaged or truncated: ${(e as Error).message}`, e);
  } finally {
    stream.destroy();
  }
  if (filled !== out.length) fail(path, `record ${entry.fileName} ends after ${start + filled} bytes, its header declares ${declared}`);
  return out;
}
