// pages_recover.js: getting data back: the restore wizard (object, snapshot on a timeline or a point
// in time for databases, the snapshot's file tree, target and options, then its progress), search
// across snapshots with download, recoveries with their progress, and the site restore API's jobs,
// executions and restores for databases.
//
// Browsing a snapshot: the API has no call that lists a snapshot's directory, so the tree is read
// from the file index with indexed search by path prefix (POST /search/indexed-objects with
// searchString "<dir>/*", the object and the group), keeping the direct children of <dir> that the
// chosen snapshot holds (each hit lists the snapshots that have it, with size and mtime there).
import { h, clear, fill, add, table, field, badge, fmtTime, fmtBytes, fmtDuration, toLocalInput, fromLocalInput, link, enc } from './dom.js';
import { call, blob, V2 } from './api.js';

const REC_DONE = /^(Succeeded|SucceededWithWarning|Failed|Canceled)$/;
const BROWSE_PAGES = 10;   // at most 10 pages of 1000 index hits per directory
const nowUs = () => Date.now() * 1000;

// ---- the snapshot tree, from the file index

async function listDir(dir, snapshotId, objectId, groupId) {
  const prefix = dir.replace(/\/+$/, '');
  const out = new Map();
  let cookie;
  let truncated = false;
  for (let page = 0; page < BROWSE_PAGES; page++) {
    const body = { objectType: 'Files', fileParams: { searchString: prefix + '/*', objectIds: [objectId] }, protectionGroupIds: [groupId], count: 1000 };
    if (cookie) body.paginationCookie = cookie;
    const j = await call('POST', `${V2}/search/indexed-objects`, body);
    for (const f of (j && j.files) || []) {
      if (!f.path.startsWith(prefix + '/') || f.path.slice(prefix.length + 1).includes('/')) continue;
      const v = (f.snapshots || []).find((s) => s.snapshotId === snapshotId);
      if (v) out.set(f.path, { name: f.name, path: f.path, type: v.type, size: v.sizeBytes, mtime: v.mtimeUsecs });
    }
    cookie = j && j.paginationCookie;
    if (!cookie) break;
    if (page === BROWSE_PAGES - 1) truncated = true;
  }
  const list = [...out.values()].sort((a, b) => (a.type === 'Directory' ? 0 : 1) - (b.type === 'Directory' ? 0 : 1) || a.name.localeCompare(b.name));
  return { list, truncated };
}

// ---- the restore wizard: #/restore or #/restore/OBJECT

