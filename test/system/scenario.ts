import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Kafka, Producer } from 'kafkajs';
import type { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import type { MediaServer } from '../support/media-server.ts';
import type { RoleProcess } from './processes.ts';
import {
  instanceKind,
  makeMessages,
  send,
  type SentMessage,
  type SystemInstance,
} from './workload.ts';

const testServices = new URL('../../scripts/test-services.sh', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ScenarioDeps {
  processes: RoleProcess[];
  access: PostgresAccessStore;
  kafka: Kafka;
  topics: { requested: string };
  media: MediaServer;
  canary: string;
  bucket: string;
  s3: { endpoint: string; accessKey: string; secretKey: string };
}

/** 200 instances configured over HTTP, 5,000 messages, and the faults in between. */
export class Scenario {
  readonly instances: SystemInstance[] = [];
  readonly sent: SentMessage[] = [];
  readonly faults: string[] = [];
  /** Every HTTP answer body, for the canary check. */
  readonly responses: string[] = [];
  configRequests = 0;
  /** Seconds at which each phase ended, from the scenario's start. */
  readonly phases: string[] = [];
  private readonly started = Date.now();

  mark(phase: string): void {
    this.phases.push(`${phase} ${((Date.now() - this.started) / 1000).toFixed(0)}s`);
  }
  private producer: Producer | undefined;

  constructor(private readonly deps: ScenarioDeps) {}

  private role(name: string): RoleProcess {
    return this.deps.processes.find((role) => role.name === name)!;
  }

  prefixOf(instance: SystemInstance): string {
    return `system/${instance.name}/${instance.kind === 'reconfigured' ? 'v2/' : ''}`;
  }

  private async post(index: number, path: string, body?: unknown) {
    const instance = this.instances[index]!;
    const api = this.role(`api-${(index % 2) + 1}`);
    const response = await fetch(`${api.url}/api/instance/s3/${instance.name}${path}`, {
      method: 'POST',
      headers: { token: instance.token, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    this.responses.push(text);
    return { status: response.status, text };
  }

  private async configure(index: number, body: Record<string, unknown>): Promise<void> {
    this.configRequests += 1;
    const { status, text } = await this.post(index, '', body);
    if (status !== 200)
      throw new Error(`configuring ${this.instances[index]!.name}: ${status} ${text}`);
  }

  private settings(instance: SystemInstance, prefix: string) {
    const { s3, bucket, canary } = this.deps;
    return {
      enabled: true,
      region: 'us-east-1',
      bucket,
      accessKey: s3.accessKey,
      secretKey: instance.kind === 'wrongCredentials' ? canary : s3.secretKey,
      endpoint: s3.endpoint,
      pathPrefix: prefix,
    };
  }

  async run(): Promise<void> {
    await this.deps.access.createAccount('system');
    for (let index = 0; index < 200; index += 1) {
      const name = `system-${index}`;
      const { instanceToken } = await this.deps.access.createInstance('system', name);
      this.instances.push({ name, token: instanceToken, kind: instanceKind(index) });
    }
    for (const [index, instance] of this.instances.entries()) {
      await this.configure(index, this.settings(instance, `system/${instance.name}/`));
    }
    this.mark('configured');
    this.producer = this.deps.kafka.producer();
    await this.producer.connect();
    const batch = async (count: number, bigOnes = 0) => {
      const messages = makeMessages(
        this.instances,
        count,
        this.deps.media.url,
        bigOnes,
        this.sent.length,
      );
      this.sent.push(...(await send(this.producer!, this.deps.topics.requested, messages)));
    };

    await batch(1500, 2);
    await sleep(5_000);
    await this.role('worker-1').restart('SIGKILL');
    this.faults.push('SIGKILL worker-1, restarted');
    await batch(1000);
    await this.role('projector-1').stop('SIGKILL');
    this.faults.push('SIGKILL projector-1 (active; projector-2 takes over)');
    for (const [index, instance] of this.instances.entries()) {
      if (instance.kind === 'reconfigured')
        await this.configure(index, this.settings(instance, this.prefixOf(instance)));
      if (instance.kind === 'disabled') {
        await this.configure(index, { enabled: false });
        instance.disabledAt = Date.now();
      }
    }
    await this.role('api-1').restart('SIGTERM');
    this.faults.push('restarted api-1');
    await batch(1500, 1);
    await promisify(execFile)(testServices, ['stop-s3']);
    await sleep(20_000);
    await promisify(execFile)(testServices, ['start-s3']);
    this.faults.push('S3 server stopped for 20 s');
    await batch(1000);
    this.mark('all sent');
  }

  /** Problems with `…/test` of stored credentials: a good instance passes, a wrong one fails. */
  async testStoredCredentials(): Promise<string[]> {
    const problems: string[] = [];
    const good = this.instances.findIndex((instance) => instance.kind === 'good');
    const bad = this.instances.findIndex((instance) => instance.kind === 'wrongCredentials');
    for (const [index, expected] of [
      [good, true],
      [bad, false],
    ] as const) {
      const { status, text } = await this.post(index, '/test');
      if (status !== 200) problems.push(`${this.instances[index]!.name}: ${status} ${text}`);
      else if ((JSON.parse(text) as { ok: boolean }).ok !== expected)
        problems.push(`${this.instances[index]!.name}: ok should be ${expected}`);
    }
    return problems;
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
  }
}
