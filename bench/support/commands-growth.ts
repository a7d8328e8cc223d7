/**
 * Growth cases of bench:commands: the store filled to many instances with SQL (not HTTP), and
 * one stream grown to many events, through the tables the service uses.
 */
import autocannon from 'autocannon';
import type pg from 'pg';
import { mintToken } from '../../src/infra/access-token.ts';
import type { BenchInstance } from './commands-load.ts';

const chunk = 20_000;

/**
 * Copies each configured instance (`bench-<n>`) `copies` times as `bench-<n>-c<k>`: an instance
 * row, a fresh instance token, its own instance key (the source's key material) and a stream
 * holding the source's first event. The copies' streams fold, decide and append like any other;
 * their sealed secrets name the source instance, so only a worker could tell them apart.
 * Returns the copies with their tokens and the index of their source.
 */
export async function cloneInstances(
  pool: pg.Pool,
  sources: readonly BenchInstance[],
  copies: number,
): Promise<{ instances: BenchInstance[]; sourceIndex: number[] }> {
  const { rows } = await pool.query<{ account_id: string }>(
    'SELECT account_id FROM instances WHERE name = $1',
    [sources[0]!.instance],
  );
  const accountId = rows[0]!.account_id;
  const instances: BenchInstance[] = [];
  const sourceIndex: number[] = [];
  const tokenRows: [string, Buffer][] = [];
  for (let k = 1; k <= copies; k++) {
    sources.forEach(({ instance }, n) => {
      const minted = mintToken();
      instances.push({ instance: `${instance}-c${k}`, token: minted.token });
      sourceIndex.push(n);
      tokenRows.push([minted.tokenId, minted.secretHash]);
    });
  }
  for (let start = 0; start < instances.length; start += chunk) {
    const part = instances.slice(start, start + chunk);
    const clones = part.map((copy) => copy.instance);
    const origins = part.map((_, i) => sources[sourceIndex[start + i]!]!.instance);
    const tokens = tokenRows.slice(start, start + chunk);
    await pool.query('BEGIN');
    await pool.query('INSERT INTO instances (name, account_id) SELECT unnest($1::text[]), $2', [
      clones,
      accountId,
    ]);
    await pool.query(
      `INSERT INTO access_tokens (id, kind, account_id, instance_name, hash)
       SELECT id, 'instance', $2, name, hash
       FROM unnest($1::text[], $3::text[], $4::bytea[]) AS t(id, name, hash)`,
      [tokens.map(([id]) => id), accountId, clones, tokens.map(([, hash]) => hash)],
    );
    await pool.query(
      `WITH copy AS (
         SELECT clone, e.event_type, e.data, e.metadata, e.data #>> '{secret,keyId}' AS key_id
         FROM unnest($1::text[], $2::text[]) AS m(clone, origin)
         JOIN events e ON e.stream_name = 'instance-s3-' || origin AND e.stream_revision = 0
       ), keys AS (
         INSERT INTO instance_keys
           (key_id, instance_name, public_key, sealed_private_key, mac_key, master_key_id)
         SELECT 'k-' || copy.clone, copy.clone, k.public_key, k.sealed_private_key, k.mac_key,
                k.master_key_id
         FROM copy JOIN instance_keys k ON k.key_id = copy.key_id
       ), streams AS (
         INSERT INTO event_streams (stream_name, revision)
         SELECT 'instance-s3-' || clone, 0 FROM copy
       )
       INSERT INTO events (stream_name, stream_revision, event_id, event_type, data, metadata)
       SELECT 'instance-s3-' || clone, 0, gen_random_uuid(), event_type,
              jsonb_set(jsonb_set(data, '{instance}', to_jsonb(clone)),
                        '{secret,keyId}', to_jsonb('k-' || clone)),
              metadata
       FROM copy`,
      [clones, origins],
    );
    await pool.query('COMMIT');
  }
  await pool.query('ANALYZE');
  return { instances, sourceIndex };
}

/** Grows one configured instance's stream to `events` events, each a new path prefix. */
export async function growStream(pool: pg.Pool, instance: string, events: number): Promise<void> {
  const stream = `instance-s3-${instance}`;
  await pool.query(
    `WITH last AS (
       SELECT data, metadata, event_type FROM events WHERE stream_name = $1
       ORDER BY stream_revision DESC LIMIT 1
     ), head AS (SELECT revision FROM event_streams WHERE stream_name = $1)
     INSERT INTO events (stream_name, stream_revision, event_id, event_type, data, metadata)
     SELECT $1, r, gen_random_uuid(), 'S3ConfigUpdated',
            jsonb_set(jsonb_set(last.data, '{pathPrefix}', to_jsonb('grown/' || r || '/')),
                      '{secret}', '{"change":"unchanged"}'),
            last.metadata
     FROM last, head, generate_series(head.revision + 1, $2 - 1) AS r`,
    [stream, events],
  );
  await pool.query('UPDATE event_streams SET revision = $2 - 1 WHERE stream_name = $1', [
    stream,
    events,
  ]);
  await pool.query('ANALYZE events');
}

/** p50/p99 of GETs of `path`, spreading them over the tokens so no budget runs out. */
export async function latencyOf(
  url: string,
  path: string,
  tokens: readonly string[],
  amount: number,
): Promise<{ p50: number; p99: number; errors: number }> {
  let n = 0;
  const result = await autocannon({
    url,
    connections: 4,
    amount,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          path,
          headers: { token: tokens[n++ % tokens.length]! },
        }),
      },
    ],
  });
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
  };
}

/** Fresh account tokens of the account that owns `instance`, inserted as the store does. */
export async function addAccountTokens(
  pool: pg.Pool,
  instance: string,
  count: number,
): Promise<string[]> {
  const minted = Array.from({ length: count }, () => mintToken());
  await pool.query(
    `INSERT INTO access_tokens (id, kind, account_id, hash)
     SELECT id, 'account', (SELECT account_id FROM instances WHERE name = $3), hash
     FROM unnest($1::text[], $2::bytea[]) AS t(id, hash)`,
    [minted.map((token) => token.tokenId), minted.map((token) => token.secretHash), instance],
  );
  return minted.map((token) => token.token);
}
