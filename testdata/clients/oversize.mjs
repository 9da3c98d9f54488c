// Sends request bodies over taskbolt's body limit the way a Next.js server
// (Node 20) would, and prints what came back as one JSON line per request.
// Usage: node oversize.mjs URL TOKEN LIMIT
// The Go test (api/bodylimit_test.go) runs it and checks every line.
import http from 'node:http';

const [url, token, limitArg] = process.argv.slice(2);
const limit = Number(limitArg);
const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };

// A JSON body of exactly n bytes: what a user pasting a huge description sends.
function body(n) {
  const head = '{"title":"big","description":"';
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(n - head.length - tail.length) + tail);
}

async function viaFetch(n, chunked) {
  let b = body(n);
  const init = { method: 'POST', headers: auth };
  if (chunked) {
    // A stream has no Content-Length: fetch sends it chunked.
    init.body = new ReadableStream({
      pull(c) {
        if (b.length === 0) return c.close();
        c.enqueue(b.subarray(0, 65536));
        b = b.subarray(65536);
      },
    });
    init.duplex = 'half';
  } else {
    init.body = b;
  }
  try {
    const r = await fetch(url, init);
    return { status: r.status, body: await r.text() };
  } catch (e) {
    return { error: `${e.message}: ${e.cause?.code ?? e.cause?.message ?? ''}` };
  }
}

// node:http, which (unlike fetch) can wait for 100 Continue before the body.
function viaExpect(n) {
  return new Promise((resolve) => {
    const b = body(n);
    const req = http.request(url, {
      method: 'POST',
      headers: { ...auth, 'Content-Length': b.length, Expect: '100-continue' },
    });
    let sent = false;
    req.on('continue', () => { sent = true; req.end(b); });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { if (!sent) req.destroy(); resolve({ status: res.statusCode, body: text, bodySent: sent }); });
    });
    req.on('error', (e) => resolve({ error: `${e.message}: ${e.code ?? ''}` }));
    req.flushHeaders();
  });
}

async function afterwards() {
  try {
    const r = await fetch(url, { headers: auth });
    return r.status;
  } catch (e) {
    return `${e.message}: ${e.cause?.code ?? ''}`;
  }
}

for (const times of [1.5, 4, 16]) {
  const n = Math.round(limit * times);
  for (const [client, send] of [
    ['fetch', () => viaFetch(n, false)],
    ['fetch-chunked', () => viaFetch(n, true)],
    ['http-expect-100-continue', () => viaExpect(n)],
  ]) {
    const result = await send();
    result.next = await afterwards(); // the client still works after the 413
    console.log(JSON.stringify({ client, times, bytes: n, ...result }));
  }
}
