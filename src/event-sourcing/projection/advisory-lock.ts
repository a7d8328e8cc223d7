import type pg from 'pg';

export interface HeldLock {
  /** Aborts when the lock's connection ends or fails: the lock is gone and another may hold it. */
  lost: AbortSignal;
  release(): Promise<void>;
}

/**
 * Waits until this process holds the session-level advisory lock `name`, on a connection of its
 * own: Postgres releases it when that connection dies, so a waiting standby takes over without a
 * lease to expire. Resolves undefined when `signal` aborts first.
 */
export async function holdAdvisoryLock(
  connect: () => Promise<pg.Client>,
  name: string,
  signal: AbortSignal,
  onWait: () => void,
): Promise<HeldLock | undefined> {
  if (signal.aborted) return undefined;
  const client = await connect();
  const lost = new AbortController();
  client.on('error', () => lost.abort());
  client.on('end', () => lost.abort());
  // Ending a connection that is already lost fails; it is given up either way.
  // eslint-disable-next-line no-restricted-syntax -- nothing is left to act on
  const release = () => client.end().catch(() => {});
  if (signal.aborted) {
    await release();
    return undefined;
  }
  // Ending the connection is the one way to give up a pg_advisory_lock call that is waiting.
  const releaseOnAbort = () => void release();
  signal.addEventListener('abort', releaseOnAbort, { once: true });
  try {
    const { rows } = await client.query<{ held: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held',
      [name],
    );
    if (!rows[0]?.held) {
      onWait();
      await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [name]);
    }
  } catch (error) {
    await release();
    if (signal.aborted) return undefined;
    throw error;
  } finally {
    signal.removeEventListener('abort', releaseOnAbort);
  }
  return { lost: lost.signal, release };
}
