import {
  exportIdentity,
  fetchVapidPublicKey,
  generateIdentity,
  importIdentity,
  RelayClient,
  RelayError,
  SecureMessenger,
  sodiumReady,
  type DeviceIdentity,
  type PushRegistration,
  type ServerFrameOf,
  type TextMessage,
} from '../../sdk/index.ts';

/**
 * The demo page: sign in as a user and device, chat end to end encrypted
 * with contacts and in groups, set a presence state and see the contacts',
 * watch ticks, approve this user's new devices.
 * Everything shown comes from the SDK; the page only renders it. Text from
 * the network is set with textContent, never as HTML.
 */

type Status = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';
type PresenceState = 'online' | 'away' | 'busy';
interface ChatLine {
  id: string;
  /** The author's user id. */
  from: string;
  mine: boolean;
  body: string;
  at: Date;
  status: Status;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const show = (id: string) => {
  for (const s of ['login', 'pending', 'stopped', 'app', 'away']) $(s).hidden = s !== id;
};

const rank: Record<Status, number> = { failed: -1, sending: 0, sent: 1, delivered: 2, read: 3 };
const ticks: Record<Status, string> = { failed: '!', sending: '…', sent: '✓', delivered: '✓✓', read: '✓✓' };

/**
 * A group as this page knows it. The relay keeps no member lists: each
 * group message carries the group's name and members inside its sealed
 * body, and a member learns the group from the first one it gets.
 */
interface Group {
  name: string;
  members: string[];
}
interface GroupBody {
  demo_group: Group;
  text: string;
}

/** Chats by key: a contact's user id, or `#` and a group id (`#` is not allowed in ids). */
const chats = new Map<string, ChatLine[]>();
/** Each contact's presence: a state while online, 'offline' otherwise. */
const presence = new Map<string, PresenceState | 'offline'>();
const unread = new Map<string, number>();
/** The chat each of this device's own messages is in, for its ticks. */
const sentIn = new Map<string, string>();
let current: string | undefined;
let me: { userId: string; deviceId: string; identity: DeviceIdentity };
let client: RelayClient;
let messenger: SecureMessenger;

const contactsKey = () => `relay-demo/contacts/${me.userId}`;
const contactList = (): string[] => JSON.parse(localStorage.getItem(contactsKey()) ?? '[]') as string[];
const groupsKey = () => `relay-demo/groups/${me.userId}`;
const groupList = (): Record<string, Group> => JSON.parse(localStorage.getItem(groupsKey()) ?? '{}') as Record<string, Group>;
const saveGroup = (id: string, g: Group) => localStorage.setItem(groupsKey(), JSON.stringify({ ...groupList(), [id]: g }));
const groupOf = (key: string): { id: string; group: Group } | undefined => {
  if (!key.startsWith('#')) return undefined;
  const group = groupList()[key.slice(1)];
  return group && { id: key.slice(1), group };
};
const stateOf = (user: string) => presence.get(user) ?? 'offline';
const dot = (user: string) => el('span', `dot ${stateOf(user)}`);
const lines = (user: string) => {
  let l = chats.get(user);
  if (!l) chats.set(user, (l = []));
  return l;
};

function loadIdentity(userId: string, deviceId: string): DeviceIdentity {
  const key = `relay-demo/identity/${userId}/${deviceId}`;
  const saved = localStorage.getItem(key);
  if (saved) return importIdentity(saved);
  const id = generateIdentity();
  localStorage.setItem(key, exportIdentity(id));
  return id;
}

function renderContacts(): void {
  const ul = $('contacts');
  ul.replaceChildren();
  const entry = (key: string, head: HTMLElement, name: string) => {
    const li = el('li', `contact${key === current ? ' active' : ''}`);
    li.append(head, el('span', 'name', name));
    const n = unread.get(key) ?? 0;
    if (n > 0) li.append(el('span', 'unread', String(n)));
    li.onclick = () => openChat(key);
    ul.append(li);
    return li;
  };
  for (const [id, g] of Object.entries(groupList())) entry(`#${id}`, el('span', 'group-mark', '#'), g.name).dataset['group'] = id;
  for (const user of contactList()) entry(user, dot(user), user).dataset['user'] = user;
}

function renderChat(): void {
  const ol = $('messages');
  ol.replaceChildren();
  if (!current) return;
  const title = $('chat-title');
  const g = groupOf(current);
  if (g) title.replaceChildren(el('span', 'group-mark', '#'), el('span', '', g.group.name), el('span', 'meta', g.group.members.join(', ')));
  else title.replaceChildren(dot(current), el('span', '', current), el('span', 'meta', stateOf(current)));
  for (const line of lines(current)) {
    const li = el('li', `msg${line.mine ? ' mine' : ''}`);
    li.dataset['id'] = line.id;
    if (g && !line.mine) li.append(el('span', 'author', line.from));
    li.append(el('span', 'body', line.body), el('span', 'meta', line.at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
    if (line.mine) {
      const t = el('span', 'ticks', ticks[line.status]);
      t.dataset['status'] = line.status;
      t.title = line.status;
      li.append(t);
    }
    ol.append(li);
  }
  ol.scrollTop = ol.scrollHeight;
}

function openChat(key: string): void {
  current = key;
  unread.delete(key);
  ($('composer-input') as HTMLInputElement).disabled = false;
  ($('composer-send') as HTMLButtonElement).disabled = false;
  renderContacts();
  renderChat();
  markVisibleRead();
}

/** Read receipts for the open chat's incoming lines, once each, to each line's author. */
const receipted = new Set<string>();
function markVisibleRead(): void {
  if (!current || document.visibilityState !== 'visible') return;
  const byAuthor = new Map<string, string[]>();
  for (const l of lines(current)) {
    if (l.mine || receipted.has(l.id)) continue;
    receipted.add(l.id);
    byAuthor.set(l.from, [...(byAuthor.get(l.from) ?? []), l.id]);
  }
  for (const [author, ids] of byAuthor)
    void messenger.markRead(author, ids).catch(() => {
      for (const id of ids) receipted.delete(id);
    });
}

/** A tick for one of this device's messages; in a group, the furthest any member got. */
function setStatus(id: string, status: Status): void {
  const key = sentIn.get(id);
  const line = key === undefined ? undefined : lines(key).find((l) => l.id === id);
  if (!line || rank[status] <= rank[line.status]) return;
  line.status = status;
  if (key === current) renderChat();
}

function addContact(user: string): void {
  const list = contactList();
  if (!list.includes(user) && user !== me.userId) localStorage.setItem(contactsKey(), JSON.stringify([...list, user]));
  void client.post({ type: 'contact_add', payload: { user_id: user } });
  renderContacts();
}

/** A group message's body: the text, and the group as its sender knows it. */
function readGroupBody(groupId: string, body: string): GroupBody {
  try {
    const parsed = JSON.parse(body) as Partial<GroupBody>;
    if (typeof parsed.text === 'string' && parsed.demo_group && Array.isArray(parsed.demo_group.members)) return parsed as GroupBody;
  } catch {
    // Not this page's format: show it as it came.
  }
  return { demo_group: { name: groupId, members: [] }, text: body };
}

function onText(m: TextMessage): void {
  let key = m.from;
  let text = m.body;
  if (m.groupId !== undefined) {
    const body = readGroupBody(m.groupId, m.body);
    key = `#${m.groupId}`;
    text = body.text;
    saveGroup(m.groupId, { name: body.demo_group.name, members: [...new Set([...body.demo_group.members, m.from])] });
  }
  const list = lines(key);
  if (list.some((l) => l.id === m.id)) return;
  list.push({ id: m.id, from: m.from, mine: m.from === me.userId, body: text, at: new Date(m.timestamp), status: 'sent' });
  if (m.groupId === undefined && !contactList().includes(m.from)) addContact(m.from);
  if (key === current) {
    renderChat();
    markVisibleRead();
  } else {
    unread.set(key, (unread.get(key) ?? 0) + 1);
  }
  renderContacts();
}

function showApproval(f: ServerFrameOf<'device_approval_request'>): void {
  const p = f.payload;
  if (Date.parse(p.expires_at) < Date.now() || document.querySelector(`[data-request="${CSS.escape(p.request_id)}"]`)) return;
  const card = el('div', 'approval');
  card.id = 'approval-card';
  card.dataset['request'] = p.request_id;
  card.append(el('div', '', `New device “${p.device_name}” (${p.device_type}) wants to join your account. Type the code it shows:`));
  const row = el('div', 'row');
  const code = el('input');
  code.id = 'approval-code';
  code.inputMode = 'numeric';
  code.maxLength = 6;
  code.placeholder = '000000';
  const approve = el('button', '', 'Approve');
  approve.id = 'approval-approve';
  const deny = el('button', 'secondary', 'Deny');
  const error = el('div', 'error');
  row.append(code, approve, deny);
  card.append(row, error);
  approve.onclick = () => {
    approve.disabled = true;
    messenger.approve(p, code.value.trim()).then(
      () => card.remove(),
      (err: unknown) => {
        approve.disabled = false;
        error.textContent = err instanceof RelayError ? err.payload.message : String(err);
      },
    );
  };
  deny.onclick = () => void messenger.deny(p.request_id).then(() => card.remove());
  $('approvals').append(card);
}

/**
 * How the relay wakes this device while it is offline (docs/push.md): Web
 * Push through a service worker where the browser has a push service, else
 * a webhook token that the demo server receives wakes for. Returns what
 * was set up, in words, and the token polled while away.
 */
async function setUpWake(relayUrl: string): Promise<{ how: string; token: string | undefined }> {
  let why: string;
  try {
    const key = await fetchVapidPublicKey(relayUrl);
    if (!key) throw new Error('the relay sends no Web Push');
    if (!('serviceWorker' in navigator) || !('PushManager' in window)) throw new Error('this browser has no Push API');
    await navigator.serviceWorker.register('/sw.js');
    const reg = await navigator.serviceWorker.ready;
    const sub = await Promise.race([
      reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the push service did not answer')), 5000)),
    ]);
    await client.registerPush({ kind: 'webpush', subscription: sub.toJSON() as Extract<PushRegistration, { kind: 'webpush' }>['subscription'] });
    return { how: 'Web Push', token: undefined };
  } catch (err) {
    why = err instanceof Error ? err.message : String(err);
  }
  const saved = `relay-demo/wake-token/${me.userId}/${me.deviceId}`;
  const token = localStorage.getItem(saved) ?? `demo-${crypto.randomUUID()}`;
  localStorage.setItem(saved, token);
  await client.registerPush({ kind: 'webhook', token });
  return { how: `webhook (Web Push unavailable: ${why})`, token };
}

let wake: { how: string; token: string | undefined } | undefined;
let away = false;
let awayTimer: ReturnType<typeof setInterval> | undefined;

/** Leaves the relay as a phone in the background does, and shows the wakes that arrive meanwhile. */
function goAway(): void {
  away = true;
  client.close();
  $('wake-count').textContent = '0';
  $('wake-waiting').textContent = '0';
  show('away');
  const token = wake?.token;
  if (!token) return;
  let before: number | undefined;
  awayTimer = setInterval(() => {
    void fetch(`/wakes?token=${encodeURIComponent(token)}`)
      .then((r) => r.json() as Promise<{ wakes: number; count: number }>)
      .then((w) => {
        before ??= w.wakes;
        $('wake-count').textContent = String(w.wakes - before);
        $('wake-waiting').textContent = w.wakes > before ? String(w.count) : '0';
      });
  }, 500);
}

function comeBack(): void {
  clearInterval(awayTimer);
  away = false;
  void signIn(me.userId, me.deviceId);
}

async function signIn(userId: string, deviceId: string): Promise<void> {
  await sodiumReady();
  const config = (await (await fetch('/config.json')).json()) as { relayUrl: string };
  me = { userId, deviceId, identity: loadIdentity(userId, deviceId) };
  $('whoami').textContent = `${userId} · ${deviceId}`;
  client = new RelayClient({
    url: config.relayUrl,
    token: async () => (await fetch(`/token?user=${encodeURIComponent(userId)}&device=${encodeURIComponent(deviceId)}`)).text(),
  });
  messenger = new SecureMessenger(client, me);
  messenger.onText(onText, (f, reason) => console.warn('dropped a message that did not verify', f.message_id, reason));

  client.on('state', ({ state }) => {
    const c = $('conn-state');
    c.dataset['state'] = state;
    c.textContent = { idle: 'not connected', connecting: 'connecting…', open: 'connected', ready: 'online', waiting: 'reconnecting…', stopped: 'disconnected' }[state];
  });
  client.on('status_update', (f) => setStatus(f.message_id, f.payload.status));
  const seen = (user: string, state: PresenceState | 'offline') => {
    presence.set(user, state);
    renderContacts();
    if (current === user) renderChat();
  };
  client.on('presence', (f) => {
    for (const c of f.payload.contacts) presence.set(c.user_id, c.online ? c.status : 'offline');
    renderContacts();
    renderChat();
  });
  client.on('user_online', (f) => seen(f.payload.user_id, f.payload.status));
  client.on('user_offline', (f) => seen(f.payload.user_id, 'offline'));
  client.on('device_approval_request', showApproval);
  client.on('stopped', ({ why }) => {
    if (away) return;
    $('stopped-reason').textContent = why;
    show('stopped');
  });

  client.connect();
  client.setPresence(($('my-state') as HTMLSelectElement).value as PresenceState);
  const registered = await client.register(me.identity.identityKey, deviceId, 'web').catch((err: unknown) => {
    if (err instanceof RelayError && err.code === 'already_registered') return undefined;
    throw err;
  });
  if (registered?.type === 'device_approval_pending') {
    $('pending-code').textContent = registered.payload.code ?? '(shown when this device first registered)';
    $('pending-expiry').textContent = `Expires at ${new Date(registered.payload.expires_at).toLocaleTimeString()}.`;
    show('pending');
  }
  await client.ready();
  show('app');
  for (const user of contactList()) void client.post({ type: 'contact_add', payload: { user_id: user } });
  renderContacts();
  wake ??= await setUpWake(config.relayUrl).catch((err: unknown) => ({ how: `none (${err instanceof Error ? err.message : String(err)})`, token: undefined }));
  $('wake-how').textContent = `Wake-ups: ${wake.how}`;
}

$('go-away').addEventListener('click', goAway);
$('my-state').addEventListener('change', (e) => client?.setPresence((e.target as HTMLSelectElement).value as PresenceState));

$('group-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = ($('group-name') as HTMLInputElement).value.trim();
  const others = ($('group-members') as HTMLInputElement).value.split(/[\s,]+/).filter((u) => u && u !== me.userId);
  if (!name || others.length === 0) return;
  const id = `g-${crypto.randomUUID().slice(0, 8)}`;
  saveGroup(id, { name, members: [me.userId, ...new Set(others)] });
  ($('group-name') as HTMLInputElement).value = '';
  ($('group-members') as HTMLInputElement).value = '';
  openChat(`#${id}`);
});
$('come-back').addEventListener('click', comeBack);

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = ($('login-user') as HTMLInputElement).value.trim();
  const device = ($('login-device') as HTMLInputElement).value.trim();
  ($('login-submit') as HTMLButtonElement).disabled = true;
  signIn(user, device).catch((err: unknown) => {
    $('stopped-reason').textContent = err instanceof Error ? err.message : String(err);
    show('stopped');
  });
});

$('contact-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('contact-input') as HTMLInputElement;
  const user = input.value.trim();
  if (!user) return;
  addContact(user);
  input.value = '';
  openChat(user);
});

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('composer-input') as HTMLInputElement;
  const body = input.value.trim();
  const to = current;
  if (!body || !to) return;
  input.value = '';
  const id = client.newId();
  lines(to).push({ id, from: me.userId, mine: true, body, at: new Date(), status: 'sending' });
  sentIn.set(id, to);
  renderChat();
  const g = groupOf(to);
  const sent = g ? messenger.sendGroupText(g.id, g.group.members, JSON.stringify({ demo_group: g.group, text: body } satisfies GroupBody), id) : messenger.sendText(to, body, id);
  sent.then(
    () => setStatus(id, 'sent'),
    (err: unknown) => {
      console.warn('send failed', err);
      const line = lines(to).find((l) => l.id === id);
      if (line) line.status = 'failed';
      renderChat();
    },
  );
});

document.addEventListener('visibilitychange', markVisibleRead);
