import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decide,
  evolve,
  initialState,
  publicView,
  S3ConfigRejectedError,
  type Actor,
  type S3ConfigCommand,
  type S3ConfigEvent,
  type S3Settings,
} from '../../src/domain/s3-config.ts';
import { toS3ConfigEvent } from '../../src/domain/s3-config-events.ts';
import { deciderSpecification } from '../support/decider-specification.ts';

const given = deciderSpecification({ decide, evolve, initialState });

const actor: Actor = { tokenKind: 'instance', tokenId: 'tok1' };
const at = '2026-11-28T12:00:00.000Z';
const settings: S3Settings = {
  region: 'us-east-1',
  bucket: 'ryzeapi-media',
  accessKey: 'AKIA1',
  endpoint: '',
  pathPrefix: 'media/myinstance/',
};
const secret = { keyId: 'k1', mac: 'mac-of-secret-1', ciphertext: 'sealed-secret-1' };

const enabling = (overrides: Partial<Extract<S3ConfigCommand, { enabled: true }>> = {}) =>
  ({
    type: 'UpdateS3Config',
    enabled: true,
    instance: 'my-instance',
    settings,
    secret,
    actor,
    at,
    ...overrides,
  }) as const;
const disabling = (overrides: Partial<Extract<S3ConfigCommand, { enabled: false }>> = {}) =>
  ({
    type: 'UpdateS3Config',
    enabled: false,
    instance: 'my-instance',
    actor,
    at,
    ...overrides,
  }) as const;

const updated = (
  eventSettings: S3Settings,
  change: Extract<S3ConfigEvent, { type: 'S3ConfigUpdated' }>['data']['secret'],
): S3ConfigEvent => ({
  type: 'S3ConfigUpdated',
  data: { schemaVersion: 1, instance: 'my-instance', ...eventSettings, secret: change, actor, at },
});
const enabledWithSecret1 = updated(settings, { change: 'sealed', ...secret });
const disabled: S3ConfigEvent = {
  type: 'S3ConfigDisabled',
  data: { schemaVersion: 1, instance: 'my-instance', keyId: 'k1', actor, at },
};

const rejectedFor = (code: S3ConfigRejectedError['code']) => (error: Error) =>
  error instanceof S3ConfigRejectedError && error.code === code;

describe('configuring S3', () => {
  test('enabling an unconfigured instance records the settings and the sealed secret', () => {
    given([]).when(enabling()).then([enabledWithSecret1]);
  });

  test('enabling needs a secret key', () => {
    given([])
      .when(enabling({ secret: undefined }))
      .thenRejects(rejectedFor('secret-required'));
  });

  test('the same request again changes nothing and records nothing', () => {
    given([enabledWithSecret1])
      .when(enabling({ secret: { keyId: 'k1', mac: 'mac-of-secret-1' } }))
      .thenNothingHappens();
  });

  test('a change of prefix without the secret keeps the stored secret', () => {
    const moved = { ...settings, pathPrefix: 'other/' };
    given([enabledWithSecret1])
      .when(enabling({ settings: moved, secret: undefined }))
      .then([updated(moved, { change: 'unchanged' })]);
  });

  test('re-sending the stored secret with another field carries no new ciphertext', () => {
    const moved = { ...settings, bucket: 'another-bucket' };
    given([enabledWithSecret1])
      .when(enabling({ settings: moved, secret: { keyId: 'k1', mac: 'mac-of-secret-1' } }))
      .then([updated(moved, { change: 'unchanged' })]);
  });

  test('a different secret is sealed anew', () => {
    const rotated = { keyId: 'k1', mac: 'mac-of-secret-2', ciphertext: 'sealed-secret-2' };
    given([enabledWithSecret1])
      .when(enabling({ secret: rotated }))
      .then([updated(settings, { change: 'sealed', ...rotated })]);
  });

  test('a changed secret without its ciphertext is a bug in the shell, not a decision', () => {
    given([enabledWithSecret1])
      .when(enabling({ secret: { keyId: 'k1', mac: 'mac-of-secret-2' } }))
      .thenRejects((error) => /without its ciphertext/.test(error.message));
  });

  test('re-enabling after a disable needs every field again, the secret included', () => {
    given([enabledWithSecret1, disabled])
      .when(enabling({ secret: undefined }))
      .thenRejects(rejectedFor('secret-required'));
  });

  test('re-enabling after a disable with a new key is recorded', () => {
    const fresh = { keyId: 'k2', mac: 'mac-under-k2', ciphertext: 'sealed-under-k2' };
    given([enabledWithSecret1, disabled])
      .when(enabling({ secret: fresh }))
      .then([updated(settings, { change: 'sealed', ...fresh })]);
  });
});

