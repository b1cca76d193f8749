// Baseline: a bare `ws` chat relay (no auth, no persistence, no ordering guarantees). The transport's ceiling.
// Frames: {"t":"hello","id"} -> {"t":"ok"}; {"t":"s","r","to","c"} -> peer gets {"t":"m","from","c"}, sender {"t":"a","r","c"};
// {"t":"b","r","c"} -> every other socket gets {"t":"m","from","c"} (one group: everyone connected), sender the ack.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const heartbeatMs = Number(process.env.RELAY_HEARTBEAT_MS ?? 25_000);
const server = createServer((_req, res) => res.end('ws relay'));
const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false, maxPayload: 64 * 1024 });
const byId = new Map();
const all = new Set();

wss.on('connection', (ws) => {
  let id = null;
  ws.alive = true;
  all.add(ws);
  ws.on('pong', () => (ws.alive = true));
  ws.on('message', (data) => {
    ws.alive = true;
    let f;
    try {
      f = JSON.parse(String(data));
    } catch {
      return;
    }
    if (f.t === 's' && id !== null) {
      const peer = byId.get(f.to);
      if (peer) peer.send(JSON.stringify({ t: 'm', from: id, c: f.c }));
      ws.send(JSON.stringify({ t: 'a', r: f.r, c: f.c }));
    } else if (f.t === 'b' && id !== null) {
      // Fan-out: serialize once, send the same bytes to every other socket.
      const bytes = JSON.stringify({ t: 'm', from: id, c: f.c });
      for (const other of all) if (other !== ws) other.send(bytes);
      ws.send(JSON.stringify({ t: 'a', r: f.r, c: f.c }));
    } else if (f.t === 'hello') {
      id = String(f.id);
      byId.set(id, ws);
      ws.send('{"t":"ok"}');
    }
  });
  ws.on('close', () => {
    all.delete(ws);
    if (id !== null && byId.get(id) === ws) byId.delete(id);
  });
  ws.on('error', () => {});
});

setInterval(() => {
  for (const ws of all) {
    if (!ws.alive) {
      ws.terminate();
      continue;
    }
    ws.alive = false;
    ws.ping();
  }
}, heartbeatMs).unref();

server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
