import assert from 'node:assert/strict';
import { after, before, mock, test } from 'node:test';
import pino from 'pino';
import { formatToken, hashSecret, parseToken } from '../../../src/infra/access-token.ts';
import { AccessChangeRejectedError } from '../../../src/infra/postgres/access-changes.ts';
import { PostgresAccessStore } from '../../../src/infra/postgres/access-store.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';

let database: TestDatabase;
const stores: PostgresAccessStore[] = [];

before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await database?.drop();
});

function newStore(): PostgresAccessStore {
  const store = new PostgresAccessStore({
    pool: database.pool,
    connect: () => database.connect(),
    logger: pino({ level: 'silent' }),
  });
  stores.push(store);
  return store;
}

let names = 0;
const uniqueName = (prefix: string) => `${prefix}-${++names}`;

async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not true within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('account and instance tokens verify to their principals', async () => {
  const store = newStore();
  const { account, accountToken, tokenId } = await store.createAccount(uniqueName('acme'));
  assert.match(accountToken, /^stw_[A-Za-z0-9_-]{16}_[A-Za-z0-9_-]{43}_[A-Za-z0-9_-]{6}$/);
  assert.equal(parseToken(accountToken)?.tokenId, tokenId);
  assert.deepEqual(await store.verifyToken(accountToken), {
    kind: 'account',
    tokenId,
    accountId: account.id,
  });

  const instanceName = uniqueName('inst');
  const created = await store.createInstance(account.name, instanceName);
  assert.deepEqual(created.instance, { name: instanceName, accountId: account.id });
  assert.deepEqual(await store.verifyToken(created.instanceToken), {
    kind: 'instance',
    tokenId: created.tokenId,
    accountId: account.id,
    instance: instanceName,
  });
});

test('a wrong secret, an unknown id and a malformed token are all rejected', async () => {
  const store = newStore();
  await store.startListening();
  const { accountToken, tokenId } = await store.createAccount(uniqueName('acme'));
  const otherSecret = parseToken(
    (await store.createAccount(uniqueName('other'))).accountToken,
  )!.secret;
  // Verified once first, so the rejection below also holds for a cached token.
  assert.ok(await store.verifyToken(accountToken));

  assert.equal(await store.verifyToken(`stw_${tokenId}_${otherSecret}`), null);
  assert.equal(await store.verifyToken(`stw_AAAAAAAAAAAA_${otherSecret}`), null);
  assert.equal(await store.verifyToken(accountToken.slice(0, -1)), null);
  assert.equal(await store.verifyToken(''), null);
  assert.equal(await store.verifyToken(`${accountToken} `), null);
});

test('a revoked token is rejected by the store that revoked it', async () => {
  const store = newStore();
  await store.startListening();
  const { accountToken, tokenId } = await store.createAccount(uniqueName('acme'));
  assert.ok(await store.verifyToken(accountToken));
  await store.revokeToken(tokenId);
  assert.equal(await store.verifyToken(accountToken), null);
  await store.revokeToken(tokenId);
});

test('a revocation reaches another listening store long before its cache would expire', async () => {
  const api = newStore();
  await api.startListening();
  const admin = newStore();
  const { accountToken, tokenId } = await admin.createAccount(uniqueName('acme'));
  assert.ok(await api.verifyToken(accountToken));

  await admin.revokeToken(tokenId);
  await eventually(async () => (await api.verifyToken(accountToken)) === null, 1_000);
});

test('while listening, verified tokens are served from the cache', async () => {
  const store = newStore();
  await store.startListening();
  const { accountToken, tokenId } = await store.createAccount(uniqueName('acme'));
  assert.ok(await store.verifyToken(accountToken));
  // Revoked behind the store's back (no notification): only the cache can still accept it.
  await database.pool.query('UPDATE access_tokens SET revoked_at = now() WHERE id = $1', [tokenId]);
  assert.ok(await store.verifyToken(accountToken));
});

test('a store that loses its listener stops trusting its cache, then listens again', async () => {
  const store = newStore();
  await store.startListening();
  const { accountToken, tokenId } = await store.createAccount(uniqueName('acme'));
  assert.ok(await store.verifyToken(accountToken));

  const listenerPids = async () => {
    const { rows } = await database.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'stowage listener stowage_tokens'",
    );
    return rows.map((row) => row.pid);
  };
  // Every listening store of this file loses its connection; this one is among them.
  const lost = await listenerPids();
  await database.pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [
    lost,
  ]);
  await database.pool.query('UPDATE access_tokens SET revoked_at = now() WHERE id = $1', [tokenId]);
  await eventually(async () => (await store.verifyToken(accountToken)) === null, 1_000);
  await eventually(async () => {
    const listening = await listenerPids();
    return listening.length === lost.length && !listening.some((pid) => lost.includes(pid));
  }, 5_000);
});

