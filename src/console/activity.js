import { allPages, call, instancePath } from './api.js';
import { byId, formatAge, formatTime, h, setText, svg } from './dom.js';

/** The instance's history timeline and its upload outcomes, both read fresh. */
export async function loadActivity(instance) {
  const [history, uploads] = await Promise.all([
    allPages(`${instancePath(instance)}/history`, (json) => json.history),
    call('GET', `${instancePath(instance)}/uploads`).then(({ json }) => json),
  ]);
  renderHistory(history);
  renderUploads(uploads);
}

const fieldLabels = {
  enabled: 'Enabled',
  region: 'Region',
  bucket: 'Bucket',
  accessKey: 'Access key',
  endpoint: 'Endpoint',
  pathPrefix: 'Path prefix',
  publicBaseUrl: 'Public base URL',
  secretKey: 'Secret key',
};

function renderHistory(history) {
  const items = [...history].reverse().map(historyItem);
  if (items.length === 0) items.push(h('li', { class: 'muted' }, 'Never configured.'));
  byId('history').replaceChildren(...items);
}

function historyItem(entry) {
  const { changes } = entry;
  const title =
    entry.type === 'S3ConfigDisabled'
      ? 'Disabled, credentials destroyed'
      : changes.enabled?.to === true
        ? 'Enabled'
        : 'Updated';
  const rows = Object.entries(changes)
    .filter(([field]) => entry.type !== 'S3ConfigDisabled' || field === 'enabled')
    .map(([field, change]) =>
      h(
        'li',
        {},
        h('span', { class: 'change-field' }, fieldLabels[field] ?? field),
        change === 'changed'
          ? h('span', { class: 'change-new' }, 'changed')
          : [
              h('span', { class: 'change-old' }, shown(change.from)),
              h('span', { class: 'arrow', 'aria-label': 'to' }, '→'),
              h('span', { class: 'change-new' }, shown(change.to)),
            ],
      ),
    );
  return h(
    'li',
    { class: `event ${entry.type === 'S3ConfigDisabled' ? 'disabled' : 'updated'}` },
    h('div', { class: 'event-title' }, title),
    h(
      'div',
      { class: 'event-meta' },
      h('time', { datetime: entry.at }, formatTime(entry.at)),
      ` · by ${entry.actor.tokenKind} token `,
      h('span', { class: 'mono' }, entry.actor.tokenId),
      ` · revision ${entry.revision}`,
    ),
    rows.length > 0 ? h('ul', { class: 'changes' }, rows) : null,
  );
}

const shown = (value) => (value === '' ? '(empty)' : String(value));

function renderUploads({ hourly, recent }) {
  const completed = hourly.reduce((sum, hour) => sum + hour.completed, 0);
  const failed = hourly.reduce((sum, hour) => sum + hour.failed, 0);
  setText('uploads-summary', `${completed} completed, ${failed} failed in the last 24 hours.`);
  byId('uploads-chart').replaceChildren(
    chart(hourly),
    h(
      'div',
      { class: 'chart-axis' },
      h('span', {}, '24 h ago'),
      h(
        'span',
        { class: 'legend' },
        h('span', { class: 'key ok' }, 'completed'),
        h('span', { class: 'key failed' }, 'failed'),
      ),
      h('span', {}, 'now'),
    ),
  );
  const items = recent.map((upload) =>
    h(
      'li',
      { class: `outcome ${upload.outcome}` },
      h('span', { class: 'outcome-state' }, upload.outcome),
      h('time', { datetime: upload.at, title: formatTime(upload.at) }, formatAge(upload.at)),
      h('span', { class: 'outcome-detail mono' }, upload.key ?? upload.reason),
    ),
  );
  if (items.length === 0) items.push(h('li', { class: 'muted' }, 'No uploads yet.'));
  byId('recent-uploads').replaceChildren(...items);
}

// Stacked bars, one per hour: completed below, failed on top. Scaled to the busiest hour.
function chart(hourly) {
  const width = 480;
  const height = 120;
  const top = Math.max(1, ...hourly.map((hour) => hour.completed + hour.failed));
  const slot = width / hourly.length;
  const bars = hourly.flatMap((hour, index) => {
    const x = index * slot + 1;
    const okHeight = (hour.completed / top) * (height - 14);
    const badHeight = (hour.failed / top) * (height - 14);
    const label = `${formatTime(hour.hour)}: ${hour.completed} completed, ${hour.failed} failed`;
    return [
      svg('rect', { class: 'bar-slot', x, y: 0, width: slot - 2, height }, svg('title', {}, label)),
      svg('rect', { class: 'bar-ok', x, y: height - okHeight, width: slot - 2, height: okHeight }),
      svg('rect', {
        class: 'bar-failed',
        x,
        y: height - okHeight - badHeight,
        width: slot - 2,
        height: badHeight,
      }),
    ];
  });
  const title = 'Completed and failed uploads per hour';
  return svg(
    'svg',
    {
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': title,
    },
    svg('title', {}, title),
    ...bars,
    svg('line', { class: 'baseline', x1: 0, y1: height, x2: width, y2: height }),
  );
}
