import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const run = promisify(execFile);
const stowage = new URL('../../bin/stowage.js', import.meta.url).pathname;

let database: TestDatabase;
let store: PostgresAccessStore;

before(async () => {
  database = await createTestDatabase();
  store = new PostgresAccessStore({
    pool: database.pool,
    connect: () => database.connect(),
    logger: pino({ level: 'silent' }),
  });
});
after(() => database?.drop());

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function admin(...args: string[]): Promise<Outcome> {
  return adminWith({ DATABASE_URL: database.url }, ...args);
}

async function adminWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [stowage, 'admin', ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return error as Outcome;
  }
}

test('create-account, create-instance and revoke-token print their outcome as JSON', async () => {
  const account = await admin('create-account', 'acme');
  assert.equal(account.code, 0, account.stderr);
  const created = JSON.parse(account.stdout) as {
    account: { id: string; name: string };
    accountToken: string;
    tokenId: string;
  };
  assert.equal(created.account.name, 'acme');
  assert.deepEqual(await store.verifyToken(created.accountToken), {
    kind: 'account',
    tokenId: created.tokenId,
    accountId: created.account.id,
  });

  const instance = await admin('create-instance', 'acme', 'acme-main');
  assert.equal(instance.code, 0, instance.stderr);
  const createdInstance = JSON.parse(instance.stdout) as {
    instance: { name: string; accountId: string };
    instanceToken: string;
    tokenId: string;
  };
  assert.deepEqual(createdInstance.instance, { name: 'acme-main', accountId: created.account.id });
  assert.deepEqual(await store.verifyToken(createdInstance.instanceToken), {
    kind: 'instance',
    tokenId: createdInstance.tokenId,
    accountId: created.account.id,
    instance: 'acme-main',
  });

  const revoked = await admin('revoke-token', createdInstance.tokenId);
  assert.deepEqual(revoked, {
    code: 0,
    stdout: `{"revoked":"${createdInstance.tokenId}"}\n`,
    stderr: '',
  });
  assert.equal(await store.verifyToken(createdInstance.instanceToken), null);
});

test('a request that cannot be done is one line on stderr and exit code 1', async () => {
  await store.createAccount('initech');
  await store.createInstance('initech', 'initech-main');
  const cases: [string[], string][] = [
    [['create-account', 'initech'], 'account "initech" already exists'],
    [['create-account', 'no spaces'], 'invalid account name "no spaces"'],
    [['create-instance', 'nobody', 'nobody-main'], 'no account named "nobody"'],
    [['create-instance', 'initech', 'initech-main'], 'instance "initech-main" already exists'],
    [['create-instance', 'initech', '../etc'], 'invalid instance name "../etc"'],
    [['revoke-token', 'AAAAAAAAAAAA'], 'no token with id "AAAAAAAAAAAA"'],
  ];
  for (const [args, message] of cases) {
    const outcome = await admin(...args);
    assert.equal(outcome.code, 1, args.join(' '));
    assert.equal(outcome.stdout, '');
    assert.ok(outcome.stderr.startsWith(`stowage admin: ${message}`), outcome.stderr);
    assert.equal(outcome.stderr.indexOf('\n'), outcome.stderr.length - 1, outcome.stderr);
  }
});

test('a malformed admin command line is a usage error, exit code 2', async () => {
  for (const args of [
    [],
    ['frobnicate'],
    ['create-account'],
    ['create-instance', 'acme'],
    ['revoke-token', 'a', 'b'],
  ]) {
    const outcome = await admin(...args);
    assert.equal(outcome.code, 2, args.join(' '));
    assert.match(outcome.stderr, /admin create-account <name>/);
  }
});
