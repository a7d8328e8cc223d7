/**
 * The real services the tests run against, as `scripts/test-services.sh env` exports them.
 * A missing one fails the test that needs it, loudly: a skipped service test proves nothing.
 */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: start the test services (npm test does; by hand: scripts/test-services.sh up && eval "$(scripts/test-services.sh env)")`,
    );
  }
  return value;
}

export function kafkaBrokers(): string[] {
  return requiredEnv('KAFKA_BROKERS').split(',');
}

/**
 * The test broker's SASL listeners (a plaintext one and a TLS one with a self-signed certificate)
 * and the user they know, by PLAIN and by SCRAM.
 */
export function kafkaSaslListeners() {
  return {
    plaintext: requiredEnv('KAFKA_TEST_SASL_BROKERS').split(','),
    tls: requiredEnv('KAFKA_TEST_SASL_TLS_BROKERS').split(','),
    caFile: requiredEnv('KAFKA_TEST_TLS_CA_FILE'),
    username: requiredEnv('KAFKA_TEST_SASL_USERNAME'),
    password: requiredEnv('KAFKA_TEST_SASL_PASSWORD'),
  };
}

/** The settings of a worker on the SASL_SSL listener: SCRAM-SHA-512, the broker's CA file. */
export function kafkaSaslTlsSettings(): Record<string, string> {
  const listeners = kafkaSaslListeners();
  return {
    KAFKA_BROKERS: listeners.tls.join(','),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: listeners.username,
    KAFKA_SASL_PASSWORD: listeners.password,
    KAFKA_TLS: 'true',
    KAFKA_TLS_CA_FILE: listeners.caFile,
  };
}

export function s3TestServer() {
  return {
    region: process.env.S3_TEST_REGION ?? 'us-east-1',
    endpoint: requiredEnv('S3_TEST_ENDPOINT'),
    accessKeyId: requiredEnv('S3_TEST_ACCESS_KEY'),
    secretAccessKey: requiredEnv('S3_TEST_SECRET_KEY'),
  };
}
