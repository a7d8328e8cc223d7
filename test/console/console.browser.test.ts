import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Kafka, Producer } from 'kafkajs';
import type { S3Client } from '@aws-sdk/client-s3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { kafkaBrokers, s3TestServer } from '../support/services.ts';
import { createTestBucket, removeTestBucket, testS3Client } from '../support/buckets.ts';
import { deleteTopics, sendRequests, uniqueWorkerNames, workerEnv } from '../support/kafka.ts';
import { startStowage, type StowageProcess } from '../support/stowage-process.ts';

await initSealing();

const chromiumPath = '/usr/bin/chromium';
const screenshots = fileURLToPath(new URL('../../.test-output/console/', import.meta.url));
// Values a contract field accepts that would run if the page ever rendered them as HTML.
const markup = {
  accessKey: '<img/src=x/onerror=window.__pwned=1>',
  pathPrefix: '<img src=x onerror=window.__pwned=1> <script>window.__pwned=1</script>',
};

describe('the console in a real browser, against stowage processes, Kafka and S3', () => {
  const names = uniqueWorkerNames();
  const logger = createLogger('error');
  let database: TestDatabase;
  let api: StowageProcess;
  let worker: StowageProcess;
  let kafka: Kafka;
  let producer: Producer;
  let s3: S3Client;
  let bucket: string;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let accountToken: string;
  let instanceToken: string;
  const problems: string[] = [];

  before(async () => {
    if (!existsSync(chromiumPath)) {
      throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (.ci/run does)`);
    }
    database = await createTestDatabase();
    const access = new PostgresAccessStore({
      pool: database.pool,
      connect: database.connect,
      logger,
    });
    accountToken = (await access.createAccount('acme')).accountToken;
    await access.createInstance('acme', 'shop-main');
    instanceToken = (await access.createInstance('acme', 'shop-markup')).instanceToken;
    await access.close();
    s3 = testS3Client();
    bucket = await createTestBucket(s3);

    const keys = keypairToJson(generateKeypair());
    const common = {
      DATABASE_URL: database.url,
      STOWAGE_SEAL_PUBLIC_KEY: keys.publicKey,
      STOWAGE_ALLOW_PRIVATE_ENDPOINTS: 'true',
      LOG_LEVEL: 'info',
    };
    // As deployed: the API never holds the secret key; only the worker opens secrets.
    api = await startStowage({
      args: ['serve', '--roles', 'api,projector'],
      env: common,
      waitFor: 'live',
    });
    worker = await startStowage({
      args: ['serve', '--roles', 'worker'],
      env: { ...common, ...workerEnv(names), STOWAGE_SEAL_SECRET_KEY: keys.privateKey },
      waitFor: 'live',
    });
    kafka = createKafka(kafkaBrokers(), 'stowage-console-test', logger);
    producer = kafka.producer();
    await producer.connect();

    await mkdir(screenshots, { recursive: true });
    profile = await mkdtemp(join(tmpdir(), 'stowage-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    // Anything the page's markup payloads could trigger: a CSP violation, a script error.
    await page.addInitScript(
      "document.addEventListener('securitypolicyviolation', (event) => console.error('CSP violation: ' + event.violatedDirective));",
    );
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });

  after(async () => {
    await browser?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await producer?.disconnect();
    await worker?.stop();
    await api?.stop();
    // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
    if (kafka) await deleteTopics(kafka, names).catch(() => {});
    if (bucket) await removeTestBucket(s3, bucket);
    await database?.drop();
  });

  const server = () => s3TestServer();
  const shoot = async (name: string) => {
    await page.screenshot({ path: join(screenshots, `${name}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 360, height: 780 });
    await page.screenshot({ path: join(screenshots, `${name}-360.png`), fullPage: true });
    // Readable on a phone: nothing wider than the screen.
    assert.ok(
      Number(await page.evaluate('document.documentElement.scrollWidth')) <= 360,
      `${name} scrolls sideways at 360 px`,
    );
    await page.setViewportSize({ width: 1280, height: 900 });
  };
  const fill = async (settings: Record<string, string>) => {
    for (const [field, value] of Object.entries(settings)) await page.fill(`#f-${field}`, value);
  };
  const goodSettings = () => ({
    region: server().region,
    bucket,
    accessKey: server().accessKeyId,
    secretKey: server().secretAccessKey,
    endpoint: server().endpoint,
    pathPrefix: 'media/console/',
  });
  const save = async (expected: string) => {
    await page.click('#save');
    await page.locator('#config-status', { hasText: expected }).waitFor();
  };

  test('signing in keeps the token in sessionStorage only; a wrong token is refused', async () => {
    await page.goto(`${api.url}/console`);
    await page.locator('#sign-in-view').waitFor();
    await shoot('sign-in');
    await page.fill('#token', 'not-a-token');
    await page.press('#token', 'Enter');
    await page.locator('#sign-in-error', { hasText: 'Invalid token' }).waitFor();

    await page.fill('#token', accountToken);
    await page.press('#token', 'Enter');
    await page.locator('#instance-rows tr', { hasText: 'shop-markup' }).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('stowage.token')"), accountToken);
    assert.equal(await page.evaluate('document.cookie'), '');
    assert.ok(!page.url().includes(accountToken));
    assert.equal(await page.locator('#instance-rows tr').count(), 2);
  });

  test('the contract’s validation errors appear next to their fields', async () => {
    // By keyboard: the instance names are links in tab order.
    await page.focus('#instance-rows a >> nth=0');
    await page.keyboard.press('Enter');
    await page.locator('#instance-state', { hasText: 'Storage disabled' }).waitFor();
    assert.equal(await page.textContent('#instance-name'), 'shop-main');
    await page.check('#f-enabled');
    await fill({ ...goodSettings(), region: 'US East', bucket: 'No_Such..Bucket' });
    await page.click('#save');
    await page.locator('#e-region', { hasText: 'must look like a region' }).waitFor();
    assert.notEqual(await page.textContent('#e-bucket'), '');
    assert.equal(await page.textContent('#e-accessKey'), '');
    assert.match(String(await page.textContent('#config-status')), /Invalid request body/);
  });

  test('configuring against the test S3 server, then testing good and bad credentials', async () => {
    await fill(goodSettings());
    await save('Saved.');
    await page.locator('#instance-state', { hasText: 'Storage enabled' }).waitFor();
    assert.equal(await page.inputValue('#f-secretKey'), '');
    assert.equal(await page.getAttribute('#f-secretKey', 'placeholder'), 'unchanged');

    // With the secret typed, the form's settings are tested (the API role cannot open the
    // stored secret: it holds only the public key).
    await page.fill('#f-secretKey', 'wrong-secret-key');
    await page.click('#test-button');
    await page
      .locator('#test-summary', { hasText: 'The settings in the form do not work' })
      .waitFor();
    assert.deepEqual(await page.locator('#test-steps .step-state').allTextContents(), [
      'failed',
      'skipped',
      'skipped',
    ]);
    await page.fill('#f-secretKey', server().secretAccessKey);
    await page.click('#test-button');
    await page.locator('#test-summary', { hasText: 'The settings in the form work' }).waitFor();
    assert.deepEqual(await page.locator('#test-steps .step-state').allTextContents(), [
      'passed',
      'passed',
      'passed',
    ]);

    await page.fill('#f-secretKey', '');
  });

  test('an upload outcome appears after a media message', async () => {
    await sendRequests(producer, names.requested, [
      {
        id: randomUUID(),
        instance: 'shop-main',
        fileName: 'photo.jpg',
        contentType: 'image/jpeg',
        source: { base64: Buffer.from('jpeg bytes').toString('base64') },
      },
    ]);
    const deadline = Date.now() + 60_000;
    while (!(await page.locator('#recent-uploads .outcome.completed').count())) {
      assert.ok(Date.now() < deadline, `no outcome appeared; worker log: ${worker.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await page.click('#uploads-refresh');
    }
    assert.match(String(await page.textContent('#recent-uploads')), /media\/console\/.*\.jpg/);
    assert.match(String(await page.textContent('#uploads-summary')), /^1 completed, 0 failed/);
    assert.equal(
      await page.locator('#uploads-chart rect.bar-ok[height]:not([height="0"])').count(),
      1,
    );
  });

  test('disabling asks first and says the credentials are destroyed; enabling again needs every field', async () => {
    await page.uncheck('#f-enabled');
    await page.click('#save');
    const dialog = page.locator('#confirm-disable');
    await dialog.waitFor();
    assert.match(String(await dialog.textContent()), /destroys the stored credentials/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // The dialog hides before its close event runs the console's answer to it: wait for that.
    await page.locator('#f-enabled:checked').waitFor({ state: 'attached', timeout: 5_000 });
    assert.match(String(await page.textContent('#instance-state')), /Storage enabled/);

    await page.uncheck('#f-enabled');
    await page.click('#save');
    await page.click('#confirm-disable button[value="disable"]');
    await page.locator('#config-status', { hasText: 'credentials were destroyed' }).waitFor();
    await page.locator('#instance-state', { hasText: 'Storage disabled' }).waitFor();

    await page.check('#f-enabled');
    await fill(goodSettings());
    await save('Saved.');
    await page.locator('#instance-state', { hasText: 'Storage enabled' }).waitFor();
  });

  test('the history shows who changed what, old → new, and the secret only as "changed"', async () => {
    const events = page.locator('#history > li.event');
    await events.nth(2).waitFor();
    assert.deepEqual(await page.locator('#history .event-title').allTextContents(), [
      'Enabled',
      'Disabled, credentials destroyed',
      'Enabled',
    ]);
    const newest = String(await events.nth(0).textContent());
    assert.match(newest, /by account token/);
    assert.match(newest, /Secret keychanged/);
    assert.match(newest, new RegExp(`Bucket\\(empty\\)→${bucket}`));
    assert.doesNotMatch(
      String(await page.textContent('#history')),
      new RegExp(server().secretAccessKey),
    );
    await shoot('instance');
  });

  test('markup stored in every free-text field only ever shows as text', async () => {
    await page.goto(`${api.url}/console#/instances/shop-markup`);
    await page.locator('#instance-state', { hasText: 'Storage disabled' }).waitFor();
    assert.equal(await page.textContent('#instance-name'), 'shop-markup');
    await page.check('#f-enabled');
    await fill({ ...goodSettings(), ...markup });
    await save('Saved.');
    await sendRequests(producer, names.requested, [
      {
        id: randomUUID(),
        instance: 'shop-markup',
        contentType: 'text/plain',
        source: { base64: Buffer.from('note').toString('base64') },
      },
    ]);
    await page.fill('#f-secretKey', server().secretAccessKey);
    await page.click('#test-button');
    await page.locator('#test-steps .step.failed').first().waitFor();
    const deadline = Date.now() + 60_000;
    while (!(await page.locator('#recent-uploads .outcome.failed').count())) {
      assert.ok(Date.now() < deadline, `no failed outcome appeared; worker log: ${worker.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await page.click('#uploads-refresh');
    }
    // Shown, as text, where the page shows them: the form and the history timeline.
    assert.equal(await page.inputValue('#f-accessKey'), markup.accessKey);
    assert.ok(await page.locator('#history .change-new', { hasText: markup.accessKey }).count());
    assert.ok(await page.locator('#history .change-new', { hasText: '<script>' }).count());
    await page.click('text=← All instances');
    await page.locator('#instance-rows tr', { hasText: 'shop-markup' }).waitFor();
    await shoot('instances');

    assert.equal(await page.evaluate('window.__pwned'), undefined);
    assert.equal(await page.locator('#main img, #main script').count(), 0);
    assert.deepEqual(problems, []);
  });

  test('signing out forgets the token; an instance token opens its one instance', async () => {
    await page.click('#sign-out');
    await page.locator('#sign-in-view').waitFor();
    assert.equal(await page.evaluate('sessionStorage.length'), 0);

    await page.fill('#token', instanceToken);
    await page.press('#token', 'Enter');
    await page.locator('#instance-name', { hasText: 'shop-markup' }).waitFor();
    assert.equal(await page.isVisible('#back'), false);
    await page.click('#sign-out');
    assert.equal(await page.evaluate('sessionStorage.length'), 0);
  });
});
