import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { waitFor } from '@apiwatch/test';
import { loadPosition, savePosition, type TailOptions, type TailPosition, tailFile } from './tail.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiwatch-tail-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `access-${n++}.log`);

function options(path: string, over: Partial<TailOptions> = {}): TailOptions {
  return {
    path,
    position: null,
    startAt: 'beginning',
    pollMs: 20,
    maxChunkBytes: 64 * 1024,
    once: false,
    signal: new AbortController().signal,
    rotationGraceMs: 150,
    ...over,
  };
}

/** Follows `path` in the background, collecting lines and the last delivered position. */
function follow(path: string, over: Partial<TailOptions> = {}) {
  const abort = new AbortController();
  const lines: string[] = [];
  let position: TailPosition | null = null;
  /** Times the tailer reached the end of what the file held (its idle hook). */
  let idles = 0;
  const done = tailFile(
    options(path, { ...over, signal: abort.signal }),
    async (l, p) => {
      lines.push(...l);
      position = p;
    },
    async () => {
      idles++;
    },
  );
  const wait = async (what: string, check: () => boolean, timeoutMs: number) => {
    try {
      await waitFor(
        what,
        () => (check() ? true : undefined),
        timeoutMs,
        () => JSON.stringify(lines),
      );
    } catch (e) {
      abort.abort();
      throw e;
    }
  };
  return {
    lines,
    position: () => position,
    until: (count: number, timeoutMs = 5000) =>
      wait(`${count} lines`, () => lines.length >= count, timeoutMs),
    /** Until the tailer has looked at the file's end `times` more times (it saw what is there now). */
    idle(times = 2, timeoutMs = 5000) {
      const target = idles + times;
      return wait(`${times} more idle polls`, () => idles >= target, timeoutMs);
    },
    async stop() {
      abort.abort();
      return done;
    },
  };
}

describe('tailFile', () => {
  it('reads a file to its end with --once, including an unterminated last line', async () => {
    const path = fresh();
    writeFileSync(path, 'a\r\nb\n\nc');
    const lines: string[] = [];
    const positions: TailPosition[] = [];
    const counters = await tailFile(options(path, { once: true }), async (l, p) => {
      lines.push(...l);
      positions.push(p);
    });
    assert.deepEqual(lines, ['a', 'b', 'c']);
    assert.equal(counters.lines, 3);
    // The unterminated line is delivered, but the position stays before it.
    assert.equal(positions.at(-1)!.offset, 6);
  });

  it('does not deliver a partial last line while following, then delivers it whole', async () => {
    const path = fresh();
    writeFileSync(path, 'first\nsec');
    const t = follow(path);
    await t.until(1);
    await t.idle();
    assert.deepEqual(t.lines, ['first']);
    appendFileSync(path, 'ond\nthird\n');
    await t.until(3);
    assert.deepEqual(t.lines, ['first', 'second', 'third']);
    assert.equal(t.position()!.offset, Buffer.byteLength('first\nsecond\nthird\n'));
    await t.stop();
  });

  it('keeps a UTF-8 character whole when a read splits it', async () => {
    const path = fresh();
    const text = `${'€'.repeat(50)}\nnaïve café\n`;
    writeFileSync(path, text);
    const lines: string[] = [];
    await tailFile(options(path, { once: true, maxChunkBytes: 7 }), async (l) => {
      lines.push(...l);
    });
    assert.deepEqual(lines, ['€'.repeat(50), 'naïve café']);
  });

  it('follows rotation by rename, reading what the gateway still writes to the old file', async () => {
    const path = fresh();
    writeFileSync(path, '1\n2\n');
    const t = follow(path);
    await t.until(2);
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'new-1\n');
    // The tailer has seen the new file at the path and is draining the old one (grace period).
    await t.idle();
    // The gateway has not reopened its log yet: it still appends to the renamed file.
    appendFileSync(`${path}.1`, '3\n');
    await t.until(4);
    appendFileSync(path, 'new-2\n');
    await t.until(5);
    const counters = await t.stop();
    assert.deepEqual(t.lines, ['1', '2', '3', 'new-1', 'new-2']);
    assert.equal(counters.rotations, 1);
  });

  it('follows copytruncate: the file shrinks and is read again from 0', async () => {
    const path = fresh();
    writeFileSync(path, 'old-1\nold-2\n');
    const t = follow(path);
    await t.until(2);
    truncateSync(path, 0);
    await t.idle();
    appendFileSync(path, 'x\n');
    await t.until(3);
    const counters = await t.stop();
    assert.deepEqual(t.lines, ['old-1', 'old-2', 'x']);
    assert.equal(counters.truncations, 1);
  });

  it('resumes from a persisted position after a restart, without re-reading', async () => {
    const path = fresh();
    const positionFile = join(dir, 'positions', 'p.json');
    writeFileSync(path, 'a\nb\n');
    await tailFile(options(path, { once: true }), async (_l, p) => savePosition(positionFile, p));
    appendFileSync(path, 'c\nd\n');
    const resumed: string[] = [];
    await tailFile(options(path, { once: true, position: loadPosition(positionFile) }), async (l) => {
      resumed.push(...l);
    });
    assert.deepEqual(resumed, ['c', 'd']);
  });

  it('starts over when the persisted position belongs to another file (rotated while stopped)', async () => {
    const path = fresh();
    writeFileSync(path, 'a\nb\n');
    const stale = { inode: -42, offset: 2 };
    const lines: string[] = [];
    await tailFile(options(path, { once: true, position: stale }), async (l) => {
      lines.push(...l);
    });
    assert.deepEqual(lines, ['a', 'b']);
    assert.equal(loadPosition(join(dir, 'missing.json')), null);
  });

  it('cuts an over-long line and skips the rest of it', async () => {
    const path = fresh();
    writeFileSync(path, `${'x'.repeat(5000)}\nok\n`);
    const lines: string[] = [];
    const counters = await tailFile(
      options(path, { once: true, maxChunkBytes: 512, maxLineBytes: 1024 }),
      async (l) => {
        lines.push(...l);
      },
    );
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.length, 1024);
    assert.equal(lines[1], 'ok');
    assert.equal(counters.oversizedLines, 1);
  });

  it('with once, a missing file is an error', async () => {
    await assert.rejects(
      tailFile(options(join(dir, 'nope.log'), { once: true }), async () => {}),
      /no such file/,
    );
  });
});
