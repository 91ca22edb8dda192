// A request body held back so that a request refused by one replica can be sent to the next.
import type { IncomingMessage } from 'node:http';

/** A request body up to this size is held so the request can be sent to another replica; larger ones stream once. */
export const RETRY_BODY_LIMIT = 1024 * 1024;

export type Body = { kind: 'buffered'; data: Buffer; hadBody: boolean } | { kind: 'stream'; head: Buffer[] };

/** Reads the body up to `limit`; beyond it, stops reading and hands back what it has (the rest streams). */
export function readUpTo(req: IncomingMessage, limit: number): Promise<Body> {
  const hadBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  if (Number(req.headers['content-length']) > limit) return Promise.resolve({ kind: 'stream', head: [] });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size > limit) {
        req.pause();
        cleanup();
        resolve({ kind: 'stream', head: chunks });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ kind: 'buffered', data: Buffer.concat(chunks), hadBody });
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
