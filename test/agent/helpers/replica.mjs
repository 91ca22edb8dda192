// A tiny service replica for the agent's service tests: listens on $PORT (loopback), like a model server.
//   GET  /ready    200, or 503 while $READY_FILE is set and missing (the test flips readiness with a file)
//   GET  /headers  the request's headers as JSON
//   POST /echo     streams the body back as it arrives
//   anything else  {attempt, method, url}
//   upgrade /ws    a WebSocket that answers each short text frame with `<attempt>:<text>`
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';

const attempt = process.env.GPUPOOL_ATTEMPT_ID;
const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json', 'x-replica': attempt });
  res.end(JSON.stringify(body));
};
const server = createServer((req, res) => {
  if (req.url === '/ready') return json(res, !process.env.READY_FILE || existsSync(process.env.READY_FILE) ? 200 : 503, { attempt });
  if (req.url === '/headers') return json(res, 200, { attempt, headers: req.headers });
  if (req.method === 'POST' && req.url === '/echo') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-replica': attempt });
    res.flushHeaders();
    return void req.pipe(res);
  }
  req.resume();
  json(res, 200, { attempt, method: req.method, url: req.url });
});
server.on('upgrade', (req, socket) => {
  if (req.url !== '/ws' || String(req.headers.upgrade).toLowerCase() !== 'websocket') return socket.destroy();
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  // one short masked text frame per chunk: the tests send small ones, one at a time
  socket.on('data', (buf) => {
    const mask = buf.subarray(2, 6);
    const text = Buffer.from(buf.subarray(6, 6 + (buf[1] & 0x7f)).map((b, i) => b ^ mask[i % 4])).toString();
    const out = Buffer.from(`${attempt}:${text}`);
    socket.write(Buffer.concat([Buffer.from([0x81, out.length]), out]));
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`listening on ${process.env.PORT}`));
