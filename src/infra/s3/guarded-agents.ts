import { lookup as lookupAll, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import { addressProblem, type EndpointPolicy } from '../../domain/s3-settings-rules.ts';

/** A connection the SSRF guard refused: the host is, or resolves only to, a forbidden address. */
export class RefusedAddressError extends Error {
  readonly code = 'ESTOWAGEREFUSED';

  constructor(
    readonly host: string,
    readonly problem: string,
  ) {
    super(`connection to ${host} refused: the address ${problem}`);
  }
}

/**
 * HTTP(S) agents for connections to addresses a customer chose (their S3 endpoint, their media
 * URL). The address is judged when connecting, after DNS: a name that passed validation can be
 * re-pointed at the metadata service later, or resolve to it from the start.
 */
export interface GuardedAgents {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
  destroy(): void;
}

export function createGuardedAgents(policy: EndpointPolicy): GuardedAgents {
  const lookup = guardedLookup(policy);
  const options = { keepAlive: true, maxSockets: 64, lookup };
  const httpAgent = refuseLiteralAddresses(new http.Agent(options), policy);
  const httpsAgent = refuseLiteralAddresses(new https.Agent(options), policy);
  return {
    httpAgent,
    httpsAgent,
    destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * Literal IP addresses never reach the agent's `lookup` (net.connect skips DNS for them), so they
 * are judged where the agent opens its sockets.
 */
function refuseLiteralAddresses<A extends http.Agent>(agent: A, policy: EndpointPolicy): A {
  const open = agent.createConnection.bind(agent);
  agent.createConnection = (
    request: http.ClientRequestArgs,
    callback?: (error: Error | null, socket: Duplex) => void,
  ) => {
    const refused = literalAddressRefusal(request.host ?? request.hostname, policy);
    if (refused) return refuse(refused, callback);
    return open(request, callback);
  };
  return agent;
}

/** A DNS lookup that answers only with addresses the policy allows. */
export function guardedLookup(policy: EndpointPolicy): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    lookupAll(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '');
      const allowed = addresses.filter(({ address }) => !addressProblem(address, policy));
      if (allowed.length === 0) {
        const problem = addresses[0] ? addressProblem(addresses[0].address, policy) : undefined;
        return callback(new RefusedAddressError(hostname, problem ?? 'resolves to no address'), '');
      }
      if (options.all) return callback(null, allowed);
      const [first] = allowed as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
}

function literalAddressRefusal(
  host: string | null | undefined,
  policy: EndpointPolicy,
): RefusedAddressError | undefined {
  const address = (host ?? '').replace(/^\[|\]$/g, '');
  if (!isIP(address)) return undefined;
  const problem = addressProblem(address, policy);
  return problem ? new RefusedAddressError(address, problem) : undefined;
}

function refuse(
  error: RefusedAddressError,
  callback: ((error: Error | null, socket: Duplex) => void) | undefined,
): undefined {
  // The agent reports a socket it never got through the request's 'error' event.
  callback?.(error, undefined as unknown as Duplex);
  return undefined;
}
