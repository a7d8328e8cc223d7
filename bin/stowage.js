#!/usr/bin/env node
// The service runs from its TypeScript sources through tsx's loader, so `npm ci` is the whole
// build: there is no compiled output to forget to rebuild.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
// Exit explicitly: a client library's lingering timer must not keep a stopped service alive.
process.exit(await main(process.argv.slice(2)));
