import { accessSync, constants } from 'node:fs';

/** Whether this process may read the file at `path` (it exists, and its permissions allow it). */
export function isReadable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
