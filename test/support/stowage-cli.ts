import { execFile, spawn } from 'node:child_process';
import { masterKeyId } from '../../src/infra/master-keys.ts';
import { generateKeypair, toBase64Url } from '../../src/infra/sealing.ts';
import { stowageBin } from './stowage-process.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `stowage …` as an operator does, with only the given settings (plus PATH). */
export function runStowage(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [stowageBin, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** `stowage …` as a process of its own, for tests that stop it half-way. */
export function spawnStowage(args: string[], env: Record<string, string>) {
  return spawn(process.execPath, [stowageBin, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A master keypair as the settings carry it (what `stowage keys generate` prints). */
export function newMasterKey() {
  const keypair = generateKeypair();
  return {
    id: masterKeyId(keypair.publicKey),
    publicKey: toBase64Url(keypair.publicKey),
    privateKey: toBase64Url(keypair.privateKey),
    keypair,
  };
}

export type TestMasterKey = ReturnType<typeof newMasterKey>;

export interface KeysStatus {
  currentMasterKeyId: string | null;
  masterKeys: { masterKeyId: string; instanceKeys: number; current: boolean; held: boolean }[];
}

/** Instance keys sealed to `masterKeyId`, as `stowage keys status` reports them. */
export function keysOn(status: KeysStatus, masterKeyId: string): number {
  return status.masterKeys.find((entry) => entry.masterKeyId === masterKeyId)?.instanceKeys ?? 0;
}
