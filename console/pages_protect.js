// pages_protect.js: the pages that set up and watch protection: dashboard, policies, groups (with
// pause/resume and run now), a run's details with live progress, sources and objects.
import { h, clear, fill, add, table, field, badge, fmtTime, fmtAgo, fmtBytes, fmtDuration, link, enc } from './dom.js';
import { call, V2 } from './api.js';

const DAY_US = 86400e6;
const nowUs = () => Date.now() * 1000;
// The fields UpdateProtectionGroup takes (everything else in a group is the server's to say).
const GROUP_UPDATE_FIELDS = ['name', 'policyId', 'environment', 'priority', 'description', 'startTime', 'endTimeUsecs',
  'lastModifiedTimestampUsecs', 'alertPolicy', 'sla', 'qosPolicy', 'abortInBlackouts', 'pauseInBlackouts', 'isPaused',
  'advancedConfigs', 'physicalParams', 'mssqlParams', 'kubernetesParams'];
const UNITS = { Minutes: 'minuteSchedule', Hours: 'hourSchedule', Days: 'daySchedule' };
const RUN_DONE = /^(Succeeded|SucceededWithWarning|Failed|Canceled|Missed|Skipped)$/;

// ---- shared pieces

function incremental(p) { return ((p.backupPolicy || {}).regular || {}).incremental || {}; }
function retention(p) { return ((p.backupPolicy || {}).regular || {}).retention || {}; }

export function scheduleText(p) {
  const s = incremental(p).schedule || {};
  const sub = s[UNITS[s.unit]] || {};
  if (UNITS[s.unit]) return `every ${sub.frequency || 1} ${s.unit.toLowerCase()}`;
  if (s.unit === 'Weeks') return 'weekly on ' + (((s.weekSchedule || {}).dayOfWeek) || []).join(', ');
  if (s.unit === 'Months') return 'monthly';
  return s.unit ? String(s.unit) : 'no incremental schedule';
}
function retentionText(p) {
  const r = retention(p);
  return r.duration ? `${r.duration} ${String(r.unit || 'Days').toLowerCase()}` : '-';
}

// tzOffsetMs(tz, t): how far the wall clock of time zone tz is ahead of UTC at instant t (ms); 0
// for UTC, no zone or a zone the browser does not know.
function tzOffsetMs(tz, t) {
  if (!tz || tz === 'UTC' || tz === 'Etc/UTC') return 0;
  try {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    const p = Object.fromEntries(f.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(t / 1000) * 1000;
  } catch (e) { return 0; }
}

// nextRun(group, policy): the next scheduled slot as the browser estimates it from the policy's
// schedule and the group's start time in its time zone (the daemon's scheduler, src/sched/schedule.c,
// decides; the API does not expose its next slot, nor the group's creation day that anchors
// Minutes/Hours periods that do not divide a day and Days periods over 1). Minutes, Hours, Days and
// Weeks; null for the other units.
export function nextRun(g, p) {
  if (!p || g.isPaused || g.isDeleted) return null;
  const s = incremental(p).schedule || {};
  const st = g.startTime || {};
  const now = Date.now();
  // today's start time (hour:minute) in the group's zone, as an instant
  const off = tzOffsetMs(st.timeZone, now);
  const wall = new Date(now + off);
  const base = Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate(), st.hour || 0, st.minute || 0) - off;
  const per = { Minutes: 60e3, Hours: 3600e3, Days: 86400e3 }[s.unit];
  if (per) {
    const step = per * ((s[UNITS[s.unit]] || {}).frequency || 1);
    let t = base - 86400e3;
    t += Math.ceil((now - t) / step) * step;
    if (t <= now) t += step;
    return t * 1000;
  }
  if (s.unit === 'Weeks') {
    const days = ((s.weekSchedule || {}).dayOfWeek || []).map((d) => ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'].indexOf(d));
    for (let i = 0; i < 8; i++) {
      const t = base + i * 86400e3;
      if (t > now && days.includes(new Date(t + off).getUTCDay())) return t * 1000;
    }
  }
  return null;
}

function runStatus(run) { return ((run || {}).localBackupInfo || {}).status; }
function runStart(run) { return ((run || {}).localBackupInfo || {}).startTimeUsecs; }
function runEnd(run) { return ((run || {}).localBackupInfo || {}).endTimeUsecs; }
const runLink = (gid, run, text) => link(`#/run/${enc(gid)}/${enc(run.id)}`, text || fmtTime(runStart(run)));

async function policiesById() {
  const j = await call('GET', `${V2}/policies`);
  const m = new Map();
  for (const p of (j && j.policies) || []) m.set(p.id, p);
  return m;
}

async function runNow(ctx, g, after) {
  try {
    const r = await call('POST', `${V2}/protection-groups/${enc(g.id)}/runs`, { runType: 'kRegular' });
    ctx.flash(`Run ${r.runId} of ${g.name} started.`, 'ok');
    if (after) after(r);
  } catch (e) { ctx.error(e); }
}

// setPaused: PUT the group's update fields back with isPaused changed.
async function setPaused(ctx, g, paused) {
  const cur = await call('GET', `${V2}/protection-groups/${enc(g.id)}`);
  const body = {};
  for (const k of GROUP_UPDATE_FIELDS) if (cur[k] !== undefined && cur[k] !== null) body[k] = cur[k];
  body.isPaused = paused;
  await call('PUT', `${V2}/protection-groups/${enc(g.id)}`, body);
  ctx.flash(`${g.name} ${paused ? 'paused' : 'resumed'}.`, 'ok');
}

function groupActions(ctx, g, refresh) {
  return h('span', { class: 'row-actions' },
    h('button', { type: 'button', class: 'small', 'data-action': 'run', onclick: () => runNow(ctx, g, (r) => ctx.go(`#/run/${enc(g.id)}/${enc(r.runId)}`)), disabled: g.isPaused }, 'Run now'),
    h('button', { type: 'button', class: 'small secondary', 'data-action': g.isPaused ? 'resume' : 'pause', onclick: async () => {
      try { await setPaused(ctx, g, !g.isPaused); await refresh(); } catch (e) { ctx.error(e); }
    } }, g.isPaused ? 'Resume' : 'Pause'),
    link(`#/group-edit/${enc(g.id)}`, 'Edit', { class: 'button small secondary' }));
}

function stat(label, value, sub, id) {
  return h('div', { class: 'stat', id }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value), sub ? h('div', { class: 'stat-sub' }, sub) : null);
}

