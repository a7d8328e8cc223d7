import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { instanceStream } from '../../src/domain/s3-config.ts';
import type { MasterKey } from '../../src/infra/master-keys.ts';
import {
  MasterKeyUnavailableError,
  PostgresInstanceKeyring,
} from '../../src/infra/postgres/postgres-instance-keyring.ts';
import { initSealing, openSealed } from '../../src/infra/sealing.ts';
import { openSecret } from '../../src/infra/secrets/secret-envelope.ts';
import { commandSide, disabling, enabling } from '../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { requiredEnv } from '../support/services.ts';
import {
  keysOn,
  newMasterKey,
  runStowage,
  spawnStowage,
  type KeysStatus,
  type TestMasterKey,
} from '../support/stowage-cli.ts';

await initSealing();

const exec = promisify(execFile);

let database: TestDatabase;
let oldKey: TestMasterKey;
let newKey: TestMasterKey;
let side: ReturnType<typeof commandSide>;
let workDir: string;
const instances = Array.from({ length: 40 }, (_, n) => `rot-${n}`);
const disabled = instances.slice(0, 6);
const secretOf = (instance: string) => `secret-of-${instance}`;

/** What an API process holds: the current public key, never a secret. */
const apiMasterKey = (key: TestMasterKey): MasterKey => ({
  id: key.id,
  publicKey: key.keypair.publicKey,
});

const cli = (args: string[], env: Record<string, string> = {}) =>
  runStowage(['keys', ...args], { DATABASE_URL: database.url, ...env });

