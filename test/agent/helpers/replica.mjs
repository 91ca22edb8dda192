// A tiny service replica for the agent's service tests: listens on $PORT (loopback), like a model server.
//   GET  /ready    200, or 503 while $READY_FILE is set and missing (the test flips readiness with a file)
//   GET  /headers  the request's headers as JSON
//   POST /echo     streams the body back as it arrives
//   anything else  {attempt, method, url}
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';

const attempt = process.env.GPUPOOL_ATTEMPT_ID;
const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'x-replica': attempt });
  res.end(JSON.stringify(body));
};
createServer((req, res) => {
  if (req.url === '/ready') return json(res, !process.env.READY_FILE || existsSync(process.env.READY_FILE) ? 200 : 503, { attempt });
  if (req.url === '/headers') return json(res, 200, { attempt, headers: req.headers });
  if (req.method === 'POST' && req.url === '/echo') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-replica': attempt });
    res.flushHeaders();
    return void req.pipe(res);
  }
  req.resume();
  json(res, 200, { attempt, method: req.method, url: req.url });
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`listening on ${process.env.PORT}`));
