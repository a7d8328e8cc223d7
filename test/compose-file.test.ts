import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';

// Vendored, unchanged, from the Compose Specification (compose-spec/compose-spec,
// schema/compose-spec.json): what `docker compose config` checks a file against.
const schema = JSON.parse(
  readFileSync(new URL('./fixtures/compose-spec.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const composeFile = new URL('../docker-compose.yml', import.meta.url);

function validateCompose(document: unknown) {
  // The schema names draft-07 by an https URL Ajv does not know, and uses compose's own formats
  // (durations, ports): its structure is what is checked here.
  const ajv = new Ajv({ strict: false, validateSchema: false, validateFormats: false });
  const validate = ajv.compile(schema);
  return validate(document) ? [] : (validate.errors ?? []);
}

test('docker-compose.yml is valid against the compose specification', () => {
  const document = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as unknown;
  assert.deepEqual(validateCompose(document), []);
});

test('the validation has teeth: a misspelt service key is refused', () => {
  const document = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };
  document.services.api!.enviroment = { PORT: '8080' };
  const errors = validateCompose(document);
  assert.ok(
    errors.some((error) => error.params && 'additionalProperty' in error.params),
    JSON.stringify(errors),
  );
});
