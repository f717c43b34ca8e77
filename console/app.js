// app.js: the console's shell. A hash router (#/page/args) renders one page at a time into <main>;
// without a session every route shows the login form. Pages register their pollers through ctx so
// that leaving a page stops them; every poller is bounded in count.
import { h, clear, fill, add, field } from './dom.js';
import { session, call, setUnauthorizedHandler, V2 } from './api.js';
import * as protect from './pages_protect.js';
import * as recover from './pages_recover.js';

const main = document.getElementById('main');
let current = null; // the page's context: { timers: [], alive }
let loginMessage = '';

const routes = {
  dashboard: protect.dashboard,
  policies: protect.policies,
  policy: protect.policyEdit,
  groups: protect.groups,
  group: protect.groupDetail,
  'group-edit': protect.groupEdit,
  run: protect.runDetail,
  sources: protect.sources,
  restore: recover.restoreWizard,
  search: recover.search,
  recoveries: recover.recoveries,
  recovery: recover.recoveryDetail,
  databases: recover.databases,
};

// A page's context: where it renders, how it reports, how it polls.
function makeContext(page) {
  const ctx = {
    page, alive: true, timers: [],
    // poll(fn, everyMs, maxTimes): calls fn until it returns true, the page is left or maxTimes ran out.
    poll(fn, everyMs, maxTimes) {
      let n = 0;
      const tick = async () => {
        if (!ctx.alive) return;
        let done = false;
        try { done = await fn(); } catch (e) { ctx.error(e); done = true; }
        if (!done && ctx.alive && ++n < maxTimes) ctx.timers.push(setTimeout(tick, everyMs));
      };
      tick();
    },
    // flash(text, kind): a message at the top of the page.
    flash(text, kind = 'info') {
      const box = document.getElementById('flash');
      if (!box) return;
      clear(box).appendChild(h('div', { class: 'flash ' + kind, role: kind === 'error' ? 'alert' : 'status' }, text));
    },
    error(e) { if (e && e.status !== 401) ctx.flash(e.message || String(e), 'error'); },
    go(hash) { location.hash = hash; },
  };
  return ctx;
}

function leave() {
  if (!current) return;
  current.alive = false;
  current.timers.forEach(clearTimeout);
  current = null;
}

function showLogin(message) {
  leave();
  document.getElementById('nav').hidden = true;
  document.getElementById('who').hidden = true;
  const key = h('input', { type: 'password', id: 'login-key', autocomplete: 'off', required: true, spellcheck: 'false' });
  const tenant = h('input', { type: 'text', id: 'login-tenant', required: true, spellcheck: 'false', value: sessionStorage.getItem('coffer.lastTenant') || '' });
  const msg = h('p', { id: 'login-error', class: 'flash error', role: 'alert', hidden: !message }, message || '');
  const button = h('button', { type: 'submit', id: 'login-submit' }, 'Log in');
  const form = h('form', { id: 'login', class: 'card login', onsubmit: async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    session.start(key.value.trim(), tenant.value.trim());
    sessionStorage.setItem('coffer.lastTenant', tenant.value.trim());
    try {
      await call('GET', `${V2}/policies`); // any read proves the key and tenant
      loginMessage = '';
      if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = '#/dashboard';
      else render();
    } catch (e) {
      session.end();
      msg.hidden = false;
      msg.textContent = e.status === 401 ? 'That API key was refused (401). Check the key and try again.' : e.message;
      button.disabled = false;
    }
  } },
  h('h1', {}, 'Log in to Coffer'),
  h('p', { class: 'muted' }, 'The key and tenant stay in this browser tab only (session storage) and are sent with each API request.'),
  msg,
  field('API key', key),
  field('Tenant id', tenant, 'The X-IBM-Tenant-Id your resources belong to.'),
  h('div', { class: 'actions' }, button));
  clear(main).appendChild(form);
  key.focus();
}

async function render() {
  if (!session.active()) { showLogin(loginMessage); return; }
  leave();
  const parts = (location.hash.replace(/^#\/?/, '') || 'dashboard').split('/').map(decodeURIComponent);
  const name = parts[0];
  const page = routes[name] || protect.dashboard;
  document.getElementById('nav').hidden = false;
  document.getElementById('who').hidden = false;
  document.getElementById('who-tenant').textContent = 'tenant ' + session.tenant();
  for (const a of document.querySelectorAll('#nav a')) {
    const on = a.dataset.page === name || (a.dataset.page === 'groups' && /^(group|run|group-edit)$/.test(name)) ||
      (a.dataset.page === 'policies' && name === 'policy') || (a.dataset.page === 'recoveries' && name === 'recovery');
    a.classList.toggle('active', on);
  }
  const ctx = makeContext(name);
  current = ctx;
  const body = h('div', { class: 'page', id: 'page-' + name });
  fill(main, h('div', { id: 'flash' }), body);
  try {
    await page(body, ctx, parts.slice(1));
  } catch (e) {
    if (ctx.alive) ctx.error(e);
  }
}

setUnauthorizedHandler((message) => {
  session.end();
  loginMessage = message;
  showLogin(message);
});

document.getElementById('logout').addEventListener('click', () => {
  session.end();
  loginMessage = '';
  showLogin('');
});
// An action that failed without its own handler (a click's async work): shown on the page.
window.addEventListener('unhandledrejection', (ev) => {
  if (current) current.error(ev.reason);
  ev.preventDefault();
});
window.addEventListener('hashchange', render);
render();
