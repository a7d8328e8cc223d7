import { randomUUID } from 'node:crypto';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { generateKeypair } from '../../src/infra/sealing.ts';
import { startTestApi, type TestApi } from './api.ts';
import { freshRead } from './fresh-read.ts';

export interface S3Body {
  enabled: boolean;
  region?: string;
  bucket?: string;
  accessKey?: string;
  secretKey?: string;
  endpoint?: string;
  pathPrefix?: string;
  publicBaseUrl?: string;
}

/**
 * The API and projector as `stowage serve` runs them, configured the way users do: POST
 * /api/instance/s3/:instance with a token, then reading it back once the projection has it.
 */
export class ConfiguredService {
  private constructor(
    readonly api: TestApi,
    /** The master key's secret half, which the worker needs to open the sealed secrets. */
    readonly sealSecretKey: string,
    private readonly account: string,
    private readonly accountToken: string,
  ) {}

  static async start(): Promise<ConfiguredService> {
    const keys = keypairToJson(generateKeypair());
    const api = await startTestApi(
      { STOWAGE_SEAL_PUBLIC_KEY: keys.publicKey, STOWAGE_ALLOW_PRIVATE_ENDPOINTS: 'true' },
      ['api', 'projector'],
    );
    const account = `acct-${randomUUID().slice(0, 8)}`;
    const { accountToken } = await api.access.createAccount(account);
    return new ConfiguredService(api, keys.privateKey, account, accountToken);
  }

  async createInstance(): Promise<string> {
    const instance = `inst-${randomUUID().slice(0, 8)}`;
    await this.api.access.createInstance(this.account, instance);
    return instance;
  }

  /** POSTs the configuration and waits until the read model shows it. */
  async configure(instance: string, body: S3Body): Promise<void> {
    const posted = await this.api.service.app.inject({
      method: 'POST',
      url: `/api/instance/s3/${instance}`,
      headers: { token: this.accountToken, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    if (posted.statusCode !== 200)
      throw new Error(`POST answered ${posted.statusCode}: ${posted.body}`);
    const position = String(posted.headers['x-stowage-position'] ?? '');
    if (!position) return;
    const read = await freshRead(
      () =>
        this.api.service.app.inject({
          method: 'GET',
          url: `/api/instance/s3/${instance}?minPosition=${position}`,
          headers: { token: this.accountToken },
        }),
      (answer) => answer.headers['x-stowage-stale'] !== undefined,
    );
    if (read.headers['x-stowage-stale']) throw new Error('the projection did not catch up');
  }

  /** GET /api/instance/s3/:instance as a user reads it. */
  async read(instance: string) {
    const response = await this.api.service.app.inject({
      method: 'GET',
      url: `/api/instance/s3/${instance}`,
      headers: { token: this.accountToken },
    });
    if (response.statusCode !== 200) {
      throw new Error(`GET answered ${response.statusCode}: ${response.body}`);
    }
    return response.json().s3 as {
      enabled: boolean;
      uploadStatus: {
        lastUploadAt: string | null;
        lastError: { at: string; reason: string } | null;
      } | null;
    };
  }

  /** POST /api/instance/s3/:instance/test; without a body it tests the stored credentials. */
  testCredentials(instance: string, body?: unknown) {
    return this.api.service.app.inject({
      method: 'POST',
      url: `/api/instance/s3/${instance}/test`,
      headers: {
        token: this.accountToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  }

  close(): Promise<void> {
    return this.api.close();
  }
}
