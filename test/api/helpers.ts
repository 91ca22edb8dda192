// Helpers of the API tests: problem-document checks, raw HTTP requests, a scan of every table, and
// fixtures (nodes registered over the API, "manual" agents driven by hand with their node keys).
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { expect } from 'vitest';
import { TABLES } from '../../functions/store/tables';
import { tableNamesFor } from '../../lib/local/create-tables';
import type { LocalStack } from '../../lib/local/local-stack';
import { client, type ApiResponse } from '../helpers/api';

export type Api = ReturnType<typeof client>;

/** A 4xx/5xx answer is an RFC 9457 document: type, title, status (= the HTTP status), detail; no internals. */
export function expectProblem(r: { status: number; body: unknown; headers: Headers }, status?: number, what = '') {
  if (status !== undefined) expect(r.status, `${what} ${JSON.stringify(r.body)}`).toBe(status);
  expect(r.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
  const b = r.body as Record<string, unknown>;
  expect(b, what).toMatchObject({ type: expect.any(String), title: expect.any(String), status: r.status, detail: expect.any(String) });
  expect(Object.keys(b).every((k) => ['type', 'title', 'status', 'detail', 'errors'].includes(k)), `${what} keys ${Object.keys(b)}`).toBe(true);
  const text = JSON.stringify(b);
  // no stack trace, no file path, no internal exception or table name
  expect(text, what).not.toMatch(/\n\s+at |node_modules|\/work\/|\.ts:\d|Exception|gpupool-(jobs|nodes|keys|accounts|logs|idempotency|scores)\b/);
}

/** The comparable part of a problem document (two 404s must be indistinguishable). */
export const problemOf = (r: ApiResponse) => {
  const { type, title, status, detail, errors } = r.body ?? {};
  return { type, title, status, detail, errors };
};

/** A request with a raw body (bytes or text) and any headers; the answer parsed like the test client's. */
export async function rawRequest(baseUrl: string, method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string>): Promise<ApiResponse> {
  const res = await fetch(baseUrl + path, { method, headers, body: method === 'GET' || method === 'DELETE' ? undefined : body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* keep the text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Every item of every table, sorted, as one JSON text per table: equal snapshots mean nothing changed. */
export async function snapshotTables(stack: LocalStack): Promise<Record<string, string>> {
  const db = new DynamoDBClient({ endpoint: stack.ddbEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const names = tableNamesFor('gpupool-');
  const out: Record<string, string> = {};
  try {
    for (const t of TABLES) {
      const items: string[] = [];
      let start: Record<string, any> | undefined;
      do {
        const r = await db.send(new ScanCommand({ TableName: names[t.id], ExclusiveStartKey: start, ConsistentRead: true }));
        for (const i of r.Items ?? []) items.push(JSON.stringify(Object.fromEntries(Object.entries(i).sort(([a], [b]) => a.localeCompare(b)))));
        start = r.LastEvaluatedKey;
      } while (start);
      out[t.id] = `${items.length} items\n${items.sort().join('\n')}`;
    }
  } finally {
    db.destroy();
  }
  return out;
}

export const itemCounts = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).map(([k, v]) => [k, Number(v.split(' ')[0])]));

/** A registration body for POST /v1/nodes with `n` GPUs of `model`. */
export function nodeBody(name: string, model: string, n = 1) {
  return {
    name,
    region: 'eu-west',
    gpus: Array.from({ length: n }, (_, i) => ({ index: i, uuid: `GPU-${name}-${i}`, model, vramGb: 24 })),
    pricePerGpuHour: 1_000_000,
  };
}

/** Registers a node over the API with a provider key; returns its id and node key. */
export async function registerNode(provider: Api, name: string, model: string, n = 1): Promise<{ id: string; key: string }> {
  const r = await provider.post('/v1/nodes', nodeBody(name, model, n));
  if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.node.id, key: r.body.nodeKey };
}

/**
 * A node driven by hand with its node key: it opens a session (so it is ONLINE and gets work) and
 * heartbeats in the background until `stop()`, without ever reading its queue.
 */
export async function manualAgent(baseUrl: string, nodeKey: string, bootId: string) {
  const api = client(baseUrl, nodeKey);
  const s = await api.post('/v1/agent/session', { bootId });
  if (s.status !== 200) throw new Error(`session: ${s.status} ${JSON.stringify(s.body)}`);
  const timer = setInterval(() => void api.post('/v1/agent/heartbeat', { running: [] }).catch(() => undefined), 3_000);
  timer.unref();
  return { api, nodeId: s.body.nodeId as string, session: s.body, stop: () => clearInterval(timer) };
}
