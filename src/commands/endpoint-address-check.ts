import type { FastifyRequest } from 'fastify';
import { ApiError } from '../http/error-handler.ts';
import type { AddressPolicy } from '../infra/network/address-policy.ts';
import { endpointAddressProblem } from '../infra/network/endpoint-addresses.ts';

/**
 * Route `preHandler` (after the body passed its schema): an endpoint whose name resolves into our
 * own network is a 400 like a literal one, before anything is stored or contacted.
 */
export function refuseForbiddenEndpoint(policy: AddressPolicy) {
  return async (request: FastifyRequest): Promise<void> => {
    const endpoint = (request.body as { endpoint?: unknown } | null | undefined)?.endpoint;
    if (typeof endpoint !== 'string' || endpoint === '') return;
    const problem = await endpointAddressProblem(endpoint, policy);
    if (problem) {
      throw new ApiError('invalid-request-body', [{ field: 'endpoint', message: problem }]);
    }
  };
}
