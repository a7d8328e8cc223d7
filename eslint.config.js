import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', '.data', '.services', 'dist', '.ci/node24', '.ci/node22'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly' },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test() and describe() return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // An async function without await is how this code keeps a Promise-returning signature
      // (fastify handlers and hooks, ports) and turns a throw into a rejection; dropping `async`
      // would change both.
      '@typescript-eslint/require-await': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='catch'] > :function[body.body.length=0]",
          message:
            'A swallowed rejection: handle it, log it (debug when harmless) with the reason, or say why ignoring it is safe in an eslint-disable comment.',
        },
      ],
      'no-console': 'off',
    },
  },
  {
    // A response's JSON (inject().json(), JSON.parse) is `any`, and reading its fields is what
    // these tests assert on: about 180 findings, all of that kind. Parsing every body into a
    // schema first would restate the contract the assertions check. Production code stays strict.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (the browser console, the launcher, the build script) is outside the
    // TypeScript project, so it gets the syntax-only rules.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The console's page scripts run in the browser.
    files: ['src/console/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        window: 'readonly',
        location: 'readonly',
        sessionStorage: 'readonly',
        fetch: 'readonly',
        Intl: 'readonly',
      },
    },
  },
);
