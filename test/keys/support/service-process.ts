import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';

const stowage = fileURLToPath(new URL('../../../bin/stowage.js', import.meta.url));

/** `stowage serve --roles …` as its own process, as it is deployed. */
export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** Its log (JSON lines on stdout) so far. */
  log(): string;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

export async function spawnService(
  roles: string,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [stowage, 'serve', '--roles', roles], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const started = output.split('\n').find((line) => line.includes('"stowage started"'));
      if (started) resolve(JSON.parse(started).url as string);
    };
    child.stdout.on('data', look);
    void exited.then(() => reject(new Error(`stowage serve --roles ${roles} exited: ${output}`)));
  });
  return {
    url,
    child,
    log: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
