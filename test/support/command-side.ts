import {
  createS3ConfigHandler,
  type S3ConfigChange,
} from '../../src/commands/s3-config-handler.ts';
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
  const handle = createS3ConfigHandler({ eventStore, keyring });
  return { eventStore, keyring, handle, masterKey };
}

export const awsSettings = {
  region: 'us-east-1',
  bucket: 'ryzeapi-media',
  accessKey: 'AKIAEXAMPLE',
  endpoint: '',
  pathPrefix: 'media/myinstance/',
};

export function enable(
  instance: string,
  secretKey: string | undefined,
  settings: Partial<typeof awsSettings> = {},
): S3ConfigChange {
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

export function disable(instance: string): S3ConfigChange {
  return {
    instance,
    request: { enabled: false },
    actor: { tokenKind: 'account', tokenId: 'token-2' },
    requestId: 'req-2',
  };
}
