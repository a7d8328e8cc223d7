import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { S3ConfigRejectedError } from '../../src/domain/s3-config.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { answers, ApiError, clientMessages, ErrorBody } from '../../src/http/error-handler.ts';
import { SettingsError } from '../../src/settings.ts';
import { StowageError, type ErrorCode } from '../../src/shared/errors.ts';

/** Any coded error, as a component would raise it; its message must never reach a client as is. */
class ProbeError extends StowageError {}

const routeFailure = 'Failed to update S3 configuration';
// The seed's statuses (400, 401, 404, 429, 500) and the ones the routes add (README).
const contractStatuses = new Set([400, 401, 404, 409, 412, 415, 429, 500, 503, 504]);
const leakMarker = 'postgres://operator:hunter2@db';

let app: App;
let thrown: Error;
const logLines: string[] = [];

before(async () => {
  const logSink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  app = buildApp({ logger: pino({ level: 'error' }, logSink), readiness: [] });
  app.post('/fails', { config: { failureMessage: routeFailure } }, async () => {
    throw thrown;
  });
  await app.ready();
});

after(() => app.close());

async function answerTo(error: Error) {
  thrown = error;
  logLines.length = 0;
  const response = await app.inject({ method: 'POST', url: '/fails', payload: {} });
  return { status: response.statusCode, body: ErrorBody.strict().parse(response.json()) };
}

describe('every error code is answered in the contract', () => {
  for (const code of Object.keys(answers) as ErrorCode[]) {
    test(code, async () => {
      const { status, body } = await answerTo(new ProbeError(code, `${code} at ${leakMarker}`));
      assert.ok(contractStatuses.has(status), `status ${status}`);
      assert.equal(body.success, false);
      const answer = answers[code];
      if (answer === 'internal') {
        assert.equal(status, 500);
        assert.equal(body.error.message, routeFailure);
        assert.ok(
          logLines.some((line) => line.includes(leakMarker)),
          'the cause is logged',
        );
      } else {
        assert.equal(status, answer.status);
        assert.notEqual(status, 500);
        assert.equal(logLines.length, 0, 'a client mistake is no failure of ours');
        const expected = 'ownMessage' in answer ? `${code} at ${leakMarker}` : answer.message;
        assert.equal(body.error.message, expected);
      }
    });
  }
});

test('only the revision mismatch, written for the client, answers with its own message', () => {
  const own = Object.entries(answers).filter(([, a]) => a !== 'internal' && 'ownMessage' in a);
  assert.deepEqual(
    own.map(([code]) => code),
    ['revision-mismatch'],
  );
});

test('a request error names the fields at fault', async () => {
  const details = [{ field: 'endpoint', message: 'is a private address' }];
  const { status, body } = await answerTo(new ApiError('invalid-request-body', details));
  assert.equal(status, 400);
  assert.deepEqual(body, { success: false, error: { message: 'Invalid request body', details } });
});

test('a missing secret is a 400 on the secretKey field', async () => {
  const rejected = new S3ConfigRejectedError(
    'secret-required',
    'secretKey is required',
    'secretKey',
  );
  const { status, body } = await answerTo(rejected);
  assert.equal(status, 400);
  assert.deepEqual(body.error, {
    message: clientMessages['invalid-request-body'],
    details: [{ field: 'secretKey', message: 'secretKey is required' }],
  });
});

test('an uncoded error is a 500 with the route message, its cause logged only', async () => {
  const { status, body } = await answerTo(new Error(`connect failed: ${leakMarker}`));
  assert.equal(status, 500);
  assert.deepEqual(body, { success: false, error: { message: routeFailure } });
  assert.ok(logLines.some((line) => line.includes(leakMarker)));
});

test('errors are named after their class', () => {
  assert.equal(new ProbeError('poison-event', 'x').name, 'ProbeError');
  assert.equal(new SettingsError('invalid setting X').name, 'SettingsError');
  assert.equal(new ApiError('invalid-token').name, 'ApiError');
  assert.equal(new ApiError('invalid-token').code, 'invalid-token');
});
