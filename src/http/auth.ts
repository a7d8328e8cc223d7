import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isInstanceName } from '../domain/instance-name.ts';
import { tokenDigest } from '../infra/access-token.ts';
import { ApiError } from './error-handler.ts';

/** Who a verified token speaks for. `instance` is set for instance tokens only. */
export interface Principal {
  kind: 'account' | 'instance';
  tokenId: string;
  accountId: string;
  instance?: string;
}

/** What the HTTP side needs to know about tokens and instances. */
export interface AccessDirectory {
  /** The principal of a valid, unrevoked token; null for anything else. */
  verifyToken(token: string, digest: string): Promise<Principal | null>;
  instanceExists(accountId: string, instance: string): Promise<boolean>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `authenticate`; null on routes that do not use it. */
    principal: Principal | null;
  }
}

/** A request's token header, with the digest that names it without revealing it. */
export interface PresentedToken {
  token: string;
  digest: string;
}

// By the request's headers object: the rate limiter and the token check both need the digest,
// and a request should pay for one hash.
const presentedTokens = new WeakMap<object, PresentedToken>();

/** The request's token, if it has a non-empty one. */
export function presentedToken(
  request: Pick<FastifyRequest, 'headers'>,
): PresentedToken | undefined {
  const { token } = request.headers;
  if (typeof token !== 'string' || token === '') return undefined;
  let presented = presentedTokens.get(request.headers);
  if (presented?.token !== token) {
    presented = { token, digest: tokenDigest(token) };
    presentedTokens.set(request.headers, presented);
  }
  return presented;
}

/** Gives every request a `principal` slot (null until a route's `authenticate` fills it). */
export const accessControl = fp(
  async (app) => {
    app.decorateRequest('principal', null);
  },
  { name: 'stowage-access-control' },
);

// Declared without fastify's hook types, whose `this` would tie the hooks to one logger and
// type provider; they need no `this`, and so fit any app's `onRequest` and `preValidation`.
export interface InstanceAccessHooks {
  /** Route `onRequest`: runs before the body is read, so a bad token is a 401, never a 400. */
  authenticate: (request: FastifyRequest) => Promise<void>;
  /** Route `preValidation`: the principal may act on `:instance` (401 or 404 otherwise). */
  authorizeInstance: (request: FastifyRequest) => Promise<void>;
}

/**
 * Hooks for routes with an `:instance` parameter. An instance token is good for its own instance
 * only; for any other it is as invalid as a wrong token. An account token reaches the instances
 * of its account, and one that is not (or does not exist) is "not found", so that other
 * accounts' instance names cannot be probed.
 */
export function instanceAccess(directory: AccessDirectory): InstanceAccessHooks {
  return {
    async authenticate(request) {
      // The header's value is passed on, never logged or put into an error.
      const presented = presentedToken(request);
      const principal = presented
        ? await directory.verifyToken(presented.token, presented.digest)
        : null;
      if (!principal) throw new ApiError('invalid-token');
      request.principal = principal;
    },

    async authorizeInstance(request) {
      const principal = authenticatedPrincipal(request);
      const instance = (request.params as { instance?: unknown }).instance;
      if (principal.kind === 'instance') {
        if (principal.instance !== instance) throw new ApiError('invalid-token');
        return;
      }
      const exists =
        typeof instance === 'string' &&
        isInstanceName(instance) &&
        (await directory.instanceExists(principal.accountId, instance));
      if (!exists) throw new ApiError('instance-not-found');
    },
  };
}

/** The principal of a route that runs `authenticate`; reading it anywhere else is a bug. */
export function authenticatedPrincipal(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('the route reads a principal but does not authenticate');
  return request.principal;
}

/**
 * What every API route of a token holder starts with, in one place so that none can forget a
 * part: rate-limited, authenticated before its body is read, failing with its own message.
 */
export function tokenRoute(access: InstanceAccessHooks, failureMessage: string) {
  return {
    config: { failureMessage, rateLimit: true as const },
    onRequest: access.authenticate,
  };
}

/** A token route on `/:instance`: the token must also reach the instance, before validation. */
export function instanceRoute(
  access: InstanceAccessHooks,
  failureMessage: string,
  ...thenBeforeValidation: ((request: FastifyRequest) => Promise<void>)[]
) {
  return {
    ...tokenRoute(access, failureMessage),
    preValidation: [access.authorizeInstance, ...thenBeforeValidation],
  };
}
