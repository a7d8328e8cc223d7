import { z } from 'zod';
import { connectionStringProblem } from './infra/event-store/eventstoredb-connection-string.ts';
import { StowageError } from './shared/errors.ts';
import { isReadable } from './shared/readable-file.ts';

const booleanFlag = z.enum(['true', 'false']).transform((value) => value === 'true');
// Decimal digits only (Number() would also take ' ', '0x1F90' and '1e3'), and few enough of
// them to stay exact.
const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d{1,15}$/, 'expected a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().min(min).max(max));
// What a Node timer can wait: a longer one fires after 1 ms instead.
const timerMs = (min: number, max = 2_147_483_647) => wholeNumber(min, max);

const hostPort = /^[A-Za-z0-9.-]+:\d{1,5}$/;

// Kafka's own rule for topic names.
const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name (letters, digits, . _ -)');

const postgresUrl = z
  .string()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'expected a postgres:// URL')
  .refine((value) => {
    // A Unix socket is named by ?host=/path, which URL does not parse with credentials.
    if (/[?&]host=/.test(value)) return true;
    try {
      return new URL(value).hostname !== '';
    } catch {
      return false;
    }
  }, 'expected a postgres:// URL with a host and a valid port');

const readableFile = z.string().refine(isReadable, 'expected a file this process can read');

const sealingKey = z
  .string()
  .refine(
    (value) => /^[A-Za-z0-9_-]{43}$/.test(value),
    'expected 32 bytes as unpadded base64url (see `stowage keys generate`)',
  );

export const roleNames = ['api', 'projector', 'worker'] as const;
export type Role = (typeof roleNames)[number];

