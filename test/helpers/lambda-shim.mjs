// A stand-in for the Lambda runtime's bootstrap, run with plain node in a fresh process: it loads a
// deployed bundle the way Lambda does (`<file>.<export>` under LAMBDA_TASK_ROOT, .js/.mjs/.cjs), and
// serves the handler on a loopback HTTP port: POST / {event, context} -> {ok, result} | {ok: false, error}.
// Its first stdout line is {"ready": port, "node": version} or {"loadError": ...}. It imports only Node built-ins, so a
// bundle that needs a module it does not carry fails here as it would on AWS.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.env.LAMBDA_TASK_ROOT;
const handlerName = process.env._HANDLER ?? '';

async function load() {
  const dot = handlerName.lastIndexOf('.');
  if (!root || dot <= 0) throw new Error(`malformed handler '${handlerName}'`);
  const [base, exported] = [handlerName.slice(0, dot), handlerName.slice(dot + 1)];
  const file = ['.js', '.mjs', '.cjs'].map((ext) => join(root, base + ext)).find((f) => existsSync(f));
  if (!file) throw new Error(`Runtime.ImportModuleError: no ${base}.js, .mjs or .cjs in the bundle`);
  const mod = await import(pathToFileURL(file).href);
  const fn = mod[exported] ?? mod.default?.[exported];
  if (typeof fn !== 'function') throw new Error(`Runtime.HandlerNotFound: ${base}.${exported} is undefined or not exported`);
  return fn;
}

const errorOf = (e) => ({ name: e?.name ?? 'Error', message: String(e?.message ?? e), stack: e?.stack });
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

let handler;
try {
  handler = await load();
} catch (e) {
  say({ loadError: errorOf(e) });
  process.exit(1);
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    let answer;
    try {
      const { event, context: c } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const noop = () => undefined;
      const context = {
        callbackWaitsForEmptyEventLoop: true,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
        functionVersion: '$LATEST',
        invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        awsRequestId: c.awsRequestId,
        logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
        logStreamName: 'local',
        getRemainingTimeInMillis: () => Math.max(0, c.deadlineMs - Date.now()),
        done: noop,
        fail: noop,
        succeed: noop,
      };
      answer = { ok: true, result: (await handler(event, context)) ?? null };
    } catch (e) {
      answer = { ok: false, error: errorOf(e) };
    }
    const body = JSON.stringify(answer);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => say({ ready: server.address().port, node: process.version }));
// the parent closing our stdin (or dying) ends us
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
