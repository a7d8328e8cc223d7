import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { foldS3Config } from '../../src/commands/s3-config-stream.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { initSealing, openSealed } from '../../src/infra/sealing.ts';
import { openSecret, SecretContextMismatchError } from '../../src/infra/secrets/secret-envelope.ts';
import { fromBase64Url } from '../../src/infra/sealing.ts';
import { commandSide, disabling, enabling } from '../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

await initSealing();

let database: TestDatabase;
let side: ReturnType<typeof commandSide>;
before(async () => {
  database = await createTestDatabase({ poolSize: 20 });
  side = commandSide(database);
});
after(() => database?.drop());

const sealedSecretsOf = async (instance: string) =>
  (await side.eventStore.readStream(instanceStream(instance)))
    .map((event) => ({
      revision: event.revision,
      secret: event.data.secret as Record<string, string> | undefined,
    }))
    .filter((event) => event.secret?.change === 'sealed');

describe('the S3 configuration command handler', () => {
  test('enabling seals the secret so that the worker, and only with the instance key, can open it', async () => {
    const outcome = await side.handle(enabling('alpha', 'wJalrXUtnFEMI/K7MDENG'));
    assert.equal(outcome.state.status, 'enabled');
    assert.ok(outcome.position);

    const [sealed] = await sealedSecretsOf('alpha');
    const keyId = sealed!.secret!.keyId!;
    const keypair = await side.keyring.openKeypair(keyId);
    assert.ok(keypair);
    const context = { instance: 'alpha', revision: sealed!.revision, keyId };
    assert.equal(
      openSecret(sealed!.secret!.ciphertext!, context, keypair),
      'wJalrXUtnFEMI/K7MDENG',
    );
  });

  test('the same request again appends nothing; a new prefix without the secret keeps it unsealed', async () => {
    await side.handle(enabling('beta', 'secret-beta'));
    await side.handle(enabling('beta', 'secret-beta'));
    assert.equal((await side.eventStore.readStream(instanceStream('beta'))).length, 1);

    await side.handle(enabling('beta', undefined, { pathPrefix: 'moved/' }));
    await side.handle(enabling('beta', 'secret-beta', { pathPrefix: 'moved/' }));
    const events = await side.eventStore.readStream(instanceStream('beta'));
    assert.equal(events.length, 2);
    assert.deepEqual(events[1]!.data.secret, { change: 'unchanged' });
    assert.deepEqual(events[1]!.metadata, { requestId: 'req-1', correlationId: 'req-1' });
  });

  test('a ciphertext copied into another instance or revision does not open there', async () => {
    await side.handle(enabling('gamma', 'secret-gamma'));
    const [sealed] = await sealedSecretsOf('gamma');
    const keyId = sealed!.secret!.keyId!;
    const keypair = (await side.keyring.openKeypair(keyId))!;
    for (const context of [
      { instance: 'delta', revision: sealed!.revision, keyId },
      { instance: 'gamma', revision: sealed!.revision + 1, keyId },
    ]) {
      assert.throws(
        () => openSecret(sealed!.secret!.ciphertext!, context, keypair),
        SecretContextMismatchError,
      );
    }
  });

  test('disabling shreds the key material: no earlier ciphertext opens, even with the master key', async () => {
    await side.handle(enabling('shred', 'first-secret'));
    await side.handle(enabling('shred', 'second-secret'));
    const sealed = await sealedSecretsOf('shred');
    assert.equal(sealed.length, 2);
    const keyId = sealed[0]!.secret!.keyId!;
    assert.ok(await side.keyring.openKeypair(keyId));

    await side.handle(disabling('shred'));

    assert.equal(await side.keyring.openKeypair(keyId), undefined);
    const { rows } = await database.pool.query('SELECT 1 FROM instance_keys WHERE key_id = $1', [
      keyId,
    ]);
    assert.equal(rows.length, 0, 'the key row is deleted, not updated');
    // Nothing left anywhere can open the ciphertexts: every stored private key sealed to the
    // master key is tried against them.
    const { rows: keys } = await database.pool.query<{
      public_key: Buffer;
      sealed_private_key: Buffer;
    }>('SELECT public_key, sealed_private_key FROM instance_keys');
    for (const { secret } of sealed) {
      for (const key of keys) {
        const privateKey = openSealed(
          side.masterKey.keypair!,
          new Uint8Array(key.sealed_private_key),
        );
        assert.throws(() =>
          openSealed(
            { publicKey: new Uint8Array(key.public_key), privateKey },
            fromBase64Url(secret!.ciphertext!),
          ),
        );
      }
    }
    // The audit trail stays.
    const events = await side.eventStore.readStream(instanceStream('shred'));
    assert.deepEqual(
      events.map((event) => event.type),
      ['S3ConfigUpdated', 'S3ConfigUpdated', 'S3ConfigDisabled'],
    );
  });

  test('re-enabling after a disable gets fresh key material', async () => {
    await side.handle(enabling('again', 'one'));
    await side.handle(disabling('again'));
    await side.handle(enabling('again', 'one'));
    const sealed = await sealedSecretsOf('again');
    assert.equal(sealed.length, 2);
    assert.notEqual(sealed[0]!.secret!.keyId, sealed[1]!.secret!.keyId);
    assert.ok(await side.keyring.openKeypair(sealed[1]!.secret!.keyId!));
  });

  test('disabling an instance that is not enabled appends nothing', async () => {
    const outcome = await side.handle(disabling('never-configured'));
    assert.equal(outcome.state.status, 'unconfigured');
    assert.equal(outcome.position, undefined);
    assert.deepEqual(await side.eventStore.readStream(instanceStream('never-configured')), []);
  });

  test('50 concurrent different updates from two processes all land, in one contiguous stream', async () => {
    const processA = side;
    const processB = commandSide(database, side.masterKey);
    await processA.handle(enabling('busy', 'busy-secret'));
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        (n % 2 ? processA : processB).handle(enabling('busy', undefined, { pathPrefix: `p${n}/` })),
      ),
    );
    assert.equal(outcomes.length, 50);

    const events = await side.eventStore.readStream(instanceStream('busy'));
    assert.equal(events.length, 51);
    assert.deepEqual(
      events.map((event) => event.revision),
      [...Array(51).keys()],
    );
    const prefixes = new Set(events.slice(1).map((event) => event.data.pathPrefix));
    assert.equal(prefixes.size, 50);
    const final = foldS3Config(events);
    assert.equal(
      final.status === 'enabled' && final.settings.pathPrefix,
      events[50]!.data.pathPrefix,
    );
    // Keys created by appends that lost a race were discarded: only the one in use remains.
    const { rows } = await database.pool.query(
      "SELECT count(*)::int AS n FROM instance_keys WHERE instance_name = 'busy'",
    );
    assert.equal(rows[0].n, 1);
  });

  test('a state kept in memory is never trusted for a repeat or a refusal', async () => {
    const processA = side;
    const processB = commandSide(database, side.masterKey);
    await processA.handle(enabling('stale', 'stale-secret'));

    // B moves the prefix; A's kept state still says media/myinstance/, so A's repeat of its own
    // earlier request is a change after all and must be appended.
    await processB.handle(enabling('stale', undefined, { pathPrefix: 'by-b/' }));
    const reverted = await processA.handle(enabling('stale', 'stale-secret'));
    assert.ok(reverted.position, 'appended');
    assert.equal(
      reverted.state.status === 'enabled' && reverted.state.settings.pathPrefix,
      'media/myinstance/',
    );

    // B disables; A's kept state says enabled, but keeping the secret is refused once A has
    // looked at the stream.
    await processB.handle(disabling('stale'));
    await assert.rejects(processA.handle(enabling('stale', undefined)), /secretKey is required/);
    const events = await side.eventStore.readStream(instanceStream('stale'));
    assert.deepEqual(
      events.map((event) => event.revision),
      [0, 1, 2, 3],
    );
  });

  test('no secret is stored in plaintext in any table', async () => {
    const canary = 'CANARY-secret-9f2c1d';
    await side.handle(enabling('canary', canary));
    await side.handle(enabling('canary', canary, { bucket: 'another-bucket' }));
    const { rows } = await database.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    for (const { table_name } of rows) {
      const dump = await database.pool.query(`SELECT t::text AS row FROM ${table_name} t`);
      const text = dump.rows.map((row) => row.row).join('\n');
      assert.equal(text.includes(canary), false, `plaintext secret found in ${table_name}`);
      assert.equal(text.includes(Buffer.from(canary).toString('base64')), false);
    }
  });
});
