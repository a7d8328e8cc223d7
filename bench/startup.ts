// Start-to-ready time and idle resident memory of each role, started as a deployment starts it:
// `node bin/stowage.js serve --roles <role>` against the real test services.
//
//   node --import tsx bench/startup.ts [--bin bin/stowage.js ...] [--node /path/to/node]
//                                      [--runs 5] [--idle-seconds 5]
//
// Several --bin (another checkout's bin/stowage.js: the "before") are measured in turns, run by
// run, so that a change in the machine's load falls on each alike. Any warning a role prints
// (they run with --trace-deprecation) is listed after the table.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { keypairToJson } from '../src/infra/master-keys.ts';
import { generateKeypair, initSealing } from '../src/infra/sealing.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { kafkaBrokers } from '../test/support/services.ts';
import { startStowage } from '../test/support/stowage-process.ts';
import { printYardstick } from './support/yardstick.ts';

await initSealing();

const { values } = parseArgs({
  options: {
    bin: { type: 'string', multiple: true, default: ['bin/stowage.js'] },
    node: { type: 'string', default: process.execPath },
    runs: { type: 'string', default: '5' },
    'idle-seconds': { type: 'string', default: '5' },
  },
});
const bins = values.bin.map((bin) => resolve(bin));
const runs = Number(values.runs);
const idleMs = Number(values['idle-seconds']) * 1000;

const median = (numbers: number[]) => numbers.toSorted((a, b) => a - b)[numbers.length >> 1]!;

printYardstick('start');
console.log(`node ${values.node}, ${runs} runs, ${idleMs / 1000} s idle`);

const database = await createTestDatabase();
const { publicKey, privateKey } = keypairToJson(generateKeypair());
const common = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
const envs: Record<string, Record<string, string>> = {
  api: { ...common, STOWAGE_SEAL_PUBLIC_KEY: publicKey },
  projector: { ...common, STOWAGE_SEAL_PUBLIC_KEY: publicKey },
  worker: {
    ...common,
    STOWAGE_SEAL_SECRET_KEY: privateKey,
    KAFKA_BROKERS: kafkaBrokers().join(','),
  },
};
const warnings = new Set<string>();
const range = (numbers: number[]) =>
  `${median(numbers).toFixed(0)} (${Math.min(...numbers).toFixed(0)}-${Math.max(...numbers).toFixed(0)})`;
try {
  for (const [role, env] of Object.entries(envs)) {
    const ready = bins.map((): number[] => []);
    const rss = bins.map((): number[] => []);
    for (let run = 0; run < runs; run++) {
      for (const [index, bin] of bins.entries()) {
        const started = await startStowage({
          bin,
          args: ['serve', '--roles', role],
          env,
          waitFor: 'ready',
          node: values.node,
          nodeFlags: ['--trace-deprecation'],
          // A loaded machine is measured too, not given up on: the yardstick tells the load.
          withinMs: 180_000,
        });
        ready[index]!.push(started.readyAfterMs);
        await new Promise((done) => setTimeout(done, idleMs));
        rss[index]!.push(started.rssMiB());
        await started.stop();
        for (const line of started.log().split('\n')) {
          const warning = /^\(node:\d+\) (.*)/.exec(line)?.[1];
          if (warning) warnings.add(`${role} (${bin}): ${warning}`);
        }
      }
    }
    for (const [index, bin] of bins.entries()) {
      console.log(
        `${role.padEnd(10)} start-to-ready ms ${range(ready[index]!).padEnd(20)} idle RSS MiB ${range(rss[index]!).padEnd(14)} ${bin}`,
      );
    }
  }
} finally {
  await database.drop();
}
console.log(warnings.size === 0 ? 'no warnings' : [...warnings].join('\n'));
printYardstick('end');
