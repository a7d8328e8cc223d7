import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from './logger.ts';
import { SettingsError, type Settings } from '../settings.ts';
import {
  constantTimeEqual,
  fromBase64Url,
  generateKeypair,
  publicKeyOf,
  toBase64Url,
  type Keypair,
} from './sealing.ts';

/**
 * The service-wide master keys. New instance keys are sealed to the current public key, which is
 * all the API needs; the worker, which opens secrets, holds the current private half and, during
 * a rotation, the retired ones whose instance keys are not re-sealed yet.
 */
export interface MasterKey {
  id: string;
  publicKey: Uint8Array;
  keypair?: Keypair;
  retired?: readonly Keypair[];
}

export function masterKeyId(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('base64url').slice(0, 16);
}

/** The keypair of the master key `id`, when this process holds its private half. */
export function masterKeypairFor(masterKey: MasterKey, id: string): Keypair | undefined {
  if (id === masterKey.id) return masterKey.keypair;
  return masterKey.retired?.find((keypair) => masterKeyId(keypair.publicKey) === id);
}

/** Every master key id whose private half this process holds, the current one first. */
export function heldMasterKeyIds(masterKey: MasterKey): string[] {
  const retired = (masterKey.retired ?? []).map((keypair) => masterKeyId(keypair.publicKey));
  return masterKey.keypair ? [masterKey.id, ...retired] : retired;
}

export async function loadMasterKey(settings: Settings, log: Logger): Promise<MasterKey> {
  const current = await loadCurrentMasterKey(settings, log);
  const retiredTexts = settings.STOWAGE_SEAL_RETIRED_SECRET_KEYS ?? [];
  if (retiredTexts.length === 0) return current;
  if (!current.keypair) {
    throw new SettingsError(
      'invalid setting STOWAGE_SEAL_RETIRED_SECRET_KEYS: only a process that holds STOWAGE_SEAL_SECRET_KEY opens secrets',
    );
  }
  const retired = retiredTexts.map((text) => {
    const privateKey = fromBase64Url(text);
    return { publicKey: publicKeyOf(privateKey), privateKey };
  });
  return { ...current, retired };
}

async function loadCurrentMasterKey(settings: Settings, log: Logger): Promise<MasterKey> {
  const { STOWAGE_SEAL_PUBLIC_KEY: publicText, STOWAGE_SEAL_SECRET_KEY: privateText } = settings;
  if (privateText) {
    const privateKey = fromBase64Url(privateText);
    const publicKey = publicKeyOf(privateKey);
    if (publicText && !constantTimeEqual(publicKey, fromBase64Url(publicText))) {
      throw new SettingsError(
        'invalid setting STOWAGE_SEAL_PUBLIC_KEY: it is not the public half of STOWAGE_SEAL_SECRET_KEY',
      );
    }
    return { id: masterKeyId(publicKey), publicKey, keypair: { publicKey, privateKey } };
  }
  if (publicText) {
    const publicKey = fromBase64Url(publicText);
    return { id: masterKeyId(publicKey), publicKey };
  }
  return loadDevelopmentKey(settings.STOWAGE_DATA_DIR, log);
}

/**
 * Whether this process has a master key to speak of without making one: one configured, or the
 * development key `npm start` made in this data directory.
 */
export function hasMasterKey(settings: Settings): boolean {
  return Boolean(
    settings.STOWAGE_SEAL_SECRET_KEY ||
    settings.STOWAGE_SEAL_PUBLIC_KEY ||
    existsSync(developmentKeyPath(settings.STOWAGE_DATA_DIR)),
  );
}

const developmentKeyPath = (dataDir: string) => resolve(dataDir, 'development-sealing-key.json');

async function loadDevelopmentKey(dataDir: string, log: Logger): Promise<MasterKey> {
  const file = developmentKeyPath(dataDir);
  if (!existsSync(file)) {
    const keypair = generateKeypair();
    await mkdir(resolve(dataDir), { recursive: true });
    await writeFile(file, JSON.stringify(developmentKeyFile(keypair), null, 2) + '\n', {
      mode: 0o600,
    });
  }
  const stored = JSON.parse(await readFile(file, 'utf8')) as StoredDevelopmentKey;
  const privateKey = fromBase64Url(stored.secretKey);
  const publicKey = publicKeyOf(privateKey);
  log.warn(
    { file },
    'no STOWAGE_SEAL_PUBLIC_KEY / STOWAGE_SEAL_SECRET_KEY configured: using a development master key; production must supply its own (stowage keys generate)',
  );
  return { id: masterKeyId(publicKey), publicKey, keypair: { publicKey, privateKey } };
}

// The development key file keeps the field name it was first written with: renaming it would
// orphan the key, and every secret sealed under it, in existing data directories.
interface StoredDevelopmentKey {
  publicKey: string;
  secretKey: string;
}

function developmentKeyFile(keypair: Keypair): StoredDevelopmentKey {
  const { publicKey, privateKey } = keypairToJson(keypair);
  return { publicKey, secretKey: privateKey };
}

export function keypairToJson(keypair: Keypair): { publicKey: string; privateKey: string } {
  return {
    publicKey: toBase64Url(keypair.publicKey),
    privateKey: toBase64Url(keypair.privateKey),
  };
}
