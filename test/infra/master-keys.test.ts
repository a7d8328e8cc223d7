import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import {
  heldMasterKeyIds,
  keypairToJson,
  loadMasterKey,
  masterKeyId,
  masterSecretFor,
} from '../../src/infra/master-keys.ts';
import { generateKeypair } from '../../src/infra/sealing.ts';
import { loadSettings, SettingsError } from '../../src/settings.ts';

const log = pino({ level: 'silent' });

test('a worker holds the current secret first, then the retired ones, each found by its id', async () => {
  const current = generateKeypair();
  const retired = [generateKeypair(), generateKeypair()];
  const masterKey = await loadMasterKey(
    loadSettings({
      STOWAGE_SEAL_SECRET_KEY: keypairToJson(current).secretKey,
      STOWAGE_SEAL_RETIRED_SECRET_KEYS: retired.map((k) => keypairToJson(k).secretKey).join(','),
    }),
    log,
  );
  const ids = [current, ...retired].map((keypair) => masterKeyId(keypair.publicKey));
  assert.equal(masterKey.id, ids[0]);
  assert.deepEqual(heldMasterKeyIds(masterKey), ids);
  for (const [n, keypair] of [current, ...retired].entries()) {
    assert.deepEqual(masterSecretFor(masterKey, ids[n]!)?.secretKey, keypair.secretKey);
  }
  assert.equal(masterSecretFor(masterKey, masterKeyId(generateKeypair().publicKey)), undefined);
});

test('the API holds the public key only: no secret at all', async () => {
  const current = generateKeypair();
  const masterKey = await loadMasterKey(
    loadSettings({ STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(current).publicKey }),
    log,
  );
  assert.equal(masterKey.id, masterKeyId(current.publicKey));
  assert.deepEqual(heldMasterKeyIds(masterKey), []);
  assert.equal(masterSecretFor(masterKey, masterKey.id), undefined);
});

test('retired secrets without the current one are refused, naming the variable', async () => {
  await assert.rejects(
    loadMasterKey(
      loadSettings({
        STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
        STOWAGE_SEAL_RETIRED_SECRET_KEYS: keypairToJson(generateKeypair()).secretKey,
      }),
      log,
    ),
    (error) =>
      error instanceof SettingsError && /STOWAGE_SEAL_RETIRED_SECRET_KEYS/.test(error.message),
  );
});
