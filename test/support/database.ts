import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/infra/postgres/migrate.ts';
import { createPool, type Pool } from '../../src/infra/postgres/pool.ts';
import { requiredEnv } from './services.ts';

export interface TestDatabase {
  url: string;
  pool: Pool;
  connect: () => Promise<pg.Client>;
  drop(): Promise<void>;
}

/**
 * A throwaway database on the test PostgreSQL server, migrated unless asked not to. Each test
 * file gets its own, so files can run in parallel and never see each other's rows.
 */
export async function createTestDatabase(
  options: { migrated?: boolean; poolSize?: number } = {},
): Promise<TestDatabase> {
  const adminUrl = requiredEnv('PG_ADMIN_URL');
  const name = `stowage_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), options.poolSize ?? 10);
  if (options.migrated !== false) await migrate(pool);
  return {
    url: url.toString(),
    pool,
    async connect() {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      return client;
    },
    async drop() {
      await pool.end();
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