// ---- dashboard

export async function dashboard(el, ctx) {
  add(el, h('h1', {}, 'Dashboard'));
  const [stats, gj, pols] = await Promise.all([
    call('GET', '/v2/coffer/repository/stats').catch((e) => ({ error: e })),
    call('GET', `${V2}/protection-groups?includeLastRunInfo=true`),
    policiesById(),
  ]);
  const groups = ((gj && gj.protectionGroups) || []).filter((g) => !g.isDeleted);
  const st = stats.error ? {} : stats;
  add(el, h('section', { class: 'stats' },
    stat('Storage used', fmtBytes(st.storedBytes), `${fmtBytes(st.logicalBytes)} protected`, 'stat-stored'),
    stat('Dedup ratio', st.dedupRatio !== undefined ? Number(st.dedupRatio).toFixed(2) + '×' : '-', 'logical ÷ stored', 'stat-dedup'),
    stat('Snapshots', st.snapshots !== undefined ? String(st.snapshots) : '-', `${st.packs ?? '-'} packs`),
    stat('Protection groups', String(groups.length), `${groups.filter((g) => g.isPaused).length} paused`)));
  if (stats.error) ctx.flash('Repository stats: ' + stats.error.message, 'error');

  const since = nowUs() - DAY_US;
  const lists = await Promise.all(groups.map((g) => call('GET', `${V2}/protection-groups/${enc(g.id)}/runs?startTimeUsecs=${Math.floor(since)}&numRuns=200`)
    .then((j) => ((j && j.runs) || []).map((r) => ({ g, r }))).catch(() => [])));
  const runs = lists.flat();
  const failed = (x) => /Fail/.test(runStatus(x.r)) ? 0 : 1;
  runs.sort((a, b) => failed(a) - failed(b) || runStart(b.r) - runStart(a.r));

  add(el, h('h2', {}, 'Protection groups'),
    table([
      { title: 'Group', cell: (g) => link(`#/group/${enc(g.id)}`, g.name) },
      { title: 'Policy', cell: (g) => (pols.get(g.policyId) || {}).name || g.policyId },
      { title: 'Status', cell: (g) => badge(g.isPaused ? 'Paused' : 'Active') },
      { title: 'Last run', cell: (g) => g.lastRun ? h('span', {}, badge(runStatus(g.lastRun)), ' ', runLink(g.id, g.lastRun), h('span', { class: 'muted' }, ' ' + fmtAgo(runStart(g.lastRun)))) : h('span', { class: 'muted' }, 'never') },
      { title: 'Next run (est.)', cell: (g) => { const t = nextRun(g, pols.get(g.policyId)); return t ? h('span', {}, fmtTime(t), h('span', { class: 'muted' }, ' ' + fmtAgo(t))) : h('span', { class: 'muted' }, g.isPaused ? 'paused' : 'per schedule'); } },
    ], groups, { id: 'dash-groups', empty: 'No protection groups yet: create a policy, then a group.' }));

  add(el, h('h2', {}, 'Runs of the last 24 hours ', h('span', { class: 'muted' }, '(failures first)')),
    table([
      { title: 'Status', cell: (x) => badge(runStatus(x.r)) },
      { title: 'Group', cell: (x) => link(`#/group/${enc(x.g.id)}`, x.g.name) },
      { title: 'Started', cell: (x) => runLink(x.g.id, x.r) },
      { title: 'Duration', cell: (x) => fmtDuration(runStart(x.r), runEnd(x.r)) },
      { title: 'Type', cell: (x) => (x.r.localBackupInfo || {}).runType || '-' },
      { title: 'Read', cell: (x) => fmtBytes((((x.r.localBackupInfo || {}).localSnapshotStats) || {}).bytesRead), cls: 'num' },
      { title: 'Message', cell: (x) => ((x.r.localBackupInfo || {}).messages || [])[0] || '' },
    ], runs, { id: 'dash-runs', empty: 'No runs in the last 24 hours.', rowClass: (x) => /Fail/.test(runStatus(x.r)) ? 'row-bad' : null }));
}

