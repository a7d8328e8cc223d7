/**
 * Instance names appear in URLs, in event stream names (`instance-s3-<name>`) and on command
 * lines, so they are kept to characters that need no escaping in any of them. Account names
 * follow the same rule.
 */
export const instanceNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function isInstanceName(name: string): boolean {
  return instanceNamePattern.test(name);
}