export async function restoreWizard(el, ctx, [objectArg]) {
  const state = { object: null, snapshot: null, group: null, selected: new Map(), dir: null };
  const steps = h('ol', { class: 'steps' });
  const body = h('div', { class: 'wizard' });
  add(el, h('h1', {}, 'Restore'), steps, body);
  const stepNames = ['Object', 'Snapshot', 'Files', 'Target'];
  const show = (n) => {
    fill(steps, stepNames.map((s, i) => h('li', { class: i === n ? 'on' : i < n ? 'done' : null }, s)));
    clear(body);
  };
  const oj = await call('GET', `${V2}/search/objects`);
  const objects = ((oj && oj.objects) || []).filter((o) => o.objectType === 'kHost' || (o.environment === 'kSQL' && /kDatabase|kInstance/.test(o.objectType)));

  const pickObject = () => {
    show(0);
    add(body, h('p', { class: 'muted' }, 'Choose what to restore from: a host (files) or a PostgreSQL database (kSQL, to a point in time).'),
      table([
        { title: 'Object', cell: (o) => o.name },
        { title: 'Type', cell: (o) => `${o.environment} ${o.objectType}` },
        { title: 'Source', cell: (o) => o.sourceName || '' },
        { title: 'Protected by', cell: (o) => (((o.objectProtectionInfos || [])[0] || {}).protectionGroups || []).map((g) => g.name).join(', ') },
        { title: '', cell: (o) => h('button', { type: 'button', class: 'small', 'data-object': String(o.id), onclick: () => { state.object = o; o.environment === 'kSQL' ? pickPoint() : pickSnapshot(); } }, 'Choose') },
      ], objects, { id: 'restore-objects', empty: 'No objects: register a source and protect it first.' }));
  };

  // Step 2 (files): the object's snapshots on a timeline and in a list.
  const pickSnapshot = async () => {
    show(1);
    const sj = await call('GET', `${V2}/objects/${enc(state.object.id)}/snapshots`);
    const snaps = ((sj && sj.snapshots) || []).slice().sort((a, b) => a.snapshotTimestampUsecs - b.snapshotTimestampUsecs);
    add(body, h('p', {}, `Snapshots of ${state.object.name}: pick one on the timeline or in the list.`));
    if (snaps.length) {
      const t0 = snaps[0].snapshotTimestampUsecs, t1 = Math.max(snaps[snaps.length - 1].snapshotTimestampUsecs, t0 + 1);
      const line = h('div', { class: 'timeline', id: 'timeline' }, h('div', { class: 'timeline-axis' }));
      snaps.forEach((s) => {
        const dot = h('button', { type: 'button', class: 'timeline-dot', title: `${fmtTime(s.snapshotTimestampUsecs)} · ${s.protectionGroupName || ''}`, 'aria-label': `snapshot of ${fmtTime(s.snapshotTimestampUsecs)}`, onclick: () => choose(s) });
        dot.style.left = `${snaps.length === 1 ? 50 : 2 + 96 * (s.snapshotTimestampUsecs - t0) / (t1 - t0)}%`;
        add(line, dot);
      });
      add(body, line, h('div', { class: 'timeline-labels' }, h('span', {}, fmtTime(t0)), h('span', {}, fmtTime(t1))));
    }
    add(body, table([
      { title: 'Taken', cell: (s) => fmtTime(s.snapshotTimestampUsecs) },
      { title: 'Group', cell: (s) => s.protectionGroupName || s.protectionGroupId },
      { title: 'Run', cell: (s) => link(`#/run/${enc(s.protectionGroupId)}/${enc(s.protectionGroupRunId)}`, s.protectionGroupRunId) },
      { title: 'Type', cell: (s) => s.runType || '' },
      { title: 'Expires', cell: (s) => fmtTime(s.expiryTimeUsecs) },
      { title: 'Index', cell: (s) => badge(s.indexingStatus || '-') },
      { title: '', cell: (s) => h('button', { type: 'button', class: 'small', 'data-snapshot': s.id, onclick: () => choose(s) }, 'Choose') },
    ], snaps.slice().reverse(), { id: 'restore-snapshots', empty: 'This object has no snapshots yet.' }),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: pickObject }, 'Back')));
    async function choose(s) {
      state.snapshot = s;
      state.group = await call('GET', `${V2}/protection-groups/${enc(s.protectionGroupId)}`);
      state.selected.clear();
      state.dir = null;
      browse();
    }
  };

  // Step 3 (files): the snapshot's tree, from the group's include paths down.
  const browse = async () => {
    show(2);
    const roots = ((((state.group.physicalParams || {}).fileProtectionTypeParams || {}).objects || []).find((o) => o.id === state.object.id) || { filePaths: [] })
      .filePaths.map((f) => f.includedPath);
    const crumbs = h('div', { class: 'crumbs', id: 'crumbs' });
    const listing = h('div', { id: 'tree' });
    const chosen = h('p', { id: 'selected-count', class: 'muted' });
    const next = h('button', { type: 'button', id: 'to-target', disabled: true, onclick: target }, 'Next: target');
    const updateChosen = () => {
      chosen.textContent = state.selected.size ? `Selected: ${[...state.selected.keys()].join(', ')}` : 'Nothing selected yet.';
      next.disabled = !state.selected.size;
    };
    const row = (e) => h('tr', { 'data-path': e.path },
      h('td', {}, h('input', { type: 'checkbox', 'aria-label': 'select ' + e.path, checked: state.selected.has(e.path), onchange: (ev) => { if (ev.target.checked) state.selected.set(e.path, e); else state.selected.delete(e.path); updateChosen(); } })),
      h('td', {}, e.type === 'Directory' ? h('a', { href: '#', class: 'dir', onclick: (ev) => { ev.preventDefault(); open(e.path); } }, e.name + '/') : e.name),
      h('td', {}, e.type || ''), h('td', { class: 'num' }, e.type === 'Directory' ? '' : fmtBytes(e.size)), h('td', {}, fmtTime(e.mtime)));
    const render = (entries, note) => {
      fill(listing, entries.length ? h('table', { class: 'grid tree' },
        h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', { class: 'num' }, 'Size'), h('th', {}, 'Modified'))),
        h('tbody', {}, entries.map(row))) : h('p', { class: 'empty' }, 'This directory is empty in the snapshot.'), note ? h('p', { class: 'muted' }, note) : null);
    };
    async function open(dir) {
      state.dir = dir;
      fill(crumbs, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); top(); } }, 'Included paths'));
      const root = roots.find((r) => dir === r || dir.startsWith(r.replace(/\/+$/, '') + '/')) || '';
      let acc = root.replace(/\/+$/, '');
      add(crumbs, ' / ', h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); open(root); } }, root));
      for (const part of dir.slice(acc.length).split('/').filter(Boolean)) {
        acc += '/' + part;
        const here = acc;
        add(crumbs, ' / ', h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); open(here); } }, part));
      }
      listing.replaceChildren(h('p', { class: 'muted' }, 'Reading the index…'));
      const { list, truncated } = await listDir(dir, state.snapshot.id, state.object.id, state.snapshot.protectionGroupId);
      render(list, truncated ? 'Only the first entries are shown (a very large directory).' : null);
    }
    function top() {
      state.dir = null;
      fill(crumbs, h('span', {}, 'Included paths'));
      render(roots.map((r) => ({ name: r, path: r, type: 'Directory' })));
    }
    add(body, h('p', {}, `Snapshot of ${fmtTime(state.snapshot.snapshotTimestampUsecs)} (${state.snapshot.protectionGroupName}). Tick files or directories to restore; open a directory by its name.`),
      h('p', { class: 'muted small' }, 'The tree is read from the file index (indexed search by path prefix): the API has no directory-listing call.'),
      crumbs, listing, chosen,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: pickSnapshot }, 'Back'), next));
    top();
    updateChosen();
  };

  // Step 4 (files): where to and how, then create the recovery and follow it.
  async function target() {
    show(3);
    const orig = h('input', { type: 'radio', name: 'where', id: 'target-original', value: 'original' });
    const alt = h('input', { type: 'radio', name: 'where', id: 'target-alternate', value: 'alternate', checked: true });
    const dir = h('input', { id: 'target-dir', placeholder: '/restore/here', spellcheck: 'false' });
    const name = h('input', { id: 'recovery-name', value: `restore-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}` });
    const opt = (id, label, on) => h('label', { class: 'check' }, h('input', { type: 'checkbox', id, checked: on }), ' ', label);
    const ow = opt('opt-overwrite', 'Overwrite existing files', true);
    const pa = opt('opt-attributes', 'Preserve attributes (owner, mode, times)', true);
    const ce = opt('opt-continue', 'Continue on error', false);
    const form = h('form', { class: 'card form', id: 'target-form', onsubmit: async (ev) => {
      ev.preventDefault();
      const tp = { recoverTarget: { id: state.object.id } };
      if (alt.checked) {
        if (!dir.value.trim().startsWith('/')) { ctx.flash('The alternate directory must be an absolute path.', 'error'); return; }
        tp.alternateRestoreDirectory = dir.value.trim();
      } else tp.restoreToOriginalPaths = true;
      tp.overwriteExisting = ow.querySelector('input').checked;
      tp.preserveAttributes = pa.querySelector('input').checked;
      tp.continueOnError = ce.querySelector('input').checked;
      const req = {
        name: name.value.trim() || 'restore', snapshotEnvironment: 'kPhysical',
        physicalParams: { objects: [{ snapshotId: state.snapshot.id }], recoveryAction: 'RecoverFiles',
          recoverFileAndFolderParams: { filesAndFolders: [...state.selected.values()].map((e) => ({ absolutePath: e.path, isDirectory: e.type === 'Directory' })),
            targetEnvironment: 'kPhysical', physicalTargetParams: tp } },
      };
      try {
        const r = await call('POST', `${V2}/recoveries`, req);
        location.hash = `#/recovery/${enc(r.id)}`;
      } catch (e) { ctx.error(e); }
    } },
    h('p', {}, `Restoring ${state.selected.size} item(s) from the snapshot of ${fmtTime(state.snapshot.snapshotTimestampUsecs)} to ${state.object.name}.`),
    field('Recovery name', name),
    h('fieldset', {}, h('legend', {}, 'Where'),
      h('label', { class: 'check' }, orig, ' Original location (the same paths on the host)'),
      h('label', { class: 'check' }, alt, ' Alternate directory: each item lands under it by its base name'),
      field('Alternate directory', dir)),
    h('fieldset', {}, h('legend', {}, 'Options'), ow, pa, ce),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: browse }, 'Back'), h('button', { type: 'submit', id: 'restore-start' }, 'Start restore')));
    add(body, form);
  }

  // Step 2 (databases): a point in time within the restorable ranges, a new database name.
  async function pickPoint() {
    show(1);
    const o = state.object;
    let gids = (((o.objectProtectionInfos || [])[0] || {}).protectionGroups || []).map((g) => g.id);
    if (!gids.length) {
      const gj = await call('GET', `${V2}/protection-groups?environments=kSQL`);
      gids = ((gj && gj.protectionGroups) || []).map((g) => g.id);
    }
    if (!gids.length) { add(body, h('p', { class: 'empty' }, 'No kSQL protection group protects this object yet.')); return; }
    const rp = await call('POST', `${V2}/snapshots/restore-points`, { startTimeUsecs: Math.floor(nowUs() - 365 * 86400e6), endTimeUsecs: Math.floor(nowUs()), environment: 'kSQL', protectionGroupIds: gids });
    const ranges = ((rp && rp.timeRangeInfo) || {}).timeRanges || [];
    const fulls = (rp && rp.fullSnapshotInfo) || [];
    const when = h('input', { type: 'datetime-local', id: 'pit', step: '1', value: ranges.length ? toLocalInput(ranges[ranges.length - 1].endTimeUsecs) : '' });
    const newName = h('input', { id: 'pit-dbname', value: `${o.name}_restored`, required: true, spellcheck: 'false' });
    add(body, h('p', {}, `Restorable ranges of ${o.name} (a base backup and the WAL sealed after it):`),
      table([
        { title: 'From', cell: (r) => fmtTime(r.startTimeUsecs) },
        { title: 'To', cell: (r) => fmtTime(r.endTimeUsecs) },
        { title: 'Base snapshot', cell: (r) => h('code', {}, String(r.baseSnapshotId || '').slice(0, 12)) },
        { title: '', cell: (r) => h('button', { type: 'button', class: 'small secondary', onclick: () => { when.value = toLocalInput(r.endTimeUsecs); } }, 'Latest of range') },
      ], ranges, { id: 'pit-ranges', empty: 'No continuous range yet.' }),
      h('p', { class: 'muted' }, `${fulls.length} base backup(s) in the last year.`),
      h('form', { class: 'card form', id: 'pit-form', onsubmit: async (ev) => {
        ev.preventDefault();
        const t = fromLocalInput(when.value);
        const r = ranges.find((x) => t >= x.startTimeUsecs && t <= x.endTimeUsecs);
        if (!t || !r) { ctx.flash('Pick a time inside one of the restorable ranges.', 'error'); return; }
        const req = { name: `pitr-${o.name}`, snapshotEnvironment: 'kSQL', mssqlParams: { recoveryAction: 'RecoverApps',
          recoverAppParams: [{ snapshotId: r.baseSnapshotId, objectInfo: { id: o.id }, pointInTimeUsecs: t, targetEnvironment: 'kSQL',
            sqlTargetParams: { recoverToNewSource: false, originalSourceConfig: { newDatabaseName: newName.value.trim(), overwritingPolicy: 'FailIfExists' } } }] } };
        try { const rec = await call('POST', `${V2}/recoveries`, req); location.hash = `#/recovery/${enc(rec.id)}`; } catch (e) { ctx.error(e); }
      } }, field('Point in time', when), field('Restore as database', newName, 'A new name beside the original (an existing name is refused).'),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: pickObject }, 'Back'), h('button', { type: 'submit' }, 'Start restore'))));
  }

  const pre = objectArg && objects.find((o) => String(o.id) === objectArg);
  if (pre) { state.object = pre; pre.environment === 'kSQL' ? await pickPoint() : await pickSnapshot(); } else pickObject();
}

