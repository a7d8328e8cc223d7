import { call, instancePath } from './api.js';
import { loadActivity } from './activity.js';
import { byId, h, setText } from './dom.js';

// The seed's fields, in its order. The secret is write-only: empty means "keep the stored one".
const fields = [
  { name: 'region', label: 'Region', hint: 'e.g. us-east-1', required: true },
  { name: 'bucket', label: 'Bucket', hint: 'Must exist; it is not created.', required: true },
  { name: 'accessKey', label: 'Access key', required: true },
  { name: 'secretKey', label: 'Secret key', type: 'password' },
  {
    name: 'endpoint',
    label: 'Endpoint',
    hint: 'Empty for AWS; the URL of MinIO, Backblaze B2, DigitalOcean Spaces, …',
  },
  { name: 'pathPrefix', label: 'Path prefix', hint: 'Folder for this instance, e.g. media/shop/' },
  // Not one of the seed's fields, but an enabling save without it would clear a stored one.
  {
    name: 'publicBaseUrl',
    label: 'Public base URL',
    hint: 'Optional https:// base for links that do not expire, e.g. a CDN in front of the bucket',
  },
];

let current = null;
let fail = () => {};

export async function openInstance(name, failed) {
  fail = failed;
  current = { name, stored: null };
  setText('instance-name', name);
  setText('instance-error', '');
  setText('instance-state', '');
  byId('test-steps').replaceChildren();
  buildForm();
  await reload();
}

async function reload(minPosition) {
  const name = current.name;
  try {
    const query = minPosition ? `?minPosition=${encodeURIComponent(minPosition)}` : '';
    const { json } = await call('GET', `${instancePath(name)}${query}`);
    if (current.name !== name) return;
    current.stored = json.s3;
    fillForm(json.s3);
    await loadActivity(name);
  } catch (error) {
    fail(error, 'instance-error');
  }
}

function buildForm() {
  const form = byId('config-form');
  // Disabled until the stored configuration is in: an edit made before would be overwritten.
  const enabled = h('input', {
    type: 'checkbox',
    id: 'f-enabled',
    name: 'enabled',
    disabled: true,
  });
  enabled.addEventListener('change', () => syncEnabled(enabled.checked));
  form.replaceChildren(
    h('label', { class: 'switch', for: 'f-enabled' }, enabled, h('span', {}, 'Storage enabled')),
    h('p', { class: 'field-error', id: 'e-enabled' }),
    ...fields.map(fieldBlock),
    h('p', { id: 'config-status', class: 'status', role: 'status' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'save' }, 'Save')),
  );
  form.onsubmit = save;
  byId('test-button').onclick = runTest;
  byId('uploads-refresh').onclick = () =>
    loadActivity(current.name).catch((error) => fail(error, 'instance-error'));
}

function fieldBlock(field) {
  const id = `f-${field.name}`;
  const hintId = `h-${field.name}`;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, field.label, field.required ? h('span', { class: 'req' }, ' *') : null),
    h('input', {
      id,
      name: field.name,
      type: field.type ?? 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': `${hintId} e-${field.name}`,
    }),
    h('p', { class: 'hint', id: hintId }, field.hint ?? ''),
    h('p', { class: 'field-error', id: `e-${field.name}` }),
  );
}

function fillForm(s3) {
  byId('f-enabled').checked = s3.enabled;
  byId('f-enabled').disabled = false;
  for (const field of fields) byId(`f-${field.name}`).value = s3[field.name] ?? '';
  const secret = byId('f-secretKey');
  secret.value = '';
  secret.placeholder = s3.enabled ? 'unchanged' : '';
  setText(
    'h-secretKey',
    s3.enabled ? 'Leave empty to keep the stored key; it is never shown.' : '',
  );
  const state = byId('instance-state');
  state.className = `badge ${s3.enabled ? 'on' : 'off'}`;
  state.textContent = s3.enabled ? 'Storage enabled' : 'Storage disabled';
  syncEnabled(s3.enabled);
}

function syncEnabled(enabled) {
  for (const field of fields) byId(`f-${field.name}`).disabled = !enabled;
}