const settingsSchema = z
  .object({
    PORT: wholeNumber(0, 65535).default(8080),
    HOST: z.string().min(1).default('0.0.0.0'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    STOWAGE_DATA_DIR: z.string().min(1).default('.data'),
    STOWAGE_EMBEDDED_PG_PORT: wholeNumber(1, 65535).default(54329),
    DATABASE_URL: postgresUrl.optional(),
    DATABASE_POOL_SIZE: wholeNumber(1, 500).default(20),
    // Exactly what the EventStoreDB client accepts (kurrentdb:// translated to esdb://).
    EVENTSTORE_URL: z
      .string()
      .superRefine((value, context) => {
        const problem = connectionStringProblem(value);
        if (problem)
          context.addIssue({ code: 'custom', message: `expected an esdb:// URL: ${problem}` });
      })
      .optional(),
    KAFKA_BROKERS: z
      .string()
      .transform((value) => value.split(',').map((broker) => broker.trim()))
      .refine(
        (brokers) => brokers.every((broker) => hostPort.test(broker)),
        'expected host:port[,host:port...]',
      )
      .optional(),
    // What managed brokers ask for: SASL (PLAIN, or SCRAM whose password never crosses the wire)
    // with the user's name and password, over TLS whose certificates are checked against the
    // system's authorities or those in KAFKA_TLS_CA_FILE (PEM).
    KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    KAFKA_SASL_USERNAME: z.string().optional(),
    KAFKA_SASL_PASSWORD: z.string().optional(),
    KAFKA_TLS: booleanFlag.default(false),
    KAFKA_TLS_CA_FILE: readableFile.optional(),
    REDIS_URL: z
      .string()
      .refine((value) => /^rediss?:\/\//.test(value), 'expected a redis:// URL')
      .optional(),
    STOWAGE_SEAL_PUBLIC_KEY: sealingKey.optional(),
    STOWAGE_SEAL_SECRET_KEY: sealingKey.optional(),
    // Secret halves of retired master keys, comma-separated: held by workers (and `stowage keys
    // rotate`) until no instance key is sealed to them any more (`stowage keys status`).
    STOWAGE_SEAL_RETIRED_SECRET_KEYS: z
      .string()
      .transform((value) => value.split(',').map((key) => key.trim()))
      .pipe(z.array(sealingKey))
      .optional(),
    STOWAGE_ROLES: z
      .string()
      .transform((value) => value.split(',').map((role) => role.trim()))
      .pipe(z.array(z.enum(roleNames)).min(1))
      .optional(),
    STOWAGE_ALLOW_PRIVATE_ENDPOINTS: booleanFlag.default(false),
    STOWAGE_RATE_LIMIT_PER_MINUTE: wholeNumber(1).default(100),
    STOWAGE_TOPIC_UPLOAD_REQUESTED: topicName.default('media.upload.requested'),
    STOWAGE_TOPIC_UPLOAD_COMPLETED: topicName.default('media.upload.completed'),
    STOWAGE_TOPIC_UPLOAD_FAILED: topicName.default('media.upload.failed'),
    // How the worker (and `stowage topics ensure`) creates missing topics; existing topics keep
    // theirs, with a warning when their max.message.bytes or retention differs.
    STOWAGE_TOPIC_PARTITIONS: wholeNumber(1, 10_000).default(6),
    // 1 suits a single broker; production clusters set 3.
    STOWAGE_TOPIC_REPLICATION_FACTOR: wholeNumber(1, 32).default(1),
    // How long an invalid request stays readable: its failed outcome names its offset.
    STOWAGE_TOPIC_RETENTION_MS: wholeNumber(60_000).default(604_800_000),
    // The largest request the worker accepts (larger ones end as `message-too-large`), and the
    // limit of the outcome topics, whose messages are bounded far below it.
    STOWAGE_TOPIC_MAX_MESSAGE_BYTES: wholeNumber(64 * 1024, 64 * 1024 * 1024).default(1024 * 1024),
    STOWAGE_CONSUMER_GROUP: z.string().min(1).max(249).default('stowage-media-upload'),
    // How soon a worker that died is noticed and its partitions go to the others.
    // Brokers refuse more than their group.max.session.timeout.ms, 30 min by default.
    STOWAGE_KAFKA_SESSION_TIMEOUT_MS: timerMs(6_000, 1_800_000).default(30_000),
    // Messages worked on at once by one worker process (one instance's always one after the other);
    // each streamed upload holds an 8 MiB part buffer, kept for the next one.
    STOWAGE_UPLOAD_CONCURRENCY: wholeNumber(1, 256).default(8),
    // SigV4 presigned URLs cannot live longer than 7 days.
    STOWAGE_PRESIGN_TTL_SECONDS: wholeNumber(1, 604_800).default(604_800),
    // How long one message keeps being retried after its first transient failure.
    STOWAGE_UPLOAD_RETRY_MAX_MS: timerMs(0).default(300_000),
    // The longest single wait between two attempts.
    STOWAGE_UPLOAD_RETRY_DELAY_MAX_MS: timerMs(1).default(30_000),
    // Connecting to and waiting on a silent S3 server or media source count as transient failures.
    STOWAGE_UPLOAD_SOCKET_TIMEOUT_MS: timerMs(1).default(30_000),
    // A media URL must be read completely within this (10 min: 2 GiB needs ~3.6 MB/s), and hold at
    // most this many bytes (2 GiB: WhatsApp's own largest file); beyond either it fails for good.
    STOWAGE_MEDIA_DOWNLOAD_TIMEOUT_MS: timerMs(1).default(600_000),
    STOWAGE_MEDIA_MAX_BYTES: wholeNumber(1).default(2 * 1024 ** 3),
    STOWAGE_SHUTDOWN_TIMEOUT_MS: timerMs(1).default(10_000),
  })
  .superRefine((settings, context) => {
    const sasl = settings.KAFKA_SASL_MECHANISM;
    for (const variable of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const) {
      if (sasl && settings[variable] === undefined) {
        context.addIssue({
          code: 'custom',
          path: [variable],
          message: `needed with KAFKA_SASL_MECHANISM=${sasl}`,
        });
      }
      if (!sasl && settings[variable] !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['KAFKA_SASL_MECHANISM'],
          message: `expected plain, scram-sha-256 or scram-sha-512, since ${variable} is set`,
        });
      }
    }
    if (settings.KAFKA_TLS_CA_FILE && !settings.KAFKA_TLS) {
      context.addIssue({
        code: 'custom',
        path: ['KAFKA_TLS_CA_FILE'],
        message: 'is used only with KAFKA_TLS=true',
      });
    }
  })
  // A failed outcome published to the requests' topic would be consumed again as a request,
  // for ever; a completed and a failed outcome on one topic could not be told apart by it.
  .refine(
    (settings) =>
      new Set([
        settings.STOWAGE_TOPIC_UPLOAD_REQUESTED,
        settings.STOWAGE_TOPIC_UPLOAD_COMPLETED,
        settings.STOWAGE_TOPIC_UPLOAD_FAILED,
      ]).size === 3,
    {
      message: 'the requested, completed and failed topics must be three different topics',
      path: ['STOWAGE_TOPIC_UPLOAD_FAILED'],
    },
  );

export type Settings = z.output<typeof settingsSchema>;

/** A setting that cannot be used; its message is one line that names the variable. */
export class SettingsError extends StowageError {
  constructor(message: string) {
    super('invalid-setting', message);
  }
}

// Values of these variables must never be echoed back, not even when they are wrong.
const secretVariables = new Set([
  'STOWAGE_SEAL_SECRET_KEY',
  'STOWAGE_SEAL_RETIRED_SECRET_KEYS',
  'DATABASE_URL',
  'REDIS_URL',
  'EVENTSTORE_URL',
  'KAFKA_SASL_PASSWORD',
]);

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  // An empty (or blank) variable means "not set", as it does in docker-compose files and shell
  // exports.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = settingsSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const variable = String(issue.path[0]);
  const shown =
    secretVariables.has(variable) || present[variable] === undefined
      ? ''
      : ` (got ${JSON.stringify(present[variable])})`;
  throw new SettingsError(`invalid setting ${variable}: ${issue.message}${shown}`);
}
