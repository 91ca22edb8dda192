// One try of a request on one replica: the request goes to the replica's node and, once the answer's
// headers come, the answer streams to the caller. A try that fails before any byte of the answer is
// "refused" (the caller may try the next replica); after a byte went to the caller it is "answered".
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { downstreamHeaders } from './forward-headers';
import type { Body } from './request-body';
import { requestTo, type Upstream } from './upstream';

/** How one try ended: answered (bytes went to the caller, or the caller left), or failed before any byte. */
export type Outcome = { kind: 'answered' } | { kind: 'refused'; why: string } | { kind: 'timeout' };

export interface ForwardOptions {
  agents: { http: http.Agent; https: https.Agent };
  connectTimeoutMs: number;
  /** from the request sent to the answer's headers; then 'timeout' */
  responseTimeoutMs: number;
}

export function forwardRequest(req: IncomingMessage, res: ServerResponse, u: Upstream, path: string, body: Body, o: ForwardOptions): Promise<Outcome> {
  const headers = { ...u.headers };
  if (body.kind === 'buffered') {
    if (body.hadBody || body.data.length) headers['content-length'] = String(body.data.length);
  } else if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];

  return new Promise<Outcome>((resolve) => {
    let settled = false;
    let answered = false;
    const done = (out: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(responseTimer);
      resolve(out);
    };
    const up = requestTo(u, path, req.method, headers, u.isHttps ? o.agents.https : o.agents.http);
    let timedOut = false;
    const responseTimer = setTimeout(() => {
      timedOut = true;
      up.destroy(new Error('no answer in time'));
    }, o.responseTimeoutMs);
    up.on('socket', (s) => {
      if (!s.connecting) return;
      const t = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'ECONNTIMEOUT' })), o.connectTimeoutMs);
      s.once('connect', () => clearTimeout(t));
      s.once('close', () => clearTimeout(t));
    });
    up.on('response', (ur) => {
      answered = true;
      clearTimeout(responseTimer);
      // from here on bytes go to the caller: no other replica gets this request
      res.writeHead(ur.statusCode ?? 502, downstreamHeaders(ur.rawHeaders));
      ur.pipe(res);
      ur.on('error', () => res.destroy());
      ur.on('aborted', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
        done({ kind: 'answered' });
      });
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (answered) {
        res.destroy();
        return done({ kind: 'answered' });
      }
      if (timedOut) return done({ kind: 'timeout' });
      done({ kind: 'refused', why: e.code ?? e.message });
    });
    // the caller went away before the answer: stop the upstream request too
    res.on('close', () => {
      if (!answered) {
        up.destroy();
        done({ kind: 'answered' });
      }
    });
    if (body.kind === 'buffered') {
      up.end(body.hadBody || body.data.length ? body.data : undefined);
    } else {
      for (const c of body.head) up.write(c);
      req.pipe(up);
      req.resume();
    }
  });
}
