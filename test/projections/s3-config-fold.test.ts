import { describe, test } from 'node:test';
import { instanceStream, type Actor, type S3Settings } from '../../src/domain/s3-config.ts';
import { s3ConfigProjection } from '../../src/projections/s3-config-projection.ts';
import type { S3ConfigRecord } from '../../src/projections/s3-config-fold.ts';
import { projectionSpecification } from '../support/projection-specification.ts';
import { disabled, newEvent, updated } from './support/s3-config-workload.ts';

// The fold is pure: a key shredder that is called fails the test.
const given = projectionSpecification(
  s3ConfigProjection({
    shred: () => Promise.reject(new Error('the fold destroyed a key itself')),
  }),
);

const at = new Date('2026-11-28T12:00:00.000Z');
const actor: Actor = { tokenKind: 'account', tokenId: 'tok-workload' };
const settings: S3Settings = {
  region: 'us-east-1',
  bucket: 'media',
  accessKey: 'AKIA1',
  endpoint: '',
  pathPrefix: 'media/',
};
const empty: S3Settings = { region: '', bucket: '', accessKey: '', endpoint: '', pathPrefix: '' };
const alpha = instanceStream('alpha');
const beta = instanceStream('beta');
const sealed = (keyId: string) => ({ keyId, ciphertext: `sealed-by-${keyId}` });

const record = (overrides: Partial<S3ConfigRecord> & Pick<S3ConfigRecord, 'instance'>) => ({
  enabled: true,
  settings,
  secret: null,
  revision: 0,
  updatedAt: at,
  updatedBy: actor,
  ...overrides,
});

describe('the S3-config projection folds a batch of events into read-model records', () => {
  test('configuring an instance gives its enabled record, with the sealed secret in force', () => {
    given()
      .when([alpha, updated('alpha', settings, sealed('k1'), at)])
      .then({
        rows: [record({ instance: 'alpha', secret: { ...sealed('k1'), revision: 0 } })],
        applied: 1,
        keysToShred: [],
      });
  });

  test('a change that keeps the secret keeps the one sealed earlier', () => {
    const moved = { ...settings, bucket: 'elsewhere' };
    given([alpha, updated('alpha', settings, sealed('k1'), at)])
      .when([alpha, updated('alpha', moved, 'unchanged', at)])
      .then({
        rows: [
          record({
            instance: 'alpha',
            settings: moved,
            secret: { ...sealed('k1'), revision: 0 },
            revision: 1,
          }),
        ],
      });
  });

  test('disabling clears settings and secret, and names the key material to destroy', () => {
    given([alpha, updated('alpha', settings, sealed('k1'), at)])
      .when([alpha, disabled('alpha', 'k1', at)])
      .then({
        rows: [record({ instance: 'alpha', enabled: false, settings: empty, revision: 1 })],
        keysToShred: ['k1'],
      });
  });

  test('several events of one instance fold into its final record; records come by name', () => {
    given()
      .when(
        [beta, updated('beta', settings, sealed('kb'), at)],
        [alpha, updated('alpha', settings, sealed('k1'), at)],
        [alpha, disabled('alpha', 'k1', at)],
        [alpha, updated('alpha', settings, sealed('k2'), at)],
      )
      .then({
        rows: [
          record({ instance: 'alpha', secret: { ...sealed('k2'), revision: 2 }, revision: 2 }),
          record({ instance: 'beta', secret: { ...sealed('kb'), revision: 0 } }),
        ],
        applied: 4,
        keysToShred: ['k1'],
      });
  });

  test('an event the stored record already includes is counted and changes nothing', () => {
    given(
      [alpha, updated('alpha', settings, sealed('k1'), at)],
      [alpha, disabled('alpha', 'k1', at)],
    )
      .when([alpha, updated('alpha', settings, sealed('k1'), at), 0])
      .then({ rows: [], applied: 0, alreadyApplied: 1, keysToShred: [] });
  });

  test('an unknown event type is skipped and counted, and still moves the revision on', () => {
    given([alpha, updated('alpha', settings, sealed('k1'), at)])
      .when([alpha, newEvent('S3ConfigAudited', {})], [beta, newEvent('S3ConfigAudited', {})])
      .then({
        rows: [
          record({ instance: 'alpha', secret: { ...sealed('k1'), revision: 0 }, revision: 1 }),
        ],
        applied: 0,
        unknown: 2,
        unknownTypes: ['S3ConfigAudited'],
      });
  });

  describe('it stops at a poison event, with the events before it folded', () => {
    test('a malformed event', () => {
      given()
        .when(
          [beta, updated('beta', settings, sealed('kb'), at)],
          [alpha, newEvent('S3ConfigUpdated', { schemaVersion: 1, instance: 'alpha' })],
          [beta, disabled('beta', 'kb', at)],
        )
        .thenStopsAt(1, /region/);
    });

    test('a change that keeps a secret while none is in force', () => {
      given(
        [alpha, updated('alpha', settings, sealed('k1'), at)],
        [alpha, disabled('alpha', 'k1', at)],
      )
        .when([alpha, updated('alpha', settings, 'unchanged', at)])
        .thenStopsAt(0, /keeps a secret while none is in force/);
    });

    test('an event whose time is not a time', () => {
      given()
        .when([
          alpha,
          newEvent('S3ConfigDisabled', {
            schemaVersion: 1,
            instance: 'alpha',
            keyId: 'k1',
            actor,
            at: 'noon',
          }),
        ])
        .thenStopsAt(0, /"at" is not a time/);
    });

    test('a stream outside the instance-s3- category', () => {
      given()
        .when(
          [alpha, updated('alpha', settings, sealed('k1'), at)],
          ['instance-s3-', updated('', settings, sealed('k2'), at)],
        )
        .thenStopsAt(1, /stream outside the instance-s3- category/);
    });

    test('a record the feed could not decode', () => {
      given()
        .when([alpha, { ...newEvent('S3ConfigUpdated', {}), undecodable: 'not JSON' }])
        .thenStopsAt(0, /not JSON/);
    });
  });
});
