import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EventStoreDBClient } from '@eventstore/db-client';
import {
  clientConnectionString,
  connectionStringProblem,
} from '../../../src/infra/event-store/eventstoredb-connection-string.ts';
import { EventStoreDbEventStore } from '../../../src/infra/event-store/eventstoredb-event-store.ts';
import { loadSettings, SettingsError } from '../../../src/settings.ts';

// The client parses a connection string and builds its channel credentials without connecting;
// it loads the certificate files a URL names, so those are a real (self-signed) pair.
const certificates = mkdtempSync(join(tmpdir(), 'stowage-esdb-certs-'));
const [userCert, userKey] = ['user.crt', 'user.key'].map((name) => join(certificates, name));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=stowage',
    '-days',
    '1',
    '-keyout',
    userKey!,
    '-out',
    userCert!,
  ],
  { stdio: 'ignore' },
);
const ca = userCert;

const accepted = [
  'esdb://localhost:2113?tls=false',
  'esdb://eventstore:2113?tls=false&tlsVerifyCert=false',
  `esdb://stowage:p%40ss@eventstore:2113?tls=true&tlsCAFile=${ca}`,
  'esdb://admin:changeit@node1:2113,node2:2113,node3:2113?nodePreference=leader',
  'esdb://node1:2113?connectionName=stowage&defaultDeadline=5000&keepAliveInterval=10000&keepAliveTimeout=10000',
  `esdb://node1:2113?throwOnAppendFailure=true&userCertFile=${userCert}&userKeyFile=${userKey}`,
  'esdb+discover://cluster.example.com:2113?maxDiscoverAttempts=3&discoveryInterval=100&gossipTimeout=5',
  'esdb://localhost:2113/',
  'kurrentdb://localhost:2113?tls=false',
  'kurrentdb://stowage:secret@node1:2113,node2:2113?tls=true',
  'kurrentdb+discover://cluster.example.com:2113',
];

const refused = [
  'http://localhost:2113',
  'esdb://',
  'kurrent://localhost:2113',
  'esdb://localhost:2113?tls=maybe',
  'esdb://localhost:2113?nodePreference=fastest',
  'esdb://localhost:2113?unknownOption=1',
  'esdb://localhost:2113?tls',
  `esdb://localhost:2113?tlsCAFile=${join(certificates, 'missing.crt')}`,
];

for (const url of accepted) {
  test(`${url} passes settings and constructs the client and the store`, async () => {
    assert.equal(loadSettings({ EVENTSTORE_URL: url }).EVENTSTORE_URL, url);
    const client = EventStoreDBClient.connectionString(clientConnectionString(url));
    await client.dispose();
    const store = new EventStoreDbEventStore(url);
    await store.close();
  });
}

for (const url of refused) {
  test(`${url} is refused by settings, in agreement with the client`, () => {
    assert.throws(
      () => loadSettings({ EVENTSTORE_URL: url }),
      (error: Error) =>
        error instanceof SettingsError &&
        /^invalid setting EVENTSTORE_URL: expected an esdb:\/\/ URL: /.test(error.message),
    );
    assert.ok(connectionStringProblem(url));
  });
}

test('the client itself refuses kurrentdb:// (the reason it is translated)', () => {
  assert.throws(() => EventStoreDBClient.connectionString('kurrentdb://localhost:2113'));
  assert.equal(
    clientConnectionString('kurrentdb+discover://u:kurrentdb@h:2113'),
    'esdb+discover://u:kurrentdb@h:2113',
  );
});

test('a refused URL is not echoed: it may carry a password', () => {
  const url = 'esdb://stowage:hunter2-secret@eventstore:2113?tls=perhaps';
  assert.throws(
    () => loadSettings({ EVENTSTORE_URL: url }),
    (error: Error) => !error.message.includes('hunter2') && /EVENTSTORE_URL/.test(error.message),
  );
});