// ---- search and download

async function download(ctx, snapshotId, path, name) {
  try {
    const b = await blob(`${V2}/snapshots/${enc(snapshotId)}/download-file?filePath=${enc(path)}`);
    const url = URL.createObjectURL(b);
    const a = h('a', { href: url, download: name, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    ctx.flash(`Downloaded ${name} (${fmtBytes(b.size)}).`, 'ok');
  } catch (e) { ctx.error(e); }
}

export async function search(el, ctx, [q]) {
  const input = h('input', { id: 'search-text', type: 'search', value: q || '', placeholder: 'report.pdf, *.log or /home/a/docs', spellcheck: 'false' });
  const results = h('div', { id: 'search-results' });
  add(el, h('h1', {}, 'Search across snapshots'),
    h('form', { class: 'search-bar', id: 'search-form', onsubmit: (ev) => { ev.preventDefault(); run(); } }, input, h('button', { type: 'submit' }, 'Search')),
    h('p', { class: 'muted small' }, 'Text matches file names (case-insensitive); with a "/" it matches whole paths; "*" is any run of characters.'),
    results);
  async function run() {
    results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
    const j = await call('POST', `${V2}/search/indexed-objects`, { objectType: 'Files', fileParams: { searchString: input.value.trim() }, count: 200 });
    const files = (j && j.files) || [];
    fill(results, h('p', { class: 'muted' }, `${j.count || 0} match(es)${j.paginationCookie ? ', the first 200 shown' : ''}.`), table([
      { title: 'Name', cell: (f) => f.name },
      { title: 'Path', cell: (f) => h('code', {}, f.path) },
      { title: 'Type', cell: (f) => f.type },
      { title: 'Host', cell: (f) => (f.sourceInfo || {}).name || '' },
      { title: 'Version', cell: (f) => {
        const sel = h('select', { class: 'version', 'aria-label': 'snapshot of ' + f.path }, (f.snapshots || []).map((s) => h('option', { value: s.snapshotId }, `${fmtTime(s.snapshotTimestampUsecs)} · ${s.type === 'Directory' ? 'dir' : fmtBytes(s.sizeBytes)}`)));
        f._sel = sel;
        return sel;
      } },
      { title: '', cell: (f) => f.type === 'File' ? h('button', { type: 'button', class: 'small', 'data-download': f.path, onclick: () => download(ctx, f._sel.value, f.path, f.name) }, 'Download') : '' },
    ], files, { id: 'search-table', empty: 'No file matches.', key: (f) => f.path }));
  }
  if (q) await run();
}

// ---- recoveries

function recStats(r) {
  const apps = (r.mssqlParams || {}).recoverAppParams || [];
  if (apps.length) return `${apps.length} database object(s), ${fmtBytes(apps.reduce((n, o) => n + (o.bytesRestored || 0), 0))}`;
  const c = r.cofferStats || {};
  const objs = (r.physicalParams || {}).objects || [];
  const bytes = c.bytes ?? objs.reduce((n, o) => n + (o.bytesRestored || 0), 0);
  return `${c.files ?? '-'} files, ${fmtBytes(bytes)}`;
}

export async function recoveries(el, ctx) {
  const box = h('div', {});
  add(el, h('h1', {}, 'Recoveries'), box);
  ctx.poll(async () => {
    const j = await call('GET', `${V2}/recoveries`);
    const list = ((j && j.recoveries) || []).slice().sort((a, b) => b.startTimeUsecs - a.startTimeUsecs);
    fill(box, table([
      { title: 'Name', cell: (r) => link(`#/recovery/${enc(r.id)}`, r.name || r.id) },
      { title: 'Action', cell: (r) => r.recoveryAction || (r.mssqlParams || {}).recoveryAction || '' },
      { title: 'Environment', cell: (r) => r.snapshotEnvironment || '' },
      { title: 'Status', cell: (r) => badge(r.status) },
      { title: 'Started', cell: (r) => fmtTime(r.startTimeUsecs) },
      { title: 'Duration', cell: (r) => fmtDuration(r.startTimeUsecs, r.endTimeUsecs) },
      { title: 'Restored', cell: (r) => recStats(r) },
    ], list, { id: 'recoveries', empty: 'No recoveries yet.' }));
    return list.every((r) => REC_DONE.test(r.status));
  }, 2000, 900);
}

export async function recoveryDetail(el, ctx, [id]) {
  const box = h('div', {});
  add(el, box);
  ctx.poll(async () => {
    const r = await call('GET', `${V2}/recoveries/${enc(id)}`);
    const pp = r.physicalParams || {};
    const items = ((pp.recoverFileAndFolderParams || {}).filesAndFolders) || [];
    const apps = (r.mssqlParams || {}).recoverAppParams || [];
    const done = items.filter((i) => /Finished|Succeeded|Failed|Skipped/.test(i.status || '')).length;
    const pct = REC_DONE.test(r.status) ? 100 : items.length ? Math.round(100 * done / items.length) : 0;
    const bar = h('div', { class: 'progress-fill ' + (/Fail/.test(r.status) ? 'bad' : REC_DONE.test(r.status) ? 'ok' : 'busy') });
    bar.style.width = `${pct}%`;
    fill(box, h('div', { class: 'title-row' }, h('h1', {}, `Recovery ${r.name || r.id}`),
      REC_DONE.test(r.status) ? null : h('button', { type: 'button', class: 'small danger', onclick: async () => { try { await call('POST', `${V2}/recoveries/${enc(id)}/cancel`); ctx.flash('Cancel requested.', 'ok'); } catch (e) { ctx.error(e); } } }, 'Cancel')),
      h('div', { class: 'progress' }, bar),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', {}, h('span', { id: 'recovery-status', 'data-status': r.status }, badge(r.status))),
        h('dt', {}, 'Action'), h('dd', {}, r.recoveryAction || (r.mssqlParams || {}).recoveryAction || ''),
        h('dt', {}, 'Started'), h('dd', {}, fmtTime(r.startTimeUsecs)),
        h('dt', {}, 'Ended'), h('dd', {}, fmtTime(r.endTimeUsecs)),
        h('dt', {}, 'Duration'), h('dd', {}, fmtDuration(r.startTimeUsecs, r.endTimeUsecs)),
        h('dt', {}, 'Restored'), h('dd', {}, recStats(r))),
      items.length ? [h('h2', {}, 'Files and folders'), table([
        { title: 'Path', cell: (i) => h('code', {}, i.absolutePath) },
        { title: 'Status', cell: (i) => badge(i.status) },
        { title: 'Destination', cell: (i) => i.destinationDir || '(original location)' },
      ], items)] : null,
      apps.length ? [h('h2', {}, 'Databases'), table([
        { title: 'Object', cell: (a) => ((a.objectInfo || {}).name) || (a.objectInfo && a.objectInfo.id ? `object ${a.objectInfo.id}` : '-') },
        { title: 'Status', cell: (a) => badge(a.status) },
        { title: 'Point in time', cell: (a) => fmtTime(a.pointInTimeUsecs) },
        { title: 'Bytes', cell: (a) => fmtBytes(a.bytesRestored), cls: 'num' },
      ], apps)] : null,
      (r.messages || []).length ? [h('h2', {}, 'Messages'), h('ul', { class: 'messages' }, r.messages.map((m) => h('li', {}, m)))] : null);
    return REC_DONE.test(r.status);
  }, 1000, 3600);
}

// ---- databases: the site restore API

// generic(data, omit): a table of whatever objects the site API answers (their first 7 scalar
// members, less those named in omit), scrolling sideways when wide.
function generic(data, omit = []) {
  const rows = Array.isArray(data) ? data : Object.values(data || {}).find(Array.isArray) || [];
  const keys = [];
  for (const r of rows) for (const [k, v] of Object.entries(r || {})) if (!keys.includes(k) && !omit.includes(k) && keys.length < 7 && (v === null || typeof v !== 'object')) keys.push(k);
  return h('div', { class: 'scroll' }, table(keys.map((k) => ({ title: k.replace(/_/g, ' '), cell: (r) => r[k] === null || r[k] === undefined ? '' : /status/.test(k) ? badge(r[k]) : String(r[k]) })), rows, { empty: 'None.' }));
}

export async function databases(el, ctx) {
  add(el, h('h1', {}, 'Databases'), h('p', { class: 'muted' }, 'PostgreSQL instances protected through kSQL, as the site restore API (/data-protection/v2/sites/…) shows them: a site is an instance, a job a protection group, an execution a run.'));
  const oj = await call('GET', `${V2}/search/objects?environments=kSQL`);
  const sites = ((oj && oj.objects) || []).filter((o) => o.objectType === 'kInstance');
  if (!sites.length) { add(el, h('p', { class: 'empty', id: 'no-sites' }, 'No PostgreSQL instance is registered (register a kSQL source through the API or the CLI).')); return; }
  for (const s of sites) {
    const base = `/data-protection/v2/sites/${enc(s.id)}`;
    const sec = h('section', { class: 'card site' }, h('h2', {}, `${s.name} `, h('span', { class: 'muted' }, `site ${s.id} · ${s.sourceName || ''}`)));
    add(el, sec);
    try {
      const [dbs, jobs, restores] = await Promise.all([call('GET', `${base}/databases`), call('GET', `${base}/jobs`), call('GET', `${base}/restores`)]);
      add(sec, h('h3', {}, 'Databases'), generic(dbs), h('h3', {}, 'Jobs'), generic(jobs));
      const jobRows = Array.isArray(jobs) ? jobs : Object.values(jobs || {}).find(Array.isArray) || [];
      for (const j of jobRows.slice(0, 10)) {
        const ex = await call('GET', `${base}/jobs/${enc(j.job_id)}/executions`);
        add(sec, h('h3', {}, `Executions of ${j.job_name || j.job_id}`), generic(ex, ['job_id', 'job_name']));
      }
      add(sec, h('h3', {}, 'Restores'), generic(restores));
    } catch (e) { add(sec, h('p', { class: 'flash error' }, e.message)); }
  }
}
