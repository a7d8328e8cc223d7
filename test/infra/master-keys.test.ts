import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import {
  heldMasterKeyIds,
  keypairToJson,
  loadMasterKey,
  masterKeyId,
  masterKeypairFor,
} from '../../src/infra/master-keys.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { loadSettings, SettingsError } from '../../src/settings.ts';

await initSealing();

const log = pino({ level: 'silent' });

test('a worker holds the current secret first, then the retired ones, each found by its id', async () => {
  const current = generateKeypair();
  const retired = [generateKeypair(), generateKeypair()];
  const masterKey = await loadMasterKey(
    loadSettings({
      STOWAGE_SEAL_SECRET_KEY: keypairToJson(current).privateKey,
      STOWAGE_SEAL_RETIRED_SECRET_KEYS: retired.map((k) => keypairToJson(k).privateKey).join(','),
    }),
    log,
  );
  const ids = [current, ...retired].map((keypair) => masterKeyId(keypair.publicKey));
  assert.equal(masterKey.id, ids[0]);
  assert.deepEqual(heldMasterKeyIds(masterKey), ids);
  for (const [n, keypair] of [current, ...retired].entries()) {
    assert.deepEqual(masterKeypairFor(masterKey, ids[n]!)?.privateKey, keypair.privateKey);
  }
  assert.equal(masterKeypairFor(masterKey, masterKeyId(generateKeypair().publicKey)), undefined);
});

test('the API holds the public key only: no secret at all', async () => {
  const current = generateKeypair();
  const masterKey = await loadMasterKey(
    loadSettings({ STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(current).publicKey }),
    log,
  );
  assert.equal(masterKey.id, masterKeyId(current.publicKey));
  assert.deepEqual(heldMasterKeyIds(masterKey), []);
  assert.equal(masterKeypairFor(masterKey, masterKey.id), undefined);
});

test('retired secrets without the current one are refused, naming the variable', async () => {
  await assert.rejects(
    loadMasterKey(
      loadSettings({
        STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
        STOWAGE_SEAL_RETIRED_SECRET_KEYS: keypairToJson(generateKeypair()).privateKey,
      }),
      log,
    ),
    (error) =>
      error instanceof SettingsError && /STOWAGE_SEAL_RETIRED_SECRET_KEYS/.test(error.message),
  );
});