function clearErrors() {
  for (const element of byId('config-form').querySelectorAll('.field-error')) {
    element.textContent = '';
  }
  for (const field of fields) byId(`f-${field.name}`).removeAttribute('aria-invalid');
  setText('config-status', '');
}

/** The 400's `details`, each next to its field; problems of the whole body go under the form. */
function showProblems(error, statusId) {
  const general = [];
  for (const problem of error.details) {
    const input = byId(`f-${problem.field}`);
    const slot = byId(`e-${problem.field}`);
    if (input && slot) {
      slot.textContent = problem.message;
      input.setAttribute('aria-invalid', 'true');
    } else general.push(`${problem.field}: ${problem.message}`);
  }
  setText(statusId, [error.message, ...general].join(' — '));
  byId(statusId).className = 'status error';
  byId('config-form').querySelector('[aria-invalid="true"]')?.focus();
}

function formSettings() {
  const body = { enabled: true };
  for (const field of fields) {
    const value = byId(`f-${field.name}`).value;
    if (field.name !== 'secretKey' || value !== '') body[field.name] = value;
  }
  return body;
}

async function save(event) {
  event.preventDefault();
  clearErrors();
  const enabling = byId('f-enabled').checked;
  if (!enabling && current.stored?.enabled && !(await confirmDisable())) {
    byId('f-enabled').checked = true;
    syncEnabled(true);
    return;
  }
  const button = byId('save');
  button.disabled = true;
  try {
    const { headers } = await call(
      'POST',
      instancePath(current.name),
      enabling ? formSettings() : { enabled: false },
    );
    await reload(headers.get('x-stowage-position'));
    setText('config-status', enabling ? 'Saved.' : 'Disabled; the credentials were destroyed.');
    byId('config-status').className = 'status ok';
  } catch (error) {
    if (error.status === 400) showProblems(error, 'config-status');
    else fail(error, 'config-status');
  } finally {
    button.disabled = false;
  }
}

function confirmDisable() {
  const dialog = byId('confirm-disable');
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'disable'), {
      once: true,
    });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

async function runTest() {
  clearErrors();
  const button = byId('test-button');
  button.disabled = true;
  setText('test-summary', 'Testing…');
  byId('test-steps').replaceChildren();
  // A typed secret means "test what is in the form"; otherwise the stored settings are tested.
  const supplied = byId('f-secretKey').value !== '';
  let body;
  if (supplied) {
    // Only what the connection test takes: links are not part of reaching the bucket.
    const { enabled: _enabled, publicBaseUrl: _publicBaseUrl, ...settings } = formSettings();
    body = settings;
  }
  try {
    const { json } = await call('POST', `${instancePath(current.name)}/test`, body);
    const what = json.tested === 'stored' ? 'The stored settings' : 'The settings in the form';
    setText(
      'test-summary',
      json.ok
        ? `${what} work: bucket ${json.bucket} can be written.`
        : `${what} do not work with bucket ${json.bucket}.`,
    );
    byId('test-summary').className = json.ok ? 'status ok' : 'status error';
    byId('test-steps').replaceChildren(...json.steps.map(stepItem));
  } catch (error) {
    byId('test-summary').className = 'status error';
    if (error.status === 400) showProblems(error, 'test-summary');
    else fail(error, 'test-summary');
  } finally {
    button.disabled = false;
  }
}

const stepNames = {
  headBucket: 'Reach the bucket',
  putObject: 'Write a probe object',
  deleteObject: 'Delete the probe object',
};

function stepItem(step) {
  const state = step.skipped ? 'skipped' : step.ok ? 'passed' : 'failed';
  return h(
    'li',
    { class: `step ${state}` },
    h('span', { class: 'step-state' }, state),
    h('span', { class: 'step-name' }, stepNames[step.step] ?? step.step),
    h('span', { class: 'step-time' }, step.skipped ? '' : `${Math.round(step.durationMs)} ms`),
    h('span', { class: 'step-detail' }, [step.code, step.message].filter(Boolean).join(': ')),
  );
}
