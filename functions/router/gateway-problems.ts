// The routing tier's own answers: problem documents for 4xx (the API's titles) and for the gateway
// statuses 502/503/504, which the API never sends and problem() has no titles for.
import type { ServerResponse } from 'node:http';
import { problem } from '../http/kit/problem';

const TITLES: Record<number, string> = { 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** A problem document's text; problem() knows 4xx titles, the gateway statuses get theirs here. */
export const problemBody = (status: number, detail: string, code: string): string =>
  TITLES[status] ? JSON.stringify({ type: `https://gpupool.dev/problems/${code.replace(/_/g, '-')}`, title: TITLES[status], status, detail }) : problem(status, detail, code).body;

/** Answers with a problem document, or ends the connection when an answer already started. */
export function sendProblem(res: ServerResponse, status: number, detail: string, code: string, headers: Record<string, string> = {}) {
  if (res.headersSent) return void res.destroy();
  const body = Buffer.from(problemBody(status, detail, code));
  res.writeHead(status, { 'content-type': 'application/problem+json', 'content-length': String(body.length), ...headers });
  res.end(body);
}