const status = async (env: Record<string, string>) => {
  const result = await cli(['status'], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as KeysStatus;
};

const rotatingEnv = () => ({
  STOWAGE_SEAL_SECRET_KEY: newKey.privateKey,
  STOWAGE_SEAL_RETIRED_SECRET_KEYS: oldKey.privateKey,
});

/** Every sealed secret in the instances' streams. */
async function sealedSecrets() {
  const sealed: { instance: string; revision: number; keyId: string; ciphertext: string }[] = [];
  for (const instance of instances) {
    for (const event of await side.eventStore.readStream(instanceStream(instance))) {
      const secret = event.data.secret as Record<string, string> | undefined;
      if (secret?.change !== 'sealed') continue;
      sealed.push({
        instance,
        revision: event.revision,
        keyId: secret.keyId!,
        ciphertext: secret.ciphertext!,
      });
    }
  }
  return sealed;
}

before(async () => {
  database = await createTestDatabase();
  workDir = await mkdtemp(join(tmpdir(), 'stowage-keys-'));
  oldKey = newMasterKey();
  newKey = newMasterKey();
  side = commandSide(database, apiMasterKey(oldKey));
  for (const instance of instances) await side.handle(enabling(instance, secretOf(instance)));
  for (const instance of disabled) await side.handle(disabling(instance));
});
after(async () => {
  await database?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('stowage keys rotate', () => {
  let dump: string;

  test('status counts instance keys per master key; --dry-run counts and changes nothing', async () => {
    const before = await status({ STOWAGE_SEAL_PUBLIC_KEY: oldKey.publicKey });
    assert.deepEqual(before.masterKeys, [
      { masterKeyId: oldKey.id, instanceKeys: 34, current: true, held: false },
    ]);

    const dry = await cli(['rotate', '--dry-run'], rotatingEnv());
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout), {
      currentMasterKeyId: newKey.id,
      dryRun: true,
      wouldReseal: 34,
      notHeld: {},
    });
    assert.equal(keysOn(await status(rotatingEnv()), oldKey.id), 34);
  });

  test('status without a master key configured says none is current, and makes none', async () => {
    const dataDir = join(workDir, 'no-keys-here');
    const result = await cli(['status'], { STOWAGE_DATA_DIR: dataDir });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      currentMasterKeyId: null,
      masterKeys: [{ masterKeyId: oldKey.id, instanceKeys: 34, current: false, held: false }],
    });
    assert.match(result.stderr, /no master key configured/);
    assert.equal(existsSync(dataDir), false, 'a development key was written');
  });

  test('rotate refuses to start without the current master secret, changing nothing', async () => {
    const refused = await cli(['rotate'], { STOWAGE_SEAL_RETIRED_SECRET_KEYS: oldKey.privateKey });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /set STOWAGE_SEAL_SECRET_KEY/);
    assert.equal(keysOn(await status(rotatingEnv()), oldKey.id), 34);
  });

  test('a rotation stopped half-way leaves every key usable and finishes when run again', async () => {
    dump = join(workDir, 'before-rotation.dump');
    await exec('pg_dump', ['--format=custom', '--file', dump, database.url]);

    // Keys the API creates under the new public key while the rotation runs.
    side = commandSide(database, apiMasterKey(newKey));
    await side.handle(enabling('rot-new', secretOf('rot-new')));
    instances.push('rot-new');

    const child = spawnStowage(['keys', 'rotate', '--batch-size', '1'], {
      DATABASE_URL: database.url,
      ...rotatingEnv(),
    });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/\n.*3 re-sealed/.test(stderr)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    const halfway = await status(rotatingEnv());
    const left = keysOn(halfway, oldKey.id);
    assert.ok(left > 0 && left < 34, `${left} keys left on the old master key`);
    await assertEveryEnabledSecretOpens([newKey.privateKey, oldKey.privateKey]);

    const rotated = await cli(['rotate', '--batch-size', '5'], rotatingEnv());
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(JSON.parse(rotated.stdout).resealed, left);
    assert.match(rotated.stderr, /re-sealed\n/, 'progress on stderr');
    assert.match(rotated.stderr, /done, \d+ instance keys re-sealed/, 'a summary at the end');
    const done = await status({ STOWAGE_SEAL_SECRET_KEY: newKey.privateKey });
    assert.deepEqual(done.masterKeys, [
      { masterKeyId: newKey.id, instanceKeys: 35, current: true, held: true },
    ]);
  });

  test('after it, the new secret alone opens every enabled secret; the old one opens nothing', async () => {
    await assertEveryEnabledSecretOpens([newKey.privateKey]);
    const oldOnly = new PostgresInstanceKeyring(database.pool, {
      id: oldKey.id,
      publicKey: oldKey.keypair.publicKey,
      keypair: oldKey.keypair,
    });
    const enabled = (await sealedSecrets()).find((s) => !disabled.includes(s.instance));
    await assert.rejects(
      oldOnly.openKeypair(enabled!.keyId),
      (error) => error instanceof MasterKeyUnavailableError && error.masterKeyId === newKey.id,
    );
  });

  test('a backup taken before the rotation opens nothing once the old master secret is gone', async () => {
    const restored = await restoreInto(dump);
    try {
      const { rows: keys } = await restored.query<{
        key_id: string;
        public_key: Buffer;
        sealed_private_key: Buffer;
      }>('SELECT key_id, public_key, sealed_private_key FROM instance_keys');
      const { rows: events } = await restored.query<{ data: { secret?: Record<string, string> } }>(
        'SELECT data FROM events',
      );
      const ciphertexts = events
        .map((event) => event.data.secret)
        .filter((secret) => secret?.change === 'sealed')
        .map((secret) => secret!.ciphertext!);
      assert.equal(keys.length, 34, 'the backup holds the live key rows of its time');
      assert.equal(ciphertexts.length, 40);

      // The control: with the destroyed secret, the backup would open.
      assert.ok(openSealed(oldKey.keypair, new Uint8Array(keys[0]!.sealed_private_key)));

      // Every master secret still held, against every key material in the backup.
      for (const held of [newKey.keypair]) {
        for (const key of keys) {
          assert.throws(() => openSealed(held, new Uint8Array(key.sealed_private_key)));
          for (const ciphertext of ciphertexts) {
            assert.throws(() =>
              openSealed(
                { publicKey: new Uint8Array(key.public_key), privateKey: held.privateKey },
                Buffer.from(ciphertext, 'base64url'),
              ),
            );
          }
        }
      }
    } finally {
      await restored.end();
      await dropDatabase('stowage_restored_' + process.pid);
    }
  });

  test('keys on a master key nobody holds are reported and make it exit 1', async () => {
    const lost = newMasterKey();
    const orphanSide = commandSide(database, apiMasterKey(lost));
    await orphanSide.handle(enabling('rot-lost', 'x'));
    const result = await cli(['rotate'], { STOWAGE_SEAL_SECRET_KEY: newKey.privateKey });
    assert.equal(result.code, 1);
    assert.deepEqual(JSON.parse(result.stdout).notHeld, { [lost.id]: 1 });
  });

  test('stowage keys --help describes the commands', async () => {
    const help = await runStowage(['keys', '--help'], {});
    assert.equal(help.code, 0);
    for (const command of [
      'generate',
      'status',
      'rotate [--dry-run] [--batch-size N]',
      'collect',
    ]) {
      assert.ok(help.stdout.includes(`keys ${command}`), command);
    }
  });
});

async function assertEveryEnabledSecretOpens(privateKeys: string[]) {
  const [current, ...retired] = privateKeys;
  const worker = new PostgresInstanceKeyring(database.pool, {
    ...apiMasterKey(current === newKey.privateKey ? newKey : oldKey),
    keypair: (current === newKey.privateKey ? newKey : oldKey).keypair,
    retired: retired.map((secret) => (secret === oldKey.privateKey ? oldKey : newKey).keypair),
  });
  const enabled = (await sealedSecrets()).filter((s) => !disabled.includes(s.instance));
  assert.equal(enabled.length, instances.length - disabled.length);
  for (const sealed of enabled) {
    const keypair = await worker.openKeypair(sealed.keyId);
    assert.ok(keypair, sealed.instance);
    assert.equal(openSecret(sealed.ciphertext, sealed, keypair), secretOf(sealed.instance));
  }
}

async function restoreInto(dump: string): Promise<pg.Client> {
  const name = 'stowage_restored_' + process.pid;
  const admin = new pg.Client({ connectionString: requiredEnv('PG_ADMIN_URL') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(requiredEnv('PG_ADMIN_URL'));
  url.pathname = `/${name}`;
  await exec('pg_restore', ['--no-owner', '--dbname', url.toString(), dump]);
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}

async function dropDatabase(name: string) {
  const admin = new pg.Client({ connectionString: requiredEnv('PG_ADMIN_URL') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
