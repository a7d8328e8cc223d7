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
 * The service-wide sealing key. The API needs only its public half; the worker, which opens
 * secrets, needs the secret half.
 */
export interface MasterKey {
  id: string;
  publicKey: Uint8Array;
  keypair?: Keypair;
}

export function masterKeyId(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('base64url').slice(0, 16);
}

export async function loadMasterKey(settings: Settings, log: Logger): Promise<MasterKey> {
  const { STOWAGE_SEAL_PUBLIC_KEY: publicText, STOWAGE_SEAL_SECRET_KEY: secretText } = settings;
  if (secretText) {
    const secretKey = fromBase64Url(secretText);
    const publicKey = publicKeyOf(secretKey);
    if (publicText && !constantTimeEqual(publicKey, fromBase64Url(publicText))) {
      throw new SettingsError(
        'invalid setting STOWAGE_SEAL_PUBLIC_KEY: it is not the public half of STOWAGE_SEAL_SECRET_KEY',
      );
    }
    return { id: masterKeyId(publicKey), publicKey, keypair: { publicKey, secretKey } };
  }
  if (publicText) {
    const publicKey = fromBase64Url(publicText);
    return { id: masterKeyId(publicKey), publicKey };
  }
  return loadDevelopmentKey(settings.STOWAGE_DATA_DIR, log);
}

async function loadDevelopmentKey(dataDir: string, log: Logger): Promise<MasterKey> {
  const file = resolve(dataDir, 'development-sealing-key.json');
  if (!existsSync(file)) {
    const keypair = generateKeypair();
    await mkdir(resolve(dataDir), { recursive: true });
    await writeFile(file, JSON.stringify(keypairToJson(keypair), null, 2) + '\n', { mode: 0o600 });
  }
  const stored = JSON.parse(await readFile(file, 'utf8')) as { secretKey: string };
  const secretKey = fromBase64Url(stored.secretKey);
  const publicKey = publicKeyOf(secretKey);
  log.warn(
    { file },
    'no STOWAGE_SEAL_PUBLIC_KEY / STOWAGE_SEAL_SECRET_KEY configured: using a development sealing key; production must supply its own (stowage keys generate)',
  );
  return { id: masterKeyId(publicKey), publicKey, keypair: { publicKey, secretKey } };
}

export function keypairToJson(keypair: Keypair): { publicKey: string; secretKey: string } {
  return { publicKey: toBase64Url(keypair.publicKey), secretKey: toBase64Url(keypair.secretKey) };
}
