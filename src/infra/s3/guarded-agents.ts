import { lookup as lookupAll, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  addressProblem,
  type AddressCheck,
  type AddressPolicy,
} from '../network/address-policy.ts';
import { StowageError } from '../../shared/errors.ts';

/** A connection the SSRF guard refused: the host is, or resolves only to, a forbidden address. */
export class RefusedAddressError extends StowageError {
  constructor(
    readonly host: string,
    readonly problem: string,
  ) {
    super('ESTOWAGEREFUSED', `connection to ${host} refused: the address ${problem}`);
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

export function createGuardedAgents(policy: AddressPolicy): GuardedAgents {
  return guardedAgentsFor((address) => addressProblem(address, policy));
}

/** Agents that connect only to addresses the check passes. */
export function guardedAgentsFor(check: AddressCheck): GuardedAgents {
  const lookup = guardedLookup(check);
  const options = { keepAlive: true, maxSockets: 64, lookup };
  const httpAgent = refuseLiteralAddresses(new http.Agent(options), check);
  const httpsAgent = refuseLiteralAddresses(new https.Agent(options), check);
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
function refuseLiteralAddresses<A extends http.Agent>(agent: A, check: AddressCheck): A {
  const open = agent.createConnection.bind(agent);
  agent.createConnection = (
    request: http.ClientRequestArgs,
    callback?: (error: Error | null, socket: Duplex) => void,
  ) => {
    const refused = literalAddressRefusal(request.host ?? request.hostname, check);
    if (refused) return refuse(refused, callback);
    return open(request, callback);
  };
  return agent;
}

/** A DNS lookup that answers only with addresses the policy allows. */
export function guardedLookup(check: AddressCheck): LookupFunction {
  return (hostname: string, options: LookupOptions, callback) => {
    lookupAll(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '');
      const allowed = addresses.filter(({ address }) => !check(address));
      if (allowed.length === 0) {
        const problem = addresses[0] ? check(addresses[0].address) : undefined;
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
  check: AddressCheck,
): RefusedAddressError | undefined {
  const address = (host ?? '').replace(/^\[|\]$/g, '');
  if (!isIP(address)) return undefined;
  const problem = check(address);
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