// ---- policies

export async function policies(el, ctx) {
  const refresh = async () => {
    const j = await call('GET', `${V2}/policies`);
    const list = (j && j.policies) || [];
    fill(el, h('div', { class: 'title-row' }, h('h1', {}, 'Policies'), link('#/policy/new', 'New policy', { class: 'button', id: 'policy-new' })),
      table([
        { title: 'Name', cell: (p) => link(`#/policy/${enc(p.id)}`, p.name) },
        { title: 'Schedule', cell: (p) => scheduleText(p) },
        { title: 'Retention', cell: (p) => retentionText(p) },
        { title: 'Description', cell: (p) => p.description || '' },
        { title: '', cell: (p) => h('span', { class: 'row-actions' }, link(`#/policy/${enc(p.id)}`, 'Edit', { class: 'button small secondary' }),
          h('button', { type: 'button', class: 'small danger', onclick: async () => {
            if (!confirm(`Delete policy ${p.name}?`)) return;
            try { await call('DELETE', `${V2}/policies/${enc(p.id)}`); ctx.flash(`Deleted ${p.name}.`, 'ok'); await refresh(); } catch (e) { ctx.error(e); }
          } }, 'Delete')) },
      ], list, { id: 'policies', empty: 'No policies yet.', key: (p) => p.name }));
  };
  await refresh();
}