describe('a public base URL', () => {
  const published = { ...settings, publicBaseUrl: 'https://cdn.example.com/media/' };
  const enabledPublished = updated(published, { change: 'sealed', ...secret });

  test('is recorded with the settings, and the view shows it', () => {
    given([])
      .when(enabling({ settings: published }))
      .then([enabledPublished]);
    assert.deepEqual(publicView(evolve(initialState, enabledPublished)), {
      enabled: true,
      ...published,
    });
  });

  test('changing only it is a change; repeating it is not', () => {
    const moved = { ...published, publicBaseUrl: 'https://other.example.com/' };
    given([enabledPublished])
      .when(enabling({ settings: moved, secret: undefined }))
      .then([updated(moved, { change: 'unchanged' })]);
    given([enabledPublished])
      .when(enabling({ settings: published, secret: undefined }))
      .thenNothingHappens();
  });

  test('left out of an update while enabled, it is cleared, like endpoint and pathPrefix', () => {
    given([enabledPublished])
      .when(enabling({ settings, secret: undefined }))
      .then([updated(settings, { change: 'unchanged' })]);
    const state = [enabledPublished, updated(settings, { change: 'unchanged' })].reduce(
      evolve,
      initialState,
    );
    assert.deepEqual(publicView(state), { enabled: true, ...settings });
  });

  test('a disable clears it with every other field', () => {
    const state = [enabledPublished, disabled].reduce(evolve, initialState);
    assert.equal('publicBaseUrl' in publicView(state), false);
    given([enabledPublished, disabled]).when(enabling()).then([enabledWithSecret1]);
  });

  test('stored events decode with it and, as written before it existed, without it', () => {
    const stored = (event: S3ConfigEvent) => JSON.parse(JSON.stringify(event.data));
    assert.deepEqual(
      toS3ConfigEvent('S3ConfigUpdated', stored(enabledPublished)),
      enabledPublished,
    );
    assert.deepEqual(
      toS3ConfigEvent('S3ConfigUpdated', stored(enabledWithSecret1)),
      enabledWithSecret1,
    );
    assert.throws(() =>
      toS3ConfigEvent('S3ConfigUpdated', { ...stored(enabledPublished), publicBaseUrl: 7 }),
    );
    assert.equal('publicBaseUrl' in enabledWithSecret1.data, false);
    assert.equal('publicBaseUrl' in publicView(evolve(initialState, enabledWithSecret1)), false);
  });
});

describe('disabling S3', () => {
  test('disabling an enabled instance records which key material is destroyed', () => {
    given([enabledWithSecret1]).when(disabling()).then([disabled]);
  });

  test('disabling what is not enabled records nothing', () => {
    given([]).when(disabling()).thenNothingHappens();
    given([enabledWithSecret1, disabled]).when(disabling()).thenNothingHappens();
  });
});

describe('If-Match', () => {
  test('a command made against the current revision goes through', () => {
    given([enabledWithSecret1])
      .when(disabling({ expectedRevision: 0 }))
      .then([disabled]);
  });

  test('a command made against an older revision is refused', () => {
    given([enabledWithSecret1, disabled, enabledWithSecret1])
      .when(disabling({ expectedRevision: 1 }))
      .thenRejects(rejectedFor('revision-mismatch'));
    given([])
      .when(disabling({ expectedRevision: 0 }))
      .thenRejects(rejectedFor('revision-mismatch'));
  });
});

describe('evolve', () => {
  test('revisions count events from 0; the view shows no secret and empty fields when disabled', () => {
    const enabled = [enabledWithSecret1].reduce(evolve, initialState);
    assert.equal(enabled.revision, 0);
    assert.deepEqual(publicView(enabled), { enabled: true, ...settings });
    assert.equal(JSON.stringify(publicView(enabled)).includes('sealed-secret-1'), false);

    const off = evolve(enabled, disabled);
    assert.equal(off.revision, 1);
    assert.deepEqual(publicView(off), {
      enabled: false,
      region: '',
      bucket: '',
      accessKey: '',
      endpoint: '',
      pathPrefix: '',
    });
  });

  test('an update that keeps the secret keeps the key and digest of the last sealed one', () => {
    const state = [
      enabledWithSecret1,
      updated({ ...settings, bucket: 'b2b' }, { change: 'unchanged' }),
    ].reduce(evolve, initialState);
    assert.equal(state.status, 'enabled');
    assert.deepEqual(state.status === 'enabled' && state.secret, {
      keyId: 'k1',
      mac: 'mac-of-secret-1',
    });
  });
});
