import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { buildApp, type App } from '../../src/http/app.ts';

/** JSON bodies are UTF-8, and only UTF-8: anything else is refused, never read as mojibake. */
let app: App;

before(async () => {
  app = buildApp({ logger: pino({ level: 'silent' }), readiness: [] });
  app.post('/echo', async (request) => ({ success: true, got: request.body }));
  await app.ready();
});
after(() => app.close());

const echo = (contentType: string, payload: Buffer) =>
  app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': contentType }, payload });

const text = { name: 'clé €' };

for (const contentType of [
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset="UTF-8"',
  'application/json; charset=utf8',
  'application/json; charset=us-ascii',
]) {
  test(`UTF-8 under ${contentType} reads as sent`, async () => {
    const response = await echo(contentType, Buffer.from(JSON.stringify(text), 'utf8'));
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json().got, text);
  });
}

test('a byte order mark before UTF-8 is passed over', async () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const response = await echo('application/json', Buffer.concat([bom, Buffer.from('{"a":1}')]));
  assert.equal(response.statusCode, 200, response.body);
  assert.deepEqual(response.json().got, { a: 1 });
});

for (const [charset, encoding] of [
  ['iso-8859-1', 'latin1'],
  ['utf-16le', 'utf16le'],
  ['"UTF-16"', 'utf16le'],
  ['', 'utf8'],
] as const) {
  test(`a body declared charset=${charset || '(empty)'} is a 415`, async () => {
    const response = await echo(
      `application/json; charset=${charset}`,
      Buffer.from(JSON.stringify(text), encoding),
    );
    assert.equal(response.statusCode, 415, response.body);
    assert.deepEqual(response.json(), {
      success: false,
      error: { message: 'Unsupported charset: send JSON in UTF-8' },
    });
  });
}

for (const [what, payload] of [
  ['Latin-1', Buffer.from(JSON.stringify(text), 'latin1')],
  ['UTF-16 with its byte order mark', Buffer.from(`\ufeff${JSON.stringify(text)}`, 'utf16le')],
  ['a UTF-8 sequence cut short', Buffer.from([...Buffer.from('{"a":"'), 0xe2, 0x82, 0x22, 0x7d])],
] as const) {
  test(`${what} sent as plain application/json is a 400 naming the body`, async () => {
    const response = await echo('application/json', payload);
    assert.equal(response.statusCode, 400, response.body);
    assert.deepEqual(response.json(), {
      success: false,
      error: {
        message: 'Invalid request body',
        details: [{ field: 'body', message: 'is not valid UTF-8' }],
      },
    });
  });
}

test('prototype poisoning is still refused', async () => {
  const response = await echo('application/json', Buffer.from('{"__proto__":{"x":1}}'));
  assert.equal(response.statusCode, 400, response.body);
  assert.equal(response.json().error.message, 'Invalid request body');
});
