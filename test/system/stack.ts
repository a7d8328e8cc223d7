import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { createS3Client } from '../../src/infra/s3/s3-client.ts';
import type { ComposeService } from './compose.ts';

const run = promisify(execFile);
const repositoryRoot = new URL('../../', import.meta.url).pathname;

/** Where compose's service host names are reached here. */
export interface LocalServices {
  postgres: string;
  kafka: string;
  redis: string;
  s3: string;
  s3AccessKey: string;
  s3SecretKey: string;
  pgAdminUrl: string;
}

/** Compose's host:port pairs, rewritten to the local servers. */
export function hostMap(local: LocalServices): Record<string, string> {
  return {
    'postgres:5432': local.postgres,
    'kafka:9092': local.kafka,
    'redis:6379': local.redis,
    'minio:9000': local.s3,
  };
}

export function mapHosts(text: string, hosts: Record<string, string>): string {
  return Object.entries(hosts).reduce((mapped, [from, to]) => mapped.split(from).join(to), text);
}

/** A stowage service's environment as compose gives it, host names mapped; ESDB left out. */
export function nativeEnvironment(
  service: ComposeService,
  hosts: Record<string, string>,
): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(service.environment).map(([key, value]) => [key, mapHosts(value, hosts)]),
  );
  delete env.EVENTSTORE_URL;
  return env;
}

/** Compose's postgres service: its user and database, fresh, on the local server. */
export async function preparePostgres(adminUrl: string, postgres: ComposeService): Promise<void> {
  const {
    POSTGRES_USER: user,
    POSTGRES_PASSWORD: password,
    POSTGRES_DB: database,
  } = postgres.environment;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    const { rowCount } = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
    if (!rowCount) await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${database} OWNER ${user}`);
  } finally {
    await admin.end();
  }
}

/** A clean slate: the topics and group a previous run left are removed. */
export async function removeTopics(kafka: Kafka, topics: string[], group: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((topic) => existing.has(topic));
    if (present.length > 0) await admin.deleteTopics({ topics: present });
    // eslint-disable-next-line no-restricted-syntax -- a group that never existed (a first run) is already clean
    await admin.deleteGroups([group]).catch(() => {});
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs a setup service's command. One built from this repository (kafka-setup's `topics ensure`):
 * `node bin/stowage.js <command>` with its compose environment. A shell script on the Kafka image:
 * as written, its /opt/kafka/bin/kafka-topics.sh being the same Kafka release's TopicCommand from
 * the local broker's jars. minio-setup (`mc mb --ignore-existing minio/<bucket>`): that bucket on
 * S3Proxy.
 */
export async function runSetupService(
  service: ComposeService,
  hosts: Record<string, string>,
  local: LocalServices,
  workDir: string,
): Promise<string> {
  if (service.stowage) {
    await run(process.execPath, ['bin/stowage.js', ...service.command], {
      cwd: repositoryRoot,
      env: { PATH: process.env.PATH ?? '', ...nativeEnvironment(service, hosts) },
    });
    return `${service.name}: ran \`stowage ${service.command.join(' ')}\` as written`;
  }
  if (service.image?.startsWith('apache/kafka') && service.entrypoint[0] === '/bin/sh') {
    const bin = join(workDir, 'kafka-bin');
    mkdirSync(bin, { recursive: true });
    const topicsScript = join(bin, 'kafka-topics.sh');
    const lib = join(repositoryRoot, '.services/cache/kafka/lib/*');
    writeFileSync(
      topicsScript,
      `#!/bin/sh\nexec java -cp '${lib}' org.apache.kafka.tools.TopicCommand "$@"\n`,
    );
    chmodSync(topicsScript, 0o755);
    const script = mapHosts(service.command.join(' '), hosts).replaceAll(
      '/opt/kafka/bin/kafka-topics.sh',
      topicsScript,
    );
    await run(service.entrypoint[0], [...service.entrypoint.slice(1), script], {
      env: { PATH: process.env.PATH ?? '', ...service.environment },
    });
    return `${service.name}: ran its script (kafka-topics.sh = TopicCommand from the local jars)`;
  }
  const [verb, ...args] = service.command;
  if (service.image?.startsWith('minio/mc') && verb === 'mb') {
    const target = args.find((arg) => !arg.startsWith('-'))!;
    const bucket = target.split('/')[1]!;
    const s3 = createS3Client({
      region: 'us-east-1',
      endpoint: `http://${local.s3}`,
      accessKeyId: local.s3AccessKey,
      secretAccessKey: local.s3SecretKey,
    });
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((error: Error) => {
      if (!/BucketAlready/.test(error.name)) throw error;
    });
    return `${service.name}: mc mb ${target} = CreateBucket ${bucket} on S3Proxy`;
  }
  throw new Error(`no native mapping for setup service ${service.name}`);
}
