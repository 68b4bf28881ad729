// The web program of bench/daemon's web measurements, run by both daemons: a node:http server
// answering every request with its pid. Under bosun it serves the socket handed down on fd 3
// (LISTEN_FDS); under PM2's cluster mode it listens on $PORT and the cluster master shares it.
// On SIGINT (PM2's kill signal) or SIGTERM (bosun's) it stops accepting, lets requests in
// flight finish, closes kept-alive connections after their next response and exits: the
// graceful shutdown both reloads rely on.
import { createServer } from 'node:http';
import net from 'node:net';

const body = `${process.pid}\n`;
let stopping = false;
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  // Keep-alive clients are told to go elsewhere with their next request.
  if (stopping) res.setHeader('connection', 'close');
  res.end(body);
});
const onListening = () => {
  console.log(`listening pid=${process.pid}`);
  process.send?.('ready');
};
if (process.env.LISTEN_FDS !== undefined) server.listen({ fd: 3 }, onListening);
else server.listen(Number(process.env.PORT), '127.0.0.1', onListening);
// http's close() also drops idle kept-alive connections at once, which races a client that is
// sending its next request on one ("socket hang up"). net's close() only stops accepting: each
// kept-alive connection ends after its next response (Connection: close) or its idle timeout.
const stop = () => {
  stopping = true;
  net.Server.prototype.close.call(server, () => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
