import { lookup } from 'node:dns/promises';
import { addressProblem, hostProblem, type AddressPolicy } from './address-policy.ts';

// A resolver that does not answer soon does not hold the request up: the agents judge the
// addresses again when they connect.
const lookupDeadlineMs = 2_000;

/**
 * Why the host of an endpoint URL may not be contacted, resolving it now: a literal address is
 * judged as it is, a name by every address it resolves to (one forbidden address is enough, a
 * name that points into our network is not a customer's server). A name that does not resolve
 * now is not refused here; the guarded agents refuse it later if it comes to point inside.
 */
export async function endpointAddressProblem(
  endpoint: string,
  policy: AddressPolicy,
): Promise<string | undefined> {
  const { hostname } = new URL(endpoint);
  const byHost = hostProblem(hostname, policy);
  if (byHost || hostname.startsWith('[') || /^[\d.]+$/.test(hostname)) return byHost;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<[]>((resolve) => {
    timer = setTimeout(() => resolve([]), lookupDeadlineMs);
  });
  const addresses = await Promise.race([
    lookup(hostname, { all: true, verbatim: true }).catch(() => []),
    deadline,
  ]).finally(() => clearTimeout(timer));
  for (const { address } of addresses) {
    const problem = addressProblem(address, policy);
    if (problem) return problem;
  }
  return undefined;
}
