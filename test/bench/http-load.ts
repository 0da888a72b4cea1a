/**
 * A load generator on its own thread, so the server's event loop is not the client's: posts the
 * given bodies with `concurrency` connections and reports when all are acknowledged.
 */
import { parentPort, workerData } from 'node:worker_threads';

const { url, token, bodies, concurrency } = workerData as {
  url: string;
  token: string;
  bodies: string[];
  concurrency: number;
};
let next = 0;
let throttled = 0;
async function post(body: string): Promise<void> {
  for (;;) {
    const r = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
      body,
    });
    await r.arrayBuffer();
    if (r.status === 200) return;
    if (r.status === 429) {
      throttled++;
      await new Promise((res) => setTimeout(res, 20));
      continue;
    }
    throw new Error(`ingest answered ${r.status}`);
  }
}
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) await post(bodies[next++]!);
  }),
);
parentPort!.postMessage({ throttled });
