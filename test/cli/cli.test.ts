import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { fromBase64Url, initSealing, publicKeyOf, toBase64Url } from '../../src/infra/sealing.ts';
await initSealing();

const run = promisify(execFile);
const stowage = new URL('../../bin/stowage.js', import.meta.url).pathname;

test('stowage keys generate prints a matching sealing keypair as JSON', async () => {
  const { stdout } = await run(process.execPath, [stowage, 'keys', 'generate']);
  const keys = JSON.parse(stdout) as Record<string, string>;
  assert.match(keys.STOWAGE_SEAL_PUBLIC_KEY!, /^[A-Za-z0-9_-]{43}$/);
  assert.match(keys.STOWAGE_SEAL_SECRET_KEY!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(
    toBase64Url(publicKeyOf(fromBase64Url(keys.STOWAGE_SEAL_SECRET_KEY!))),
    keys.STOWAGE_SEAL_PUBLIC_KEY,
  );
});

test('a wrong setting stops stowage serve with one line naming the variable', async () => {
  const result = await run(process.execPath, [stowage, 'serve'], {
    env: { ...process.env, KAFKA_BROKERS: '::::' },
  }).catch((error: { code: number; stdout: string; stderr: string }) => error);
  assert.ok('code' in result);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'stowage: invalid setting KAFKA_BROKERS: expected host:port[,host:port...] (got "::::")\n',
  );
});

test('an unknown command prints the usage and fails', async () => {
  const result = await run(process.execPath, [stowage, 'frobnicate']).catch(
    (error: { code: number; stderr: string }) => error,
  );
  assert.ok('code' in result);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown command "frobnicate"/);
  assert.match(result.stderr, /usage: stowage/);
});

const runCli = (args: string[]) =>
  run(process.execPath, [stowage, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

test('every command answers --help with its usage on stdout, and exit 0', async () => {
  for (const command of ['serve', 'keys', 'replay', 'topics', 'admin']) {
    const result = await runCli([command, '--help']);
    assert.equal(result.code, 0, `${command}: ${result.stderr}`);
    assert.match(result.stdout, new RegExp(`^usage: stowage ${command} `));
    assert.match(result.stdout, new RegExp(`\\n  ${command} `));
    assert.equal(result.stderr, '');
  }
});

test('an option or argument a command does not take is a usage error: exit 2, with the usage', async () => {
  for (const [args, problem] of [
    [['keys', 'rotate', '--bogus'], /Unknown option '--bogus'/],
    [['serve', 'extra'], /Unexpected argument 'extra'/],
    [['serve', '--roles'], /argument missing/],
    [['replay', '--verfy'], /Unknown option '--verfy'/],
  ] as const) {
    const result = await runCli([...args]);
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, problem);
    assert.match(result.stderr, /\n {2}\w+ /, 'the usage follows');
  }
});

test('no command at all is a usage error on stderr', async () => {
  const result = await runCli([]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^usage: stowage <command>/);
});
