import pg from 'pg';

// int8 columns (global positions, revisions) arrive as strings by default; the event store
// converts them to bigint itself, so the type parser stays the default and no value is rounded.
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(connectionString: string, max: number): Pool {
  const pool = new pg.Pool({ connectionString, max });
  // An idle client that loses its connection (server restart) emits 'error'; without a listener
  // that would crash the process. The next query gets a fresh connection.
  pool.on('error', () => {});
  return pool;
}

export function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransactionClient(pool, async (client) => {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  });
}

/**
 * A pooled client for work that begins and commits its own transaction (sending BEGIN or COMMIT
 * along with other statements, say): whatever it began is rolled back when it throws.
 */
export async function withTransactionClient<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    return await work(client);
  } catch (error) {
    // eslint-disable-next-line no-restricted-syntax -- a failed ROLLBACK means a broken connection, which the pool drops on release
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