// #/policy/new or #/policy/ID: create or edit (name, description, schedule unit and frequency,
// retention in days). Editing keeps every other member of the stored policy as it is.
export async function policyEdit(el, ctx, [id]) {
  const isNew = !id || id === 'new';
  const cur = isNew ? null : await call('GET', `${V2}/policies/${enc(id)}`);
  const sched = cur ? incremental(cur).schedule || {} : { unit: 'Hours', hourSchedule: { frequency: 24 } };
  const ret = cur ? retention(cur) : { unit: 'Days', duration: 30 };
  const name = h('input', { id: 'policy-name', required: true, value: cur ? cur.name : '' });
  const desc = h('input', { id: 'policy-description', value: cur ? cur.description || '' : '' });
  const unit = h('select', { id: 'policy-unit' }, Object.keys(UNITS).map((u) => h('option', { value: u, selected: sched.unit === u }, u)));
  const freq = h('input', { id: 'policy-frequency', type: 'number', min: '1', required: true, value: String(((sched[UNITS[sched.unit]] || {}).frequency) || 1) });
  const retUnit = h('select', { id: 'policy-retention-unit' }, ['Days', 'Weeks', 'Months', 'Years'].map((u) => h('option', { value: u, selected: (ret.unit || 'Days') === u }, u)));
  const days = h('input', { id: 'policy-retention', type: 'number', min: '1', required: true, value: String(ret.duration || 30) });
  const form = h('form', { class: 'card form', id: 'policy-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const body = cur ? JSON.parse(JSON.stringify(cur)) : { backupPolicy: { regular: { incremental: {} } } };
    body.name = name.value.trim();
    if (desc.value.trim()) body.description = desc.value.trim(); else delete body.description;
    body.backupPolicy = body.backupPolicy || {};
    body.backupPolicy.regular = body.backupPolicy.regular || {};
    body.backupPolicy.regular.incremental = { schedule: { unit: unit.value, [UNITS[unit.value]]: { frequency: Number(freq.value) } } };
    body.backupPolicy.regular.retention = { unit: retUnit.value, duration: Number(days.value) };
    try {
      const saved = isNew ? await call('POST', `${V2}/policies`, body) : await call('PUT', `${V2}/policies/${enc(id)}`, body);
      location.hash = '#/policies';
      setTimeout(() => { const f = document.getElementById('flash'); if (f) f.appendChild(h('div', { class: 'flash ok', role: 'status' }, `Saved policy ${saved.name}.`)); }, 0);
    } catch (e) { ctx.error(e); }
  } },
  field('Name', name), field('Description', desc),
  h('div', { class: 'field-row' }, field('Incremental every', freq), field('Unit', unit)),
  h('div', { class: 'field-row' }, field('Keep snapshots for', days), field('Unit', retUnit)),
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'policy-save' }, isNew ? 'Create policy' : 'Save'), link('#/policies', 'Cancel', { class: 'button secondary' })));
  add(el, h('h1', {}, isNew ? 'New policy' : `Policy ${cur.name}`), form);
}

// ---- groups

export async function groups(el, ctx) {
  const refresh = async () => {
    const [gj, pols] = await Promise.all([call('GET', `${V2}/protection-groups?includeLastRunInfo=true`), policiesById()]);
    const list = ((gj && gj.protectionGroups) || []).filter((g) => !g.isDeleted);
    fill(el, h('div', { class: 'title-row' }, h('h1', {}, 'Protection groups'), link('#/group-edit/new', 'New group', { class: 'button', id: 'group-new' })),
      table([
        { title: 'Name', cell: (g) => link(`#/group/${enc(g.id)}`, g.name) },
        { title: 'Environment', cell: (g) => `${g.environment} ${(g.physicalParams || {}).protectionType || ''}` },
        { title: 'Policy', cell: (g) => (pols.get(g.policyId) || {}).name || g.policyId },
        { title: 'Status', cell: (g) => badge(g.isPaused ? 'Paused' : 'Active') },
        { title: 'Last run', cell: (g) => g.lastRun ? h('span', {}, badge(runStatus(g.lastRun)), ' ', runLink(g.id, g.lastRun)) : h('span', { class: 'muted' }, 'never') },
        { title: '', cell: (g) => groupActions(ctx, g, refresh) },
      ], list, { id: 'groups', empty: 'No protection groups yet.', key: (g) => g.name }));
  };
  await refresh();
}

function groupPaths(g) {
  const o = ((((g.physicalParams || {}).fileProtectionTypeParams) || {}).objects || [])[0] || {};
  return { objectId: o.id, includes: (o.filePaths || []).map((f) => f.includedPath), excludes: (o.filePaths || []).flatMap((f) => f.excludedPaths || []) };
}

