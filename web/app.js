// The dc dashboard: plain JavaScript, no build step, no outside code.
// Everything a user, an app or the database can put into a value is shown
// with textContent (never as HTML); the page's Content-Security-Policy
// allows only this file to run.
'use strict';

const API = '/api/v1';
const COMMANDS = ['START', 'STOP', 'RESTART', 'ENABLE', 'DISABLE'];
const CHART_MINUTES = 30;

const state = {
  token: null,
  identity: null,       // {name, role}
  managers: new Map(),  // name -> manager
  apps: new Map(),      // app_id -> app
  lastEventId: null,    // newest event seen (SSE id)
  streamAbort: null,
  historyApp: null,
  historyRows: new Map(),  // "cmd_id app_id" -> row, for the open history
  finished: [],         // [{at: ms, ok: bool}] for the chart
  refreshTimer: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function toast(message, bad) {
  const node = el('div', message, bad ? 'toast bad' : 'toast');
  $('toasts').appendChild(node);
  setTimeout(() => node.remove(), 6000);
}

function fmtTime(iso) {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString();
}

function canAct() {
  return state.identity && (state.identity.role === 'operator' || state.identity.role === 'admin');
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, body) {
  const headers = {Authorization: 'Bearer ' + state.token};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const name = res.headers.get('X-Dc-Identity');
  const role = res.headers.get('X-Dc-Role');
  if (name && role) setIdentity({name, role});
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) data = await res.json();
  if (res.status === 401) {
    signOut('The token was refused; sign in again.');
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return {data, seq: Number(res.headers.get('X-Dc-Event-Seq') || 0)};
}

// ------------------------------------------------------------------ sign in

function setIdentity(identity) {
  const changed = !state.identity || state.identity.role !== identity.role;
  state.identity = identity;
  $('who').textContent = identity.name + ' (' + identity.role + ')';
  $('broadcast-panel').hidden = !canAct();
  if (changed) renderApps();
}

async function signIn(token) {
  state.token = token;
  try {
    await loadAll();
  } catch (e) {
    state.token = null;
    throw e;
  }
  sessionStorage.setItem('dc-token', token);
  $('sign-in').hidden = true;
  $('board').hidden = false;
  $('sign-out').hidden = false;
  startStream();
  state.refreshTimer = setInterval(() => refreshManagers().catch(() => {}), 10000);
}

function signOut(message) {
  sessionStorage.removeItem('dc-token');
  if (state.streamAbort) state.streamAbort.abort();
  if (state.refreshTimer) clearInterval(state.refreshTimer);
  state.token = null;
  state.identity = null;
  state.streamAbort = null;
  state.lastEventId = null;
  $('board').hidden = true;
  $('sign-in').hidden = false;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  setConnection('signed out', 'badge-muted');
  $('sign-in-error').textContent = message || '';
}

// ------------------------------------------------------------------ load

async function refreshManagers() {
  const {data, seq} = await api('GET', '/managers');
  state.managers = new Map(data.managers.map((m) => [m.name, m]));
  renderManagers();
  return seq;
}

async function loadAll() {
  const managersSeq = await refreshManagers();
  const {data: appsData, seq: appsSeq} = await api('GET', '/apps');
  state.apps = new Map(appsData.apps.map((a) => [a.app_id, a]));
  const {data: recent} = await api('GET', '/commands?order=desc&limit=1000');
  const since = Date.now() - CHART_MINUTES * 60000;
  state.finished = [];
  for (const row of recent.commands) {
    if (row.flag === 0 || !row.executed_at) continue;
    const at = new Date(row.executed_at).getTime();
    if (at >= since) state.finished.push({at, ok: row.flag === 1});
  }
  // Events after the older of the two snapshots bring both up to date
  // (replaying one already seen changes nothing).
  if (state.lastEventId === null) state.lastEventId = Math.min(managersSeq, appsSeq);
  renderManagerOptions();
  renderApps();
  renderChart();
  if (state.historyApp) await openHistory(state.historyApp);
}

// ------------------------------------------------------------------ events

function setConnection(text, className) {
  const badge = $('connection');
  badge.textContent = text;
  badge.className = 'badge ' + className;
}

async function startStream() {
  const controller = new AbortController();
  state.streamAbort = controller;
  while (!controller.signal.aborted && state.token) {
    try {
      const headers = {Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream'};
      if (state.lastEventId !== null) headers['Last-Event-ID'] = String(state.lastEventId);
      const res = await fetch(API + '/events', {headers, signal: controller.signal, cache: 'no-store'});
      if (res.status === 401) {
        signOut('The token was refused; sign in again.');
        return;
      }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setConnection('live', 'badge-ok');
      await readStream(res.body.getReader());
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    setConnection('reconnecting…', 'badge-warn');
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function readStream(reader) {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = {id: null, type: 'message', data: []};
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (event.data.length) dispatch(event);
        event = {id: null, type: 'message', data: []};
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let text = colon < 0 ? '' : line.slice(colon + 1);
      if (text.startsWith(' ')) text = text.slice(1);
      if (field === 'id') event.id = text;
      else if (field === 'event') event.type = text;
      else if (field === 'data') event.data.push(text);
    }
  }
}

function dispatch(event) {
  let data;
  try {
    data = JSON.parse(event.data.join('\n'));
  } catch (e) {
    return;
  }
  if (event.type === 'reset') {
    state.lastEventId = null;
    loadAll().catch((e) => toast('Reload failed: ' + e.message, true));
    return;
  }
  if (event.id !== null && event.id !== '') state.lastEventId = Number(event.id);
  if (event.type === 'manager') applyManager(data);
  else if (event.type === 'app') applyApp(data);
  else if (event.type === 'command') applyCommand(data);
}

function applyManager(e) {
  const m = state.managers.get(e.name) || {name: e.name};
  for (const key of ['host', 'pid', 'mode', 'live', 'last_seen', 'started_at', 'version']) {
    if (key in e) m[key] = e[key];
  }
  state.managers.set(e.name, m);
  renderManagers();
  renderManagerOptions();
}

function applyApp(e) {
  if (e.action === 'removed') {
    state.apps.delete(e.app_id);
  } else {
    const app = state.apps.get(e.app_id) || {app_id: e.app_id, status: 'STOPPED', disable: false};
    const keys = {
      added: ['name', 'manager', 'exec', 'schedule', 'disable'],
      updated: ['name', 'manager', 'exec', 'schedule', 'disable'],
      state: ['status', 'disable', 'pid', 'exit_code', 'started_at', 'stopped_at'],
      next_run: ['next_run_at'],
    }[e.action] || [];
    for (const key of keys) if (key in e) app[key] = e[key];
    state.apps.set(e.app_id, app);
  }
  renderManagerOptions();
  renderApps();
}

function applyCommand(e) {
  const app = state.apps.get(e.app_id);
  if (app) {
    if (e.action === 'recorded' || (e.action !== 'finished' && 'command' in e && app.cmd_id !== e.cmd_id)) {
      app.cmd_id = e.cmd_id;
      if ('command' in e) {
        app.cmd = e.command;
        app.cmd_name = e.command_name;
      }
      if ('issued_by' in e) app.cmd_issued_by = e.issued_by;
      app.cmd_flag = 0;
      app.cmd_flag_name = 'PENDING';
      app.cmd_result = null;
      app.cmd_path = null;
    }
    if (e.action === 'finished' && (app.cmd_id === e.cmd_id || 'command' in e)) {
      app.cmd_id = e.cmd_id;
      if ('command' in e) app.cmd_name = e.command_name;
      app.cmd_flag = e.flag;
      app.cmd_flag_name = e.flag_name;
      app.cmd_result = e.result;
      app.cmd_path = e.path;
    }
    renderApps();
  }
  if (e.action === 'finished') {
    state.finished.push({at: e.executed_at ? new Date(e.executed_at).getTime() : Date.now(), ok: e.flag === 1});
    renderChart();
  }
  if (state.historyApp === e.app_id) {
    const key = e.cmd_id + ' ' + e.app_id;
    const row = state.historyRows.get(key) || {cmd_id: e.cmd_id, app_id: e.app_id, flag: 0, flag_name: 'PENDING'};
    for (const k of ['command_name', 'issued_by', 'issued_at', 'claimed_by', 'flag', 'flag_name', 'result', 'path']) {
      if (k in e) row[k] = e[k];
    }
    state.historyRows.set(key, row);
    renderHistory();
  }
}

// ------------------------------------------------------------------ render

function badge(text, kind) {
  return el('span', text, 'badge badge-' + kind);
}

function modeBadge(mode) {
  const kind = mode === 'broker' ? 'ok' : mode === 'fallback' ? 'warn' : 'muted';
  const node = badge(mode || '-', kind);
  node.dataset.mode = mode || '';
  return node;
}

function renderManagers() {
  const body = $('managers').tBodies[0];
  body.replaceChildren();
  const names = [...state.managers.keys()].sort();
  for (const name of names) {
    const m = state.managers.get(name);
    const tr = el('tr');
    tr.dataset.manager = name;
    tr.appendChild(el('td', name));
    const mode = el('td');
    mode.appendChild(modeBadge(m.mode));
    tr.appendChild(mode);
    const live = el('td');
    live.appendChild(badge(m.live ? 'live' : 'not live', m.live ? 'ok' : 'bad'));
    tr.appendChild(live);
    tr.appendChild(el('td', m.host || '-'));
    tr.appendChild(el('td', m.pid === undefined ? '-' : m.pid));
    tr.appendChild(el('td', fmtTime(m.last_seen)));
    body.appendChild(tr);
  }
  $('managers-empty').hidden = names.length > 0;
}

function managerNames() {
  const names = new Set(state.managers.keys());
  for (const app of state.apps.values()) if (app.manager) names.add(app.manager);
  return [...names].sort();
}

function fillSelect(select, first, names) {
  const current = select.value;
  select.replaceChildren();
  select.appendChild(first);
  for (const name of names) select.appendChild(el('option', name));
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

function renderManagerOptions() {
  const names = managerNames();
  const all = el('option', 'all');
  all.value = '';
  fillSelect($('filter-manager'), all, names);
  const every = el('option', 'every app of every manager');
  every.value = '';
  fillSelect($('broadcast-target'), every, names);
}

function statusKind(status) {
  return {RUNNING: 'ok', FAILED: 'bad', STARTING: 'warn', STOPPING: 'warn'}[status] || 'muted';
}

function flagKind(flag) {
  return flag === 1 ? 'ok' : flag === 2 ? 'bad' : 'warn';
}

function appMatches(app) {
  const query = $('search').value.trim().toLowerCase();
  const manager = $('filter-manager').value;
  const status = $('filter-status').value;
  if (manager && app.manager !== manager) return false;
  if (status && app.status !== status) return false;
  if (!query) return true;
  return [app.app_id, app.name, app.manager].some((v) => String(v || '').toLowerCase().includes(query));
}

function renderApps() {
  const body = $('apps').tBodies[0];
  body.replaceChildren();
  const ids = [...state.apps.keys()].sort();
  let shown = 0;
  for (const id of ids) {
    const app = state.apps.get(id);
    if (!appMatches(app)) continue;
    shown += 1;
    const tr = el('tr');
    tr.dataset.app = id;
    const name = el('td');
    name.appendChild(el('span', id, 'app-id'));
    if (app.name && app.name !== id) name.appendChild(el('span', app.name, 'detail'));
    tr.appendChild(name);
    tr.appendChild(el('td', app.manager || '-'));
    const status = el('td');
    const statusBadge = badge(app.status || '-', statusKind(app.status));
    statusBadge.classList.add('status');
    status.appendChild(statusBadge);
    if (app.exit_code !== null && app.exit_code !== undefined && app.status !== 'RUNNING') {
      status.appendChild(el('span', 'exit ' + app.exit_code, 'detail'));
    }
    tr.appendChild(status);
    tr.appendChild(el('td', app.pid === null || app.pid === undefined ? '-' : app.pid, 'pid'));
    tr.appendChild(el('td', app.disable ? 'no' : 'yes', 'enabled'));
    tr.appendChild(el('td', app.schedule || '-'));
    tr.appendChild(el('td', app.schedule ? fmtTime(app.next_run_at) : '-'));
    const last = el('td', null, 'last-command');
    if (app.cmd_name) {
      last.appendChild(el('span', app.cmd_name + ' '));
      last.appendChild(badge(app.cmd_flag_name || 'PENDING', flagKind(app.cmd_flag)));
      const via = [app.cmd_path ? 'via ' + app.cmd_path : null, app.cmd_issued_by ? 'by ' + app.cmd_issued_by : null]
          .filter(Boolean).join(', ');
      if (via) last.appendChild(el('span', via, 'detail'));
      if (app.cmd_result) last.appendChild(el('span', app.cmd_result, 'detail'));
    } else {
      last.textContent = '-';
    }
    tr.appendChild(last);
    const actions = el('td', null, 'actions-col');
    const box = el('div', null, 'actions');
    if (canAct()) {
      for (const command of COMMANDS) {
        const button = el('button', command.charAt(0) + command.slice(1).toLowerCase());
        button.type = 'button';
        button.dataset.command = command;
        button.setAttribute('aria-label', command + ' ' + id);
        button.addEventListener('click', () => confirmCommand({app_id: id, command}));
        box.appendChild(button);
      }
    }
    const history = el('button', 'History');
    history.type = 'button';
    history.setAttribute('aria-label', 'History of ' + id);
    history.addEventListener('click', () => openHistory(id).catch((e) => toast(e.message, true)));
    box.appendChild(history);
    actions.appendChild(box);
    tr.appendChild(actions);
    body.appendChild(tr);
  }
  $('apps-count').textContent = shown + ' of ' + ids.length + ' apps';
}

function renderChart() {
  const canvas = $('chart');
  const ctx = canvas.getContext('2d');
  const now = Date.now();
  const since = now - CHART_MINUTES * 60000;
  state.finished = state.finished.filter((f) => f.at >= since);
  const buckets = Array.from({length: CHART_MINUTES}, () => ({ok: 0, bad: 0}));
  for (const f of state.finished) {
    const i = Math.min(CHART_MINUTES - 1, Math.floor((f.at - since) / 60000));
    if (f.ok) buckets[i].ok += 1;
    else buckets[i].bad += 1;
  }
  const max = Math.max(1, ...buckets.map((b) => b.ok + b.bad));
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const barWidth = w / CHART_MINUTES;
  buckets.forEach((b, i) => {
    const okHeight = (b.ok / max) * (h - 20);
    const badHeight = (b.bad / max) * (h - 20);
    ctx.fillStyle = '#1a7f37';
    ctx.fillRect(i * barWidth + 2, h - okHeight, barWidth - 4, okHeight);
    ctx.fillStyle = '#c62828';
    ctx.fillRect(i * barWidth + 2, h - okHeight - badHeight, barWidth - 4, badHeight);
  });
  ctx.fillStyle = '#6b7385';
  ctx.font = '11px sans-serif';
  ctx.fillText('max ' + max + '/min', 4, 12);
  const ok = buckets.reduce((n, b) => n + b.ok, 0);
  const bad = buckets.reduce((n, b) => n + b.bad, 0);
  $('chart-summary').textContent = 'Last ' + CHART_MINUTES + ' minutes, one bar a minute: ' + ok +
      ' executed (green), ' + bad + ' not executed (red).';
}

async function openHistory(appId) {
  state.historyApp = appId;
  state.historyRows = new Map();
  const {data} = await api('GET', '/commands?order=desc&limit=50&app_id=' + encodeURIComponent(appId));
  for (const row of data.commands) state.historyRows.set(row.cmd_id + ' ' + row.app_id, row);
  $('history-title').textContent = 'History of ' + appId;
  $('history-panel').hidden = false;
  renderHistory();
  $('history-close').focus();
}

function renderHistory() {
  const body = $('history').tBodies[0];
  body.replaceChildren();
  const rows = [...state.historyRows.values()].sort((a, b) => (b.seq || Infinity) - (a.seq || Infinity) ||
      String(b.issued_at).localeCompare(String(a.issued_at)));
  for (const row of rows) {
    const tr = el('tr');
    tr.appendChild(el('td', fmtTime(row.issued_at)));
    tr.appendChild(el('td', row.command_name || '-'));
    tr.appendChild(el('td', row.issued_by || '-'));
    const outcome = el('td');
    outcome.appendChild(badge(row.flag_name || 'PENDING', flagKind(row.flag)));
    tr.appendChild(outcome);
    tr.appendChild(el('td', row.path || '-'));
    tr.appendChild(el('td', row.result || '-'));
    body.appendChild(tr);
  }
}

// ------------------------------------------------------------------ actions

let pending = null;  // the command the open dialog would send

function validateArgs() {
  const text = $('args').value.trim() || '{}';
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    $('args-error').textContent = 'Not valid JSON: ' + e.message;
    $('confirm-ok').disabled = true;
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    $('args-error').textContent = 'The arguments must be a JSON object, e.g. {"company_id": "123456"}';
    $('confirm-ok').disabled = true;
    return null;
  }
  $('args-error').textContent = '';
  $('confirm-ok').disabled = false;
  return parsed;
}

function confirmCommand(request) {
  pending = request;
  const target = request.app_id === '*' ?
      (request.manager ? 'every app of manager ' + request.manager : 'every app of every manager') :
      'app ' + request.app_id;
  $('confirm-title').textContent = request.command + ' ' + (request.app_id === '*' ? '(broadcast)' : request.app_id);
  $('confirm-text').textContent = 'Send ' + request.command + ' to ' + target + '?';
  const isStart = request.command === 'START' || request.command === 'RESTART';
  $('args-editor').hidden = !isStart;
  $('args').value = '{}';
  $('args-error').textContent = '';
  $('confirm-ok').disabled = false;
  // Escape closes without a value: never let an earlier "ok" stand.
  $('confirm').returnValue = '';
  $('confirm').showModal();
  (isStart ? $('args') : $('confirm-ok')).focus();
}

async function sendPending() {
  const request = pending;
  pending = null;
  if (!request) return;
  const body = {app_id: request.app_id, command: request.command};
  if (request.manager) body.manager = request.manager;
  if (!$('args-editor').hidden) {
    const args = validateArgs();
    if (args === null) return;
    body.args = args;
  }
  try {
    const {data} = await api('POST', '/commands', body);
    const apps = data.apps.length === 1 ? data.apps[0] : data.apps.length + ' apps';
    toast(request.command + ' issued to ' + apps + (data.published ? '' : ' (stored; the broker is down, managers ' +
        'will take it from the database)'));
  } catch (e) {
    toast(request.command + ' refused: ' + e.message, true);
  }
}

// ------------------------------------------------------------------ wiring

function init() {
  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    $('sign-in-error').textContent = '';
    signIn(token).then(() => {
      $('token').value = '';
    }).catch((e) => {
      $('sign-in-error').textContent = e.status === 401 ? 'That token is not known.' : 'Sign-in failed: ' + e.message;
    });
  });
  $('sign-out').addEventListener('click', () => signOut());
  for (const id of ['search', 'filter-manager', 'filter-status']) {
    $(id).addEventListener('input', renderApps);
  }
  $('history-close').addEventListener('click', () => {
    state.historyApp = null;
    $('history-panel').hidden = true;
  });
  $('args').addEventListener('input', validateArgs);
  $('confirm').addEventListener('close', () => {
    if ($('confirm').returnValue === 'ok') sendPending();
    pending = null;
  });
  $('confirm-form').addEventListener('submit', (event) => {
    if (event.submitter && event.submitter.value === 'ok' && !$('args-editor').hidden && validateArgs() === null) {
      event.preventDefault();
    }
  });
  $('broadcast-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const manager = $('broadcast-target').value;
    const request = {app_id: '*', command: $('broadcast-command').value};
    if (manager) request.manager = manager;
    confirmCommand(request);
  });
  setInterval(renderChart, 30000);
  const saved = sessionStorage.getItem('dc-token');
  if (saved) {
    signIn(saved).catch(() => signOut());
  }
}

document.addEventListener('DOMContentLoaded', init);
