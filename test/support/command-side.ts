import { createUpdateS3ConfigHandler } from '../../src/commands/update-s3-config.handler.ts';
import type { UpdateS3Config } from '../../src/commands/update-s3-config.preparation.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { masterKeyId, type MasterKey } from '../../src/infra/master-keys.ts';
import { PostgresInstanceKeyring } from '../../src/infra/postgres/postgres-instance-keyring.ts';
import { generateKeypair } from '../../src/infra/sealing.ts';
import type { TestDatabase } from './database.ts';

export function testMasterKey(): MasterKey {
  const keypair = generateKeypair();
  return { id: masterKeyId(keypair.publicKey), publicKey: keypair.publicKey, keypair };
}

/** The command side over a test database, as one API process would run it. */
export function commandSide(database: TestDatabase, masterKey: MasterKey = testMasterKey()) {
  const eventStore = new PostgresEventStore(database.pool, database.connect);
  const keyring = new PostgresInstanceKeyring(database.pool, masterKey);
  const handle = createUpdateS3ConfigHandler({ eventStore, keyring });
  return { eventStore, keyring, handle, masterKey };
}

export const awsSettings = {
  region: 'us-east-1',
  bucket: 'ryzeapi-media',
  accessKey: 'AKIAEXAMPLE',
  endpoint: '',
  pathPrefix: 'media/myinstance/',
};

/** An UpdateS3Config that enables the instance's storage. */
export function enabling(
  instance: string,
  secretKey: string | undefined,
  settings: Partial<typeof awsSettings> = {},
): UpdateS3Config {
  return {
    instance,
    request: {
      enabled: true,
      settings: { ...awsSettings, ...settings },
      ...(secretKey === undefined ? {} : { secretKey }),
    },
    actor: { tokenKind: 'instance', tokenId: 'token-1' },
    requestId: 'req-1',
  };
}

/** An UpdateS3Config that disables the instance's storage. */
export function disabling(instance: string): UpdateS3Config {
  return {
    instance,
    request: { enabled: false },
    actor: { tokenKind: 'account', tokenId: 'token-2' },
    requestId: 'req-2',
  };
}
