import type { S3Client } from '@aws-sdk/client-s3';

/**
 * `make(client)` once per client, kept as long as the client lives: what is made from its
 * credentials (a signer) never outlives the secret it holds.
 */
export function perClient<T extends object>(
  make: (client: S3Client) => T,
): (client: S3Client) => T {
  const made = new WeakMap<S3Client, T>();
  return (client) => {
    let value = made.get(client);
    if (!value) {
      value = make(client);
      made.set(client, value);
    }
    return value;
  };
}
