import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { consoleFolder, consoleRoutes } from '../../src/http/console.ts';

describe('the console’s static files', () => {
  const app = buildApp({ logger: pino({ level: 'silent' }), readiness: [] });
  before(async () => {
    await app.register(consoleRoutes);
  });
  after(() => app.close());

  test('are served with a strict CSP and the framing, referrer and sniffing headers', async () => {
    for (const url of ['/console', '/console/', '/console/app.js', '/console/base.css']) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      const csp = String(response.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(response.headers['x-frame-options'], 'DENY');
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    }
  });

  test('answer each file with its type, and the page has no inline script or style', async () => {
    const page = await app.inject({ method: 'GET', url: '/console' });
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(page.body, /\sstyle=|\son[a-z]+=/);
    const scripts = (await readdir(consoleFolder)).filter((name) => name.endsWith('.js'));
    assert.ok(scripts.length > 0);
    for (const name of scripts) {
      const script = await app.inject({ method: 'GET', url: `/console/${name}` });
      assert.match(String(script.headers['content-type']), /^text\/javascript/, name);
      // Text only: nothing that parses HTML or code out of a string.
      assert.doesNotMatch(
        script.body,
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/,
        name,
      );
    }
  });

  test('refuse anything but their own files, in the error shape', async () => {
    for (const url of [
      '/console/nope.js',
      '/console/..%2Fpackage.json',
      '/console/%2e%2e%2fREADME.md',
    ]) {
      const response = await app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 404, url);
      assert.deepEqual(response.json(), { success: false, error: { message: 'Route not found' } });
    }
  });
});
