import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** One service of docker-compose.yml, after interpolation. */
export interface ComposeService {
  name: string;
  image?: string;
  /** Built from this repository's Dockerfile: a stowage role, run natively. */
  stowage: boolean;
  command: string[];
  entrypoint: string[];
  environment: Record<string, string>;
  replicas: number;
}

/**
 * Reads the compose file as `docker compose config` would: YAML merge keys, then `$VAR`,
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}` and `$$` from `variables`
 * (the shell environment plus .env).
 */
export function loadCompose(file: URL, variables: Record<string, string>): ComposeService[] {
  const document = parse(readFileSync(file, 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };
  const interpolated = interpolate(document, variables) as typeof document;
  return Object.entries(interpolated.services).map(([name, service]) => ({
    name,
    ...(typeof service.image === 'string' ? { image: service.image } : {}),
    stowage: service.build !== undefined,
    command: asList(service.command),
    entrypoint: asList(service.entrypoint),
    environment: asEnvironment(service.environment),
    replicas: Number((service.deploy as { replicas?: number } | undefined)?.replicas ?? 1),
  }));
}

function interpolate(value: unknown, variables: Record<string, string>): unknown {
  if (typeof value === 'string') return interpolateText(value, variables);
  if (Array.isArray(value)) return value.map((item) => interpolate(item, variables));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, variables)]),
    );
  }
  return value;
}

const reference =
  /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

export function interpolateText(text: string, variables: Record<string, string>): string {
  return text.replace(
    reference,
    (match, braced?: string, operator?: string, operand?: string, bare?: string) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare)!;
      const value = variables[name];
      const unset = operator?.startsWith(':') ? !value : value === undefined;
      if (operator?.endsWith('-') && unset) return interpolateText(operand ?? '', variables);
      if (operator?.endsWith('?') && unset) {
        throw new Error(`compose: required variable ${name} is missing: ${operand ?? ''}`);
      }
      return value ?? '';
    },
  );
}

function asList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a compose value here is a scalar
  return String(value).split(/\s+/).filter(Boolean);
}

function asEnvironment(value: unknown): Record<string, string> {
  if (!value) return {};
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((entry) => {
        const [key, ...rest] = String(entry).split('=');
        return [key!, rest.join('=')];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, item]) => [
      key,
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- environment values are scalars
      String(item ?? ''),
    ]),
  );
}
