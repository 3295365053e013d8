// The emulator's inbox page. Everything that came from a message or a request is put into the
// page with textContent or attribute setters, never parsed as HTML; a message's own HTML is shown
// only inside the sandboxed iframe, which the emulator serves with a script-free CSP.
'use strict';

const API = '/_emulator/api';
const state = { version: -1, requests: -1, tokens: -1, selected: null, pane: 'html', tab: 'messages', timer: null };

function $(id) { return document.getElementById(id); }

// el('td', {class: 'x'}, 'text', child) -> an element; strings become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v; else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function getJson(path) {
  const r = await fetch(API + path, { cache: 'no-store' });
  if (!r.ok) throw new Error(path + ': ' + r.status);
  return r.json();
}

function person(p) { return p ? (p.name ? p.name + ' <' + p.address + '>' : p.address) : ''; }
function people(list) { return (list || []).map(person).join(', '); }
function size(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}
function when(t) {
  const d = new Date(t);
  return isNaN(d) ? t : d.toLocaleString();
}
// The list's column: the time today, else the date.
function short(t) {
  const d = new Date(t);
  if (isNaN(d)) return t;
  return d.toDateString() === new Date().toDateString()
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    : d.toLocaleDateString();
}

// --- message list -------------------------------------------------------------------------

async function loadList() {
  const params = new URLSearchParams();
  const q = $('search').value.trim();
  const mailbox = $('mailbox').value;
  if (q) params.set('q', q);
  if (mailbox) params.set('mailbox', mailbox);
  const data = await getJson('/inbox?' + params);
  state.version = data.version;
  $('badge-messages').textContent = String(data.total);
  $('count').textContent = data.messages.length === data.total
    ? data.total + ' message' + (data.total === 1 ? '' : 's')
    : data.messages.length + ' of ' + data.total + ' messages';

  const select = $('mailbox');
  const known = new Set([...select.options].map(o => o.value));
  for (const m of data.mailboxes) if (!known.has(m)) select.append(el('option', { value: m }, m));

  const body = $('list').tBodies[0];
  body.replaceChildren(...data.messages.map(row));
  $('empty').hidden = data.messages.length > 0;
  if (state.selected && !data.messages.some(m => m.id === state.selected)) closeView();
}

function row(m) {
  const tr = el('tr', { 'data-id': m.id, class: m.id === state.selected ? 'selected' : null },
    el('td', { title: person(m.from) }, person(m.from)),
    el('td', { title: people(m.to) }, people(m.to)),
    el('td', { class: 'subject', title: m.subject },
      m.importance === 'high' ? el('span', { class: 'imp', title: 'High importance' }, '!') : null,
      m.service === 'Gmail' ? el('span', { class: 'service', title: 'Sent through the Gmail API (' + m.via + ')' }, 'Gmail') : null,
      m.subject || '(no subject)'),
    el('td', { title: when(m.receivedAt) }, short(m.receivedAt)),
    el('td', { class: 'num' }, size(m.size)),
    el('td', {}, m.attachments > 0
      ? el('img', { src: '/_emulator/assets/clip.svg', alt: m.attachments + ' attachment(s)', title: m.attachments + ' attachment(s)', class: 'clip' })
      : null));
  tr.addEventListener('click', () => openMessage(m.id));
  return tr;
}

// --- one message --------------------------------------------------------------------------

async function openMessage(id) {
  const m = await getJson('/messages/' + encodeURIComponent(id) + '/view');
  state.selected = id;
  if (location.hash !== '#' + id) history.replaceState(null, '', '#' + id);
  for (const tr of $('list').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.id === id);
  $('view').hidden = false;
  $('v-subject').textContent = m.subject || '(no subject)';
  $('v-eml').href = m.emlUrl;
  $('v-eml').setAttribute('download', m.id + '.eml');

  const meta = [
    ['From', person(m.from)], ['To', people(m.to)], ['Cc', people(m.cc)], ['Bcc', people(m.bcc)],
    ['Reply-To', people(m.replyTo)], ['Importance', m.importance], ['Received', when(m.receivedAt) + ' · ' + size(m.size)],
    ['Service', m.service === 'Gmail' ? 'Gmail API (' + m.via + ')' : 'Microsoft Graph (' + m.via + ')'],
  ].filter(([, v]) => v);
  $('v-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-field': k }, v)]));

  $('v-attachments').replaceChildren(...m.attachments.map(a => el('li', {},
    el('a', { href: a.url, download: a.name, class: 'attachment' }, a.name),
    el('span', { class: 'meta' }, a.contentType + ' · ' + size(a.size) + (a.isInline ? ' · inline cid:' + a.contentId : '')),
    el('code', { title: 'SHA-256' }, 'sha256 ' + a.sha256))));
  $('v-attachments').hidden = m.attachments.length === 0;

  // The body: a separate document, sandboxed (no scripts, opaque origin) and CSP-locked.
  $('v-html').src = m.htmlUrl;
  $('pane-text').textContent = m.text;

  const headers = [
    ['mailbox', m.mailbox], ['via', m.via], ['request-id', m.requestId], ['client-request-id', m.clientRequestId],
    ['appId', m.appId], ['importance', m.importance], ['saveToSentItems', String(m.saveToSentItems)],
    ['bodyContentType', m.bodyContentType],
    ...m.headers.map(h => [h.name, h.value]),
  ];
  $('v-headers').tBodies[0].replaceChildren(...headers.map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, v))));
  $('pane-raw').textContent = '';
  if (state.pane === 'raw') loadRaw();
}

