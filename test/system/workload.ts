import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { patternSha256 } from '../support/media-server.ts';

export type InstanceKind = 'good' | 'wrongCredentials' | 'reconfigured' | 'disabled';

export interface SystemInstance {
  name: string;
  token: string;
  kind: InstanceKind;
  /** Set once its disable was answered. */
  disabledAt?: number;
}

/** 140 good, 20 with wrong credentials, 20 re-configured and 20 disabled mid-run. */
export function instanceKind(index: number): InstanceKind {
  if (index < 140) return 'good';
  if (index < 160) return 'wrongCredentials';
  if (index < 180) return 'reconfigured';
  return 'disabled';
}

export interface SentMessage {
  id: string;
  instance: string;
  size: number;
  sha256: string;
}

const big = 64 * 1024 * 1024;

/**
 * `count` upload requests round the instances: small base64 bodies, small URLs, and `bigOnes`
 * 64 MiB URLs (to good instances only).
 */
export function makeMessages(
  instances: SystemInstance[],
  count: number,
  mediaUrl: (path: string) => string,
  bigOnes: number,
  offset: number,
) {
  const good = instances.filter((instance) => instance.kind === 'good');
  return Array.from({ length: count }, (_, n) => {
    const index = offset + n;
    const id = randomUUID();
    if (n < bigOnes) {
      const instance = good[index % good.length]!.name;
      const sent = { id, instance, size: big, sha256: patternSha256(big) };
      return {
        sent,
        value: {
          id,
          instance,
          contentType: 'video/mp4',
          source: { url: mediaUrl(`/bytes/${big}`) },
        },
      };
    }
    const instance = instances[index % instances.length]!.name;
    if (index % 3 === 0) {
      const size = 1_000 + ((index * 7919) % 200_000);
      const sent = { id, instance, size, sha256: patternSha256(size) };
      return {
        sent,
        value: {
          id,
          instance,
          contentType: 'image/jpeg',
          source: { url: mediaUrl(`/bytes/${size}`) },
        },
      };
    }
    const bytes = randomBytes(500 + ((index * 104_729) % 20_000));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const sent = { id, instance, size: bytes.length, sha256 };
    return {
      sent,
      value: {
        id,
        instance,
        contentType: 'image/png',
        source: { base64: bytes.toString('base64') },
      },
    };
  });
}

export async function send(
  producer: Producer,
  topic: string,
  messages: ReturnType<typeof makeMessages>,
): Promise<SentMessage[]> {
  for (let start = 0; start < messages.length; start += 200) {
    await producer.send({
      topic,
      messages: messages
        .slice(start, start + 200)
        .map(({ value }) => ({ key: value.instance, value: JSON.stringify(value) })),
    });
  }
  return messages.map(({ sent }) => sent);
}