// #/group-edit/new or #/group-edit/ID: a kPhysical kFile group over one host object.
export async function groupEdit(el, ctx, [id]) {
  const isNew = !id || id === 'new';
  const [cur, pols, objs] = await Promise.all([
    isNew ? null : call('GET', `${V2}/protection-groups/${enc(id)}`),
    policiesById(),
    call('GET', `${V2}/search/objects?environments=kPhysical`),
  ]);
  const hosts = ((objs && objs.objects) || []).filter((o) => o.objectType === 'kHost');
  const gp = cur ? groupPaths(cur) : { includes: [], excludes: [] };
  const isFile = !cur || (cur.environment === 'kPhysical' && (cur.physicalParams || {}).protectionType === 'kFile');
  const name = h('input', { id: 'group-name', required: true, value: cur ? cur.name : '' });
  const desc = h('input', { id: 'group-description', value: cur ? cur.description || '' : '' });
  const policy = h('select', { id: 'group-policy', required: true }, [...pols.values()].map((p) => h('option', { value: p.id, selected: cur && cur.policyId === p.id }, p.name)));
  const host = h('select', { id: 'group-object', disabled: !isFile }, hosts.map((o) => h('option', { value: String(o.id), selected: gp.objectId === o.id }, `${o.name} (object ${o.id})`)));
  const paths = h('textarea', { id: 'group-paths', rows: '3', required: isFile, disabled: !isFile, spellcheck: 'false' }, gp.includes.join('\n'));
  const excl = h('textarea', { id: 'group-excludes', rows: '2', disabled: !isFile, spellcheck: 'false' }, gp.excludes.join('\n'));
  const lines = (t) => t.value.split('\n').map((s) => s.trim()).filter(Boolean);
  const form = h('form', { class: 'card form', id: 'group-form', onsubmit: async (ev) => {
    ev.preventDefault();
    let body;
    if (cur) {
      body = {};
      for (const k of GROUP_UPDATE_FIELDS) if (cur[k] !== undefined && cur[k] !== null) body[k] = cur[k];
    } else {
      body = { environment: 'kPhysical', physicalParams: { protectionType: 'kFile', fileProtectionTypeParams: { objects: [{}] } } };
    }
    body.name = name.value.trim();
    body.policyId = policy.value;
    if (desc.value.trim()) body.description = desc.value.trim(); else delete body.description;
    if (isFile) {
      const ex = lines(excl);
      const fps = lines(paths).map((p) => {
        const mine = ex.filter((x) => x === p || x.startsWith(p.replace(/\/+$/, '') + '/'));
        return mine.length ? { includedPath: p, excludedPaths: mine } : { includedPath: p };
      });
      body.physicalParams = JSON.parse(JSON.stringify(body.physicalParams));
      body.physicalParams.fileProtectionTypeParams.objects = [{ id: Number(host.value), filePaths: fps }];
    }
    try {
      const saved = isNew ? await call('POST', `${V2}/protection-groups`, body) : await call('PUT', `${V2}/protection-groups/${enc(id)}`, body);
      location.hash = `#/group/${enc(saved.id || id)}`;
    } catch (e) { ctx.error(e); }
  } },
  field('Name', name), field('Description', desc), field('Policy', policy),
  field('Host', host, hosts.length ? null : 'No host registered yet: register one under Sources.'),
  field('Include paths', paths, 'Absolute paths on the host, one per line.'),
  field('Exclude paths', excl, 'Optional; each under one of the include paths.'),
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'group-save' }, isNew ? 'Create group' : 'Save'), link(isNew ? '#/groups' : `#/group/${enc(id)}`, 'Cancel', { class: 'button secondary' })));
  add(el, h('h1', {}, isNew ? 'New protection group' : `Edit ${cur.name}`), form);
}

// #/group/ID: the group, its runs, run now, pause/resume.
export async function groupDetail(el, ctx, [id]) {
  const refresh = async () => {
    const [g, rj, pols] = await Promise.all([
      call('GET', `${V2}/protection-groups/${enc(id)}?includeLastRunInfo=true`),
      call('GET', `${V2}/protection-groups/${enc(id)}/runs?numRuns=50`),
      policiesById(),
    ]);
    const gp = groupPaths(g);
    const p = pols.get(g.policyId);
    const next = nextRun(g, p);
    fill(el, h('div', { class: 'title-row' }, h('h1', {}, g.name, ' ', badge(g.isPaused ? 'Paused' : 'Active')), groupActions(ctx, g, refresh)),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Id'), h('dd', {}, g.id),
        h('dt', {}, 'Policy'), h('dd', {}, p ? link(`#/policy/${enc(p.id)}`, p.name) : g.policyId, p ? ` (${scheduleText(p)}, keep ${retentionText(p)})` : ''),
        h('dt', {}, 'Environment'), h('dd', {}, `${g.environment} ${(g.physicalParams || {}).protectionType || ''}`),
        gp.includes.length ? [h('dt', {}, 'Paths'), h('dd', {}, gp.includes.join(', '), gp.excludes.length ? ` (excluding ${gp.excludes.join(', ')})` : '')] : null,
        h('dt', {}, 'Next run (est.)'), h('dd', {}, next ? `${fmtTime(next)} (${fmtAgo(next)})` : (g.isPaused ? 'paused' : 'per schedule'))),
      h('h2', {}, 'Runs'),
      table([
        { title: 'Started', cell: (r) => runLink(g.id, r) },
        { title: 'Status', cell: (r) => badge(runStatus(r)) },
        { title: 'Type', cell: (r) => (r.localBackupInfo || {}).runType || '-' },
        { title: 'Duration', cell: (r) => fmtDuration(runStart(r), runEnd(r)) },
        { title: 'Read', cell: (r) => fmtBytes(((r.localBackupInfo || {}).localSnapshotStats || {}).bytesRead), cls: 'num' },
        { title: 'Written', cell: (r) => fmtBytes(((r.localBackupInfo || {}).localSnapshotStats || {}).bytesWritten), cls: 'num' },
      ], (rj && rj.runs) || [], { id: 'group-runs', empty: 'No runs yet.' }));
  };
  await refresh();
}

