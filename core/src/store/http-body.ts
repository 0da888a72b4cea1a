import type { IncomingMessage } from 'node:http';
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ProtocolError, protocolError } from './http-protocol.ts';

/**
 * Request bodies in, response bodies out, never more bytes than allowed. A request body is read
 * as a stream and inflated as a stream (gzip, deflate, br, zstd where Node has it); both the
 * bytes on the wire and the inflated bytes are counted as they arrive, and the request fails
 * with QUERY_IS_TOO_LARGE (HTTP 413) the moment either passes its limit — so a 1.5 MB gzip bomb
 * costs at most `maxInflatedBytes` of memory, never the gigabytes it would inflate to, and never
 * blocks the event loop (zlib streams run on the thread pool).
 */

export type ContentEncoding = 'gzip' | 'deflate' | 'br' | 'zstd';

type ZlibWithZstd = typeof zlib & {
  createZstdDecompress?: () => Transform;
  zstdCompress?: (b: Buffer, cb: (e: Error | null, r: Buffer) => void) => void;
};
const z = zlib as ZlibWithZstd;

class ByteLimit extends Transform {
  private seen = 0;
  private readonly limit: number;
  private readonly what: string;
  constructor(limit: number, what: string) {
    super();
    this.limit = limit;
    this.what = what;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      done(protocolError('QUERY_IS_TOO_LARGE', `${this.what} exceeds ${this.limit} bytes`));
      return;
    }
    done(null, chunk);
  }
}

function decoderFor(encoding: string, req: IncomingMessage): Transform | null {
  const unsupported = (message: string) => {
    req.resume();
    return protocolError('UNKNOWN_COMPRESSION_METHOD', message);
  };
  switch (encoding) {
    case '':
    case 'identity':
      return null;
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      if (z.createZstdDecompress) return z.createZstdDecompress();
      throw unsupported('Content-Encoding zstd needs Node.js 22.15 or later');
    default:
      throw unsupported(`Content-Encoding ${encoding} is not supported`);
  }
}

/**
 * Reads the request body: at most `maxWireBytes` as sent and `maxInflatedBytes` after
 * Content-Encoding is undone. The wire bytes are read to the end even past the limit (and
 * dropped), so the client gets the 413 instead of a reset connection; inflation runs as a
 * stream from the received bytes and stops at the limit.
 */
export async function readBody(
  req: IncomingMessage,
  limits: { maxWireBytes: number; maxInflatedBytes: number },
): Promise<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? '')
    .toLowerCase()
    .trim();
  const decoder = decoderFor(encoding, req);
  // Without Content-Encoding the wire bytes are the inflated bytes: the smaller limit applies.
  const wireLimit = decoder ? limits.maxWireBytes : Math.min(limits.maxWireBytes, limits.maxInflatedBytes);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number(req.headers['content-length']) > wireLimit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > wireLimit) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (over) reject(protocolError('QUERY_IS_TOO_LARGE', `Request body exceeds ${wireLimit} bytes`));
      else resolve(Buffer.concat(chunks));
    });
  });
  if (!decoder) return raw;
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk);
      done();
    },
  });
  try {
    await pipeline(
      Readable.from([raw]),
      decoder,
      new ByteLimit(limits.maxInflatedBytes, `Request body inflated (${encoding})`),
      sink,
    );
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw protocolError(
      'CANNOT_DECOMPRESS',
      `Cannot decompress request body (${encoding}): ${(e as Error).message}`,
    );
  }
  return Buffer.concat(out);
}

export function pickEncoding(accept: string): ContentEncoding | null {
  const offered = accept
    .toLowerCase()
    .split(',')
    .map((s) => s.trim().split(';')[0]);
  for (const e of ['gzip', 'deflate', 'br', 'zstd'] as const) {
    if (e === 'zstd' && !z.zstdCompress) continue;
    if (offered.includes(e)) return e;
  }
  return null;
}

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);

/** Compresses a response off the event loop. */
export async function compress(encoding: ContentEncoding, bytes: Buffer): Promise<Buffer> {
  switch (encoding) {
    case 'gzip':
      return gzip(bytes, { level: 3 });
    case 'deflate':
      return deflate(bytes, { level: 3 });
    case 'br':
      return brotli(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
    case 'zstd':
      return promisify(z.zstdCompress!)(bytes);
  }
}
