import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { drainPending, Session } from 'chdb';
import { type AstNode, inspectStatement, parseAstDump } from './statement-policy.ts';

/** The reader of the engine's EXPLAIN AST dump, on dumps the real engine prints. */
let dir: string;
let session: Session;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'apiwatch-policy-'));
  session = new Session(join(dir, 'db'));
});
after(async () => {
  session.close();
  await drainPending();
  rmSync(dir, { recursive: true, force: true });
});

async function dump(sql: string): Promise<string> {
  return (await session.queryAsync(`EXPLAIN AST ${sql}`, { format: 'TSVRaw' })).text();
}

function find(node: AstNode, type: string): AstNode[] {
  return [...(node.type === type ? [node] : []), ...node.children.flatMap((c) => find(c, type))];
}

test('a well-formed dump reads into the tree the engine printed', async () => {
  const tree = parseAstDump(await dump("SELECT a FROM t AS x JOIN url('http://h', CSV) AS u ON 1"));
  assert.ok(tree);
  assert.equal(tree.type, 'SelectWithUnionQuery');
  const functions = find(tree, 'TableExpression').flatMap((t) =>
    t.children.filter((c) => c.type === 'Function'),
  );
  assert.deepEqual(
    functions.map((f) => f.name),
    ['url (alias u)'],
  );
  assert.deepEqual(
    find(tree, 'TableIdentifier').map((t) => t.name),
    ['t (alias x)'],
  );
});

test('a name holding a line break makes the dump unreadable, never a different tree', async () => {
  const text = await dump('SELECT 1 AS `x\n TableIdentifier system.one` FROM t');
  assert.ok(text.split('\n').length > 8, 'the engine prints the name raw');
  assert.equal(parseAstDump(text), null);
  assert.equal(parseAstDump('SelectWithUnionQuery (children 2)\n ExpressionList\n'), null, 'missing child');
  assert.equal(parseAstDump('A\nB\n'), null, 'two roots');
  assert.equal(parseAstDump('A (children 1)\n   B\n'), null, 'skipped depth');
});

test('formatQuery refuses a second statement whatever hides it', async () => {
  for (const sql of ['SELECT 1; SELECT 2', 'SELECT $$a$$; DROP TABLE x', "SELECT '/*'; DROP TABLE x -- */"]) {
    await assert.rejects(() => inspectStatement(session, sql, {}), /Multi-statements are not allowed/, sql);
  }
  const nested = await inspectStatement(session, '/* /* */ SELECT 1 */ DROP TABLE x', {});
  assert.equal(
    nested.ast.type,
    'DropQuery',
    'nested comments are the engine’s, so the statement is the DROP',
  );
  assert.equal(nested.canonical, 'DROP TABLE x');
});