test('only hashes of secrets are stored', async () => {
  const store = newStore();
  const account = await store.createAccount(uniqueName('acme'));
  const instance = await store.createInstance(account.account.name, uniqueName('inst'));

  const { rows } = await database.pool.query<Record<string, unknown>>(
    'SELECT * FROM access_tokens WHERE id = ANY($1)',
    [[account.tokenId, instance.tokenId]],
  );
  assert.equal(rows.length, 2);
  for (const token of [account.accountToken, instance.instanceToken]) {
    const { tokenId, secret } = parseToken(token)!;
    const row = rows.find((candidate) => candidate.id === tokenId)!;
    assert.deepEqual(row.hash, hashSecret(secret));
    for (const value of Object.values(row)) {
      const spellings = Buffer.isBuffer(value)
        ? [value.toString('utf8'), value.toString('hex'), value.toString('base64url')]
        : [String(value)];
      for (const spelling of spellings) {
        assert.ok(!spelling.includes(secret), 'a token secret is stored');
        assert.ok(!spelling.includes(token), 'a token is stored');
      }
    }
  }
});

test('names must be new and well formed, and instances need an existing account', async () => {
  const store = newStore();
  const account = await store.createAccount(uniqueName('acme'));
  const other = await store.createAccount(uniqueName('other'));
  const instanceName = uniqueName('inst');
  await store.createInstance(account.account.name, instanceName);

  const rejected = (message: string) => (error: unknown) =>
    error instanceof AccessChangeRejectedError && error.message === message;
  await assert.rejects(
    store.createAccount(account.account.name),
    rejected(`account "${account.account.name}" already exists`),
  );
  await assert.rejects(
    store.createInstance(other.account.name, instanceName),
    rejected(`instance "${instanceName}" already exists`),
  );
  await assert.rejects(
    store.createInstance('no-such-account', uniqueName('inst')),
    rejected('no account named "no-such-account"'),
  );
  for (const badName of ['', '-leading-dash', 'has space', 'a/b', 'x'.repeat(101)]) {
    await assert.rejects(
      store.createInstance(account.account.name, badName),
      AccessChangeRejectedError,
    );
  }
  await assert.rejects(store.revokeToken('no-such-token'), AccessChangeRejectedError);
});

test('an instance exists only within its own account', async () => {
  const store = newStore();
  const account = await store.createAccount(uniqueName('acme'));
  const other = await store.createAccount(uniqueName('other'));
  const instanceName = uniqueName('inst');
  await store.createInstance(account.account.name, instanceName);

  assert.equal(await store.instanceExists(account.account.id, instanceName), true);
  assert.equal(await store.instanceExists(other.account.id, instanceName), false);
  assert.equal(await store.instanceExists(account.account.id, 'no-such-instance'), false);
});

test('tokens and instances met at once are looked up together, each answered for itself', async () => {
  const creator = newStore();
  const account = await creator.createAccount(uniqueName('acme'));
  const other = await creator.createAccount(uniqueName('other'));
  const created = [];
  for (let n = 0; n < 20; n++) {
    created.push(await creator.createInstance(account.account.name, uniqueName('inst')));
  }
  const wrongSecret = parseToken(other.accountToken)!.secret;
  const store = newStore();
  const query = mock.method(database.pool, 'query');
  try {
    const [principals, exists] = await Promise.all([
      Promise.all([
        ...created.map(({ instanceToken }) => store.verifyToken(instanceToken)),
        store.verifyToken(formatToken(created[0]!.tokenId, wrongSecret)),
        store.verifyToken(`stw_AAAAAAAAAAAA_${wrongSecret}`),
      ]),
      Promise.all([
        ...created.map(({ instance }) => store.instanceExists(account.account.id, instance.name)),
        store.instanceExists(other.account.id, created[0]!.instance.name),
        store.instanceExists(account.account.id, 'no-such-instance'),
      ]),
    ]);

    // The first lookup of each kind goes at once, alone; the rest go together in the next one.
    assert.ok(query.mock.callCount() <= 4, `${query.mock.callCount()} statements for 44 lookups`);
    assert.deepEqual(principals, [
      ...created.map(({ tokenId, instance }) => ({
        kind: 'instance',
        tokenId,
        accountId: account.account.id,
        instance: instance.name,
      })),
      null,
      null,
    ]);
    assert.deepEqual(exists, [...created.map(() => true), false, false]);
  } finally {
    query.mock.restore();
  }
});