// #/run/GROUP/RUN: a run with live progress (GET /runs/{id}/progress every second while it runs).
export async function runDetail(el, ctx, [gid, runId]) {
  const head = h('div', {});
  const bar = h('div', { class: 'progress-fill' });
  const pct = h('span', { id: 'run-percent' }, '');
  const statusBox = h('span', { id: 'run-status' });
  const facts = h('dl', { class: 'facts' });
  const objs = h('div', {});
  const msgs = h('div', {});
  const actions = h('span', { class: 'row-actions' });
  add(el, head, h('div', { class: 'progress' }, bar), pct, facts, actions, h('h2', {}, 'Objects'), objs, msgs);
  const act = async (action) => {
    const field = action === 'Cancel' ? 'cancelParams' : action === 'Pause' ? 'pauseParams' : 'resumeParams';
    try { await call('POST', `${V2}/protection-groups/${enc(gid)}/runs/actions`, { action, [field]: [{ runId }] }); ctx.flash(`${action} requested.`, 'ok'); } catch (e) { ctx.error(e); }
  };
  ctx.poll(async () => {
    const [run, prog] = await Promise.all([
      call('GET', `${V2}/protection-groups/${enc(gid)}/runs/${enc(runId)}`),
      call('GET', `${V2}/runs/${enc(runId)}/progress`).catch(() => null),
    ]);
    const lb = run.localBackupInfo || {};
    const lr = (prog && prog.localRun) || {};
    const status = lb.status || '-';
    const p = typeof lr.percentageCompleted === 'number' ? lr.percentageCompleted : (RUN_DONE.test(status) ? 100 : 0);
    fill(head, h('h1', {}, `Run of ${run.protectionGroupName || gid}`));
    fill(statusBox, badge(status));
    statusBox.dataset.status = status;
    bar.style.width = `${Math.max(0, Math.min(100, p))}%`;
    bar.className = 'progress-fill ' + (/Fail/.test(status) ? 'bad' : RUN_DONE.test(status) ? 'ok' : 'busy');
    pct.textContent = `${p.toFixed(0)}% complete`;
    const stats = lb.localSnapshotStats || {};
    const cs = (lr.cofferStats) || lb.cofferStats || {};
    fill(facts, 
      h('dt', {}, 'Status'), h('dd', {}, statusBox),
      h('dt', {}, 'Run id'), h('dd', {}, run.id),
      h('dt', {}, 'Type'), h('dd', {}, lb.runType || '-'),
      h('dt', {}, 'Started'), h('dd', {}, fmtTime(lb.startTimeUsecs)),
      h('dt', {}, 'Ended'), h('dd', {}, fmtTime(lb.endTimeUsecs)),
      h('dt', {}, 'Duration'), h('dd', {}, fmtDuration(lb.startTimeUsecs, lb.endTimeUsecs)),
      h('dt', {}, 'Files'), h('dd', {}, `${cs.files ?? '-'} files, ${cs.directories ?? '-'} directories`),
      h('dt', {}, 'Bytes'), h('dd', {}, `${fmtBytes(cs.bytesRead ?? stats.bytesRead)} read, ${fmtBytes(cs.bytesWritten ?? stats.bytesWritten)} written`));
    clear(actions);
    if (status === 'Running' || status === 'Accepted') add(actions, h('button', { type: 'button', class: 'small secondary', onclick: () => act('Pause') }, 'Pause'), h('button', { type: 'button', class: 'small danger', onclick: () => act('Cancel') }, 'Cancel'));
    if (status === 'Paused') add(actions, h('button', { type: 'button', class: 'small', onclick: () => act('Resume') }, 'Resume'));
    fill(objs, table([
      { title: 'Object', cell: (o) => o.name || String(o.id) },
      { title: 'Status', cell: (o) => badge(o.status) },
      { title: 'Progress', cell: (o) => typeof o.percentageCompleted === 'number' ? `${o.percentageCompleted.toFixed(0)}%` : '-' },
      { title: 'Files', cell: (o) => String((o.stats || {}).backupFileCount ?? '-'), cls: 'num' },
      { title: 'Read', cell: (o) => fmtBytes((o.cofferStats || {}).bytesRead), cls: 'num' },
    ], lr.objects || [], { empty: 'No object progress yet.' }));
    const m = [...(lb.messages || []), ...((lr.events || []).map((e) => e.message).filter(Boolean))];
    fill(msgs, m.length ? [h('h2', {}, 'Messages'), h('ul', { class: 'messages' }, m.map((t) => h('li', {}, t)))] : null);
    return RUN_DONE.test(status);
  }, 1000, 3600);
}

