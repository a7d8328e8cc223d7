#!/usr/bin/env node
// Runs the compiled service from dist/ (`npm run build`; `npm ci` builds it through `prepare`).
let cli;
try {
  cli = await import('../dist/cli/cli.js');
} catch (error) {
  if (
    error?.code !== 'ERR_MODULE_NOT_FOUND' ||
    !String(error.message).includes('dist/cli/cli.js')
  ) {
    throw error;
  }
  process.stderr.write('stowage: dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}
// Exit explicitly: a client library's lingering timer must not keep a stopped service alive.
process.exit(await cli.main(process.argv.slice(2)));
