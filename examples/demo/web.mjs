// Demo web server: answers /health once listening; started only after the worker is ready.
import { createServer } from 'node:http';
const port = Number(process.env.PORT ?? 8077);
let hits = 0;
createServer((req, res) => {
  hits++;
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(req.url === '/health' ? 'ok\n' : `hello from bosun's demo web server (${hits} requests)\n`);
}).listen(port, '127.0.0.1', () => console.log(`web listening on http://127.0.0.1:${port}/`));
process.on('SIGTERM', () => process.exit(0));
