import { ApiFailureError, call, session } from './api.js';
import { byId, formatAge, h, setText, show } from './dom.js';
import { openInstance } from './instance.js';

// Routes live in the hash (#/ the list, #/instances/<name> one instance): the back button and
// bookmarks work, and the token never enters the URL.
const views = ['sign-in-view', 'list-view', 'instance-view'];
let nextAfter = null;
let onlyInstance = null;

function showView(id) {
  for (const view of views) show(view, view === id);
  show('session', id !== 'sign-in-view');
}

function signInView(message = '') {
  showView('sign-in-view');
  setText('sign-in-error', message);
  byId('token').focus();
}

/** A 401 ends the session: the token was revoked or mistyped. */
function failed(error, whereId) {
  if (error instanceof ApiFailureError && error.status === 401) {
    session.signOut();
    signInView(error.message);
    return;
  }
  setText(whereId, error.message);
}

async function route() {
  if (!session.token()) return signInView();
  const match = /^#\/instances\/(.+)$/.exec(location.hash);
  if (match) {
    showView('instance-view');
    show('back', onlyInstance === null);
    return openInstance(decodeURIComponent(match[1]), failed);
  }
  if (onlyInstance !== null) {
    location.hash = instanceHash(onlyInstance);
    return;
  }
  showView('list-view');
  byId('instance-rows').replaceChildren();
  await loadInstances(null);
}

const instanceHash = (name) => `#/instances/${encodeURIComponent(name)}`;

async function loadInstances(after) {
  setText('list-error', '');
  try {
    const query = after === null ? '' : `&after=${encodeURIComponent(after)}`;
    const { json } = await call('GET', `/api/instances?limit=50${query}`);
    nextAfter = json.nextAfter;
    byId('instance-rows').append(...json.instances.map(instanceRow));
    show('list-empty', byId('instance-rows').childElementCount === 0);
    show('list-more', nextAfter !== null);
  } catch (error) {
    failed(error, 'list-error');
  }
}

function instanceRow(instance) {
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, h('a', { href: instanceHash(instance.name) }, instance.name)),
    h('td', {}, storageBadge(instance.enabled)),
    h('td', { class: 'mono' }, instance.bucket || '—'),
    h('td', {}, latestUpload(instance.latestUpload)),
  );
}

export function storageBadge(enabled) {
  return h('span', { class: `badge ${enabled ? 'on' : 'off'}` }, enabled ? 'Enabled' : 'Disabled');
}

function latestUpload(latest) {
  if (!latest) return h('span', { class: 'muted' }, 'No uploads yet');
  const failure = latest.outcome === 'failed';
  return h(
    'div',
    { class: `latest ${latest.outcome}` },
    `${failure ? 'Failed' : 'Completed'} ${formatAge(latest.at)}`,
    failure ? h('div', { class: 'latest-reason' }, latest.reason) : null,
  );
}

async function signIn(event) {
  event.preventDefault();
  const token = byId('token').value.trim();
  if (!token) return setText('sign-in-error', 'Enter a token.');
  session.signIn(token);
  byId('token').value = '';
  try {
    // An instance token sees exactly its instance: the console opens it directly.
    const { json } = await call('GET', '/api/instances?limit=2');
    onlyInstance =
      json.instances.length === 1 && json.nextAfter === null ? json.instances[0].name : null;
    if (onlyInstance !== null && !location.hash.startsWith('#/instances/')) {
      location.hash = instanceHash(onlyInstance);
    } else {
      await route();
    }
  } catch (error) {
    session.signOut();
    signInView(error.message);
  }
}

function signOut() {
  session.signOut();
  onlyInstance = null;
  location.hash = '#/';
  signInView();
}

document.addEventListener('DOMContentLoaded', () => {
  byId('sign-in-form').addEventListener('submit', signIn);
  byId('sign-out').addEventListener('click', signOut);
  byId('list-more').addEventListener('click', () => loadInstances(nextAfter));
  window.addEventListener('hashchange', route);
  route();
});
