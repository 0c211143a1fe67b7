// node_ws.mjs: node's ws client against an echo WebSocket: text (UTF-8),
// 1 MiB binary, 300 KiB of compressible text and an empty message echoed
// in order, a ping answered, then the closing handshake. Prints one JSON
// line (what it saw) and exits 0 only if everything matched.
//
//   node node_ws.mjs URL ['{"protocols": [...], "deflate": true, "ca": FILE}']
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const [url, optsJson] = process.argv.slice(2);
const opts = optsJson ? JSON.parse(optsJson) : {};
const out = { ok: false, echoed: 0, errors: [] };
const messages = [
  [Buffer.from('h\u00e9llo w\u00f6rld \u2713 \u{1F600}'), false],
  [randomBytes(1024 * 1024), true],
  [Buffer.from('websocket deflate apache httpd frame '.repeat(8300)), false],
  [Buffer.alloc(0), true],
];

function finish() {
  out.ok = out.errors.length === 0 && out.echoed === messages.length
           && out.pong === 'p1' && out.close_code === 1000;
  console.log(JSON.stringify(out));
  process.exit(out.ok ? 0 : 1);
}

setTimeout(() => { out.errors.push('timed out'); finish(); }, 30000).unref();

const ws = new WebSocket(url, opts.protocols || [], {
  perMessageDeflate: opts.deflate !== false,
  ca: opts.ca ? readFileSync(opts.ca) : undefined,
});
ws.on('upgrade', (res) => { out.status = res.statusCode; });
ws.on('open', () => {
  out.protocol = ws.protocol;
  out.extensions = ws.extensions;
  for (const [data, binary] of messages) {
    ws.send(data, { binary });
  }
});
ws.on('message', (data, isBinary) => {
  const [want, binary] = messages[out.echoed] || [];
  if (!want) {
    out.errors.push('a message more than was sent');
  } else if (!want.equals(data) || binary !== isBinary) {
    out.errors.push(`message ${out.echoed}: ${data.length} bytes ` +
                    `(binary ${isBinary}), want ${want.length} ` +
                    `(binary ${binary})`);
  }
  out.echoed += 1;
  if (out.echoed === messages.length) {
    ws.ping(Buffer.from('p1'));
  }
});
ws.on('pong', (data) => {
  out.pong = data.toString();
  ws.close(1000, 'bye');
});
ws.on('close', (code, reason) => {
  out.close_code = code;
  out.close_reason = reason.toString();
  finish();
});
ws.on('error', (err) => { out.errors.push(String(err)); });
ws.on('unexpected-response', (req, res) => {
  out.errors.push(`unexpected response ${res.statusCode}`);
  finish();
});
