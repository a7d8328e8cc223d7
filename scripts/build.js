// npm run build: compiles src/ into dist/ and copies every other file under src/ (migrations,
// static assets) beside it, so dist/ is the whole runnable service. Plain JavaScript: it runs
// before anything is compiled.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { URL } from 'node:url';

const root = new URL('../', import.meta.url);
const dist = new URL('dist/', root);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

// A file deleted from src/ must not live on in dist/.
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
cpSync(new URL('src/', root), dist, {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
});
