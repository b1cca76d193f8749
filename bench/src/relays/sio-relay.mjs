// Baseline: the minimal Socket.IO chat relay a Node developer would write (no auth, no persistence).
// Client connects with auth {id}; emit('s', {to, c}, ack) -> peer gets 'm' {from, c}; the sender's ack is called.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const heartbeatMs = Number(process.env.RELAY_HEARTBEAT_MS ?? 25_000);
const server = createServer();
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  pingInterval: heartbeatMs,
  pingTimeout: 20_000,
});
const byId = new Map();

io.on('connection', (socket) => {
  const id = String(socket.handshake.auth?.id ?? socket.id);
  byId.set(id, socket);
  socket.on('s', (m, ack) => {
    byId.get(m.to)?.emit('m', { from: id, c: m.c });
    if (typeof ack === 'function') ack(m.c);
  });
  // Fan-out: one group of everyone connected.
  socket.on('b', (m, ack) => {
    socket.broadcast.emit('m', { from: id, c: m.c });
    if (typeof ack === 'function') ack(m.c);
  });
  socket.on('disconnect', () => {
    if (byId.get(id) === socket) byId.delete(id);
  });
});

server.listen(0, '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