async function loadRaw() {
  if (!state.selected) return;
  const r = await fetch(API + '/messages/' + encodeURIComponent(state.selected) + '/eml', { cache: 'no-store' });
  const text = await r.text();
  const limit = 256 * 1024;
  $('pane-raw').textContent = text.length > limit ? text.slice(0, limit) + '\n… (' + size(text.length) + '; download the .eml for all of it)' : text;
}

function showPane(name) {
  state.pane = name;
  for (const b of document.querySelectorAll('.panes button')) b.classList.toggle('active', b.dataset.pane === name);
  for (const p of ['html', 'text', 'headers', 'raw']) $('pane-' + p).hidden = p !== name;
  if (name === 'raw') loadRaw();
}

function closeView() {
  state.selected = null;
  $('view').hidden = true;
  $('v-html').removeAttribute('src');
  history.replaceState(null, '', location.pathname);
}

async function deleteSelected() {
  if (!state.selected) return;
  await fetch(API + '/messages/' + encodeURIComponent(state.selected), { method: 'DELETE' });
  closeView();
  await loadList();
}

async function deleteAll() {
  await fetch(API + '/messages', { method: 'DELETE' });
  closeView();
  await loadList();
}

// --- activity -----------------------------------------------------------------------------

async function loadActivity() {
  const [counters, requests, tokens] = await Promise.all([getJson('/counters'), getJson('/requests'), getJson('/tokens')]);
  state.requests = counters.requests;
  state.tokens = counters.tokensIssued;
  $('badge-requests').textContent = String(counters.requests);
  $('counters').replaceChildren(...Object.entries(counters).map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', { 'data-counter': k }, v))));

  const filter = $('activity-filter').value.trim().toLowerCase();
  const problems = $('only-problems').checked;
  const rows = requests.slice().reverse().filter(r => {
    if (problems && !(r.status >= 400 || r.fault || r.throttled)) return false;
    if (!filter) return true;
    return [r.method, r.path, String(r.status), r.clientRequestId, r.requestId, r.fault || '', r.throttled ? 'throttled' : '']
      .some(s => s.toLowerCase().includes(filter));
  }).slice(0, 500);
  $('requests').tBodies[0].replaceChildren(...rows.map(r => el('tr', { class: r.status >= 400 ? 'bad' : null },
    el('td', {}, when(r.at)), el('td', {}, r.method), el('td', {}, r.path),
    el('td', { class: 'num status' }, r.status), el('td', {}, r.clientRequestId),
    el('td', { class: r.fault ? 'flag' : null }, r.fault || ''),
    el('td', { class: r.throttled ? 'flag' : null }, r.throttled ? 'yes' : ''))));

  const toks = tokens.slice().reverse().filter(t => !filter ||
    [t.appId, t.tenantId, t.credential, JSON.stringify(t.claims)].some(s => s.toLowerCase().includes(filter)));
  $('tokens').tBodies[0].replaceChildren(...toks.map(t => el('tr', {},
    el('td', {}, when(t.issuedAt)), el('td', {}, t.appId), el('td', {}, t.credential),
    el('td', {}, el('pre', {}, JSON.stringify(t.claims, null, 2))))));
}

function showTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b.dataset.tab === name);
  $('messages-tab').hidden = name !== 'messages';
  $('activity-tab').hidden = name !== 'activity';
  if (name === 'activity') loadActivity();
}

// --- live updates: a cheap version poll; the list is fetched again only when it changed ----

async function poll() {
  try {
    const v = await getJson('/inbox/version');
    $('live').classList.remove('stale');
    $('live').textContent = 'live';
    $('badge-requests').textContent = String(v.requests);
    if (v.messages !== state.version) await loadList();
    if (state.tab === 'activity' && (v.requests !== state.requests || v.tokens !== state.tokens)) await loadActivity();
  } catch (e) {
    $('live').classList.add('stale');
    $('live').textContent = 'emulator not reachable';
  }
  state.timer = setTimeout(poll, 1000);
}

function debounce(f, ms) { let t; return () => { clearTimeout(t); t = setTimeout(f, ms); }; }

document.addEventListener('DOMContentLoaded', async () => {
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  for (const b of document.querySelectorAll('.panes button')) b.addEventListener('click', () => showPane(b.dataset.pane));
  // `input` while typing; `change` too, for a field cleared by a script or an automation tool.
  for (const ev of ['input', 'change']) $('search').addEventListener(ev, debounce(loadList, 150));
  $('mailbox').addEventListener('change', loadList);
  $('delete-all').addEventListener('click', deleteAll);
  $('v-delete').addEventListener('click', deleteSelected);
  for (const ev of ['input', 'change']) $('activity-filter').addEventListener(ev, debounce(loadActivity, 150));
  $('only-problems').addEventListener('change', loadActivity);
  await loadList().catch(() => {});
  const id = decodeURIComponent(location.hash.slice(1));
  if (id) await openMessage(id).catch(() => closeView());
  poll();
});
