// Prints the test files `npm run test:unit` runs: every test/**/*.test.ts that needs nothing but
// PostgreSQL (and Redis, where the rate-limit test finds it) — no Kafka, no S3 server, no Java,
// no browser, no compiled build, no process killed mid-run. Chosen by what a test and the test/ helpers it imports use, not
// by a list, so a new test lands on the right side by itself. Plain JavaScript: it runs before
// anything is compiled.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const testDir = join(root, 'test');

// What puts a test outside the inner loop, wherever in its test/ imports it stands. The services
// helper itself only defines these, so it is not read.
const servicesHelper = join(testDir, 'support/services.ts');
const needsMoreThanPostgres = [
  /\bkafka(Brokers|Sasl\w*)\(|\bs3TestServer\(|process\.env\.(KAFKA_|S3_TEST_)/, // Kafka, S3Proxy
  /\brequiredEnv\('(?!PG_ADMIN_URL')/, // any other service the test services script starts
  /test-services\.sh/, // stops and starts those services
  /bin\/stowage\.js|\bstowageBin\b/, // the compiled build, as processes
  /playwright/, // a browser
  /'SIGKILL'/, // crash tests: processes killed and restarted, seconds each
];

const importPattern = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+\.ts)'/g;

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Whether this file, or a test/ file it imports (transitively), uses more than PostgreSQL. */
function needsServices(file, seen = new Set()) {
  if (seen.has(file) || !file.startsWith(testDir) || file === servicesHelper) return false;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  if (needsMoreThanPostgres.some((pattern) => pattern.test(source))) return true;
  // new URL('./x.ts', import.meta.url) names a script a test runs as a process of its own.
  const scripts = source.matchAll(/new URL\('(\.{1,2}\/[^']+\.ts)'/g);
  return [...source.matchAll(importPattern), ...scripts].some(([, imported]) =>
    needsServices(resolve(dirname(file), imported), seen),
  );
}

for (const file of testFiles(testDir).sort()) {
  if (!needsServices(file)) console.log(relative(root, file));
}