// ---- sources

export async function sources(el, ctx) {
  const refresh = async () => {
    const [rj, oj] = await Promise.all([call('GET', `${V2}/sources/registrations`), call('GET', `${V2}/search/objects`)]);
    const regs = (rj && rj.registrations) || [];
    const objs = (oj && oj.objects) || [];
    const endpoint = h('input', { id: 'source-endpoint', required: true, placeholder: '127.0.0.1' });
    const sname = h('input', { id: 'source-name', placeholder: 'optional' });
    fill(el, h('h1', {}, 'Sources'),
      table([
        { title: 'Id', cell: (r) => String(r.id), cls: 'num' },
        { title: 'Name', cell: (r) => r.name || '' },
        { title: 'Environment', cell: (r) => r.environment },
        { title: 'Endpoint', cell: (r) => (r.physicalParams || {}).endpoint || '' },
        { title: 'Status', cell: (r) => badge(r.authenticationStatus) },
        { title: 'Registered', cell: (r) => fmtTime((r.registrationTimeMsecs || 0) * 1000) },
        { title: '', cell: (r) => h('span', { class: 'row-actions' },
          h('button', { type: 'button', class: 'small secondary', onclick: async () => { try { await call('POST', `${V2}/sources/${enc(r.id)}/refresh`); ctx.flash('Refreshed.', 'ok'); await refresh(); } catch (e) { ctx.error(e); } } }, 'Refresh'),
          h('button', { type: 'button', class: 'small danger', onclick: async () => { if (!confirm(`Unregister ${r.name}?`)) return; try { await call('DELETE', `${V2}/sources/registrations/${enc(r.id)}`); await refresh(); } catch (e) { ctx.error(e); } } }, 'Unregister')) },
      ], regs, { id: 'sources', empty: 'No sources registered.' }),
      h('form', { class: 'card form inline', id: 'source-form', onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { environment: 'kPhysical', name: sname.value.trim() || endpoint.value.trim(), physicalParams: { endpoint: endpoint.value.trim() } };
        try { await call('POST', `${V2}/sources/registrations`, body); ctx.flash('Registered.', 'ok'); await refresh(); } catch (e) { ctx.error(e); }
      } }, h('h2', {}, 'Register a host'), h('div', { class: 'field-row' }, field('Endpoint', endpoint), field('Name', sname)),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Register'))),
      h('h2', {}, 'Objects'),
      table([
        { title: 'Id', cell: (o) => String(o.id), cls: 'num' },
        { title: 'Name', cell: (o) => o.name },
        { title: 'Type', cell: (o) => o.objectType },
        { title: 'Environment', cell: (o) => o.environment },
        { title: 'Source', cell: (o) => o.sourceName || '' },
        { title: 'Size', cell: (o) => fmtBytes(o.logicalSizeBytes), cls: 'num' },
        { title: 'Protected by', cell: (o) => ((o.objectProtectionInfos || [])[0] || {}).protectionGroups?.map((g) => g.name).join(', ') || '' },
        { title: '', cell: (o) => /kHost|kDatabase|kInstance/.test(o.objectType) ? link(`#/restore/${enc(o.id)}`, 'Restore…', { class: 'button small secondary' }) : '' },
      ], objs, { id: 'objects', empty: 'No objects: register a source first.' }));
  };
  await refresh();
}
