import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../helpers/databases.ts';
import { uid } from '../helpers/relay-fixture.ts';
import { startScript, tempDir, type ScriptProcess } from '../../tools/relay-process.ts';

/**
 * The demo page in headless Chromium against a real relay: two users chat
 * and read each other's messages decrypted, with delivery ticks and
 * presence; a third browser signs in as a new device of the first user and
 * is approved from the first browser with the code it shows. Every frame
 * the browsers sent is checked for the plaintexts, and so is every row the
 * relay stored. A device sent to the background is woken by the relay with
 * a count only. Screenshots of the chat and of the woken device are saved
 * under test-results/.
 */
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium && process.env['REQUIRE_CHROMIUM']) throw new Error(`REQUIRE_CHROMIUM is set and there is no Chromium at ${chromiumPath}`);
if (!haveChromium) console.warn(`demo browser test skipped: no Chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it`);

const root = path.resolve(import.meta.dirname, '../..');
const screenshotPath = path.join(root, 'test-results', 'demo-chat.png');

const startDemo = (env: Record<string, string>): Promise<ScriptProcess> => startScript('demo/server.ts', 'demo listening', { DEMO_PORT: '0', RELAY_PORT: '0', ...env }, 60_000);

describe.skipIf(!haveChromium)('web demo in headless Chromium', () => {
  let db: TestDatabase;
  let dataDir: string;
  let demo: ScriptProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Every text frame any browser sent or received on a WebSocket. */
  const wire: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase(postgresUrl ? 'postgres' : 'pglite');
    dataDir = tempDir('demo-data');
    demo = await startDemo({ ...db.env, DATA_DIR: dataDir });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    await db?.drop();
  });

  const signIn = async (user: string, device: string): Promise<Page> => {
    // Notifications allowed, so that the page's Web Push subscription gets as far as the browser lets it
    // (headless Chromium still refuses one: the page then falls back to the webhook, and logs why).
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 720 }, permissions: ['notifications'] });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => void wire.push(String(f.payload)));
      ws.on('framereceived', (f) => void wire.push(String(f.payload)));
    });
    await page.goto(demo.ready['url'] as string);
    await page.fill('#login-user', user);
    await page.fill('#login-device', device);
    await page.click('#login-submit');
    return page;
  };

  const bubble = (page: Page, text: string) => page.locator('.msg .body', { hasText: text });

  it("shows a contact's presence state, and three users chat in a group", async () => {
    const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
    const secrets = [`group plans for saturday ${uid('s')}`, `count me in ${uid('s')}`];
    const [a, b, c] = [await signIn(alice, 'laptop'), await signIn(bob, 'phone'), await signIn(carol, 'tablet')];
    for (const p of [a, b, c]) await p.waitForSelector('#app:not([hidden])');

    // Mutual contacts see each other's state as it changes.
    await a.fill('#contact-input', bob);
    await a.click('#contact-add');
    await b.fill('#contact-input', alice);
    await b.click('#contact-add');
    await a.waitForSelector(`.contact[data-user="${bob}"] .dot.online`);
    await b.selectOption('#my-state', 'busy');
    await a.waitForSelector(`.contact[data-user="${bob}"] .dot.busy`);
    await b.selectOption('#my-state', 'away');
    await a.waitForSelector(`.contact[data-user="${bob}"] .dot.away`);
    expect(await a.textContent('#chat-title .meta')).toBe('away');

    // Alice makes a group of three; the others learn it from the first message.
    await a.fill('#group-name', 'Saturday');
    await a.fill('#group-members', `${bob}, ${carol}`);
    await a.click('#group-create');
    await a.fill('#composer-input', secrets[0]!);
    await a.click('#composer-send');
    await a.locator('.msg.mine .ticks:is([data-status="sent"], [data-status="delivered"], [data-status="read"])').last().waitFor();
    for (const p of [b, c]) {
      await p.click('.contact[data-group] >> text=Saturday');
      await bubble(p, secrets[0]!).waitFor();
    }
    // Carol answers in the group: both others get it, with her name on it.
    await c.fill('#composer-input', secrets[1]!);
    await c.click('#composer-send');
    for (const p of [a, b]) {
      await bubble(p, secrets[1]!).waitFor();
      expect(await p.locator('.msg', { hasText: secrets[1]! }).locator('.author').textContent()).toBe(carol);
    }
    // Read receipts go to each author: Alice's message gets to read.
    await a.locator('.msg.mine .ticks[data-status="read"]').last().waitFor();
    mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await b.screenshot({ path: path.join(path.dirname(screenshotPath), 'demo-group.png') });
    for (const s of secrets) expect(wire.filter((f) => f.includes(s))).toEqual([]);
  }, 180_000);

  it('two users chat end to end, a new device is approved by code, and the relay never sees plaintext', async () => {
    const alice = uid('alice');
    const bob = uid('bob');
    const secrets = [`the eagle lands at dawn ${uid('s')}`, `copy that, bring snacks ${uid('s')}`, `welcome, new tablet ${uid('s')}`, `sealed while you were away ${uid('s')}`];

    const a = await signIn(alice, 'laptop');
    await a.waitForSelector('#app:not([hidden])');
    const b = await signIn(bob, 'phone');
    await b.waitForSelector('#app:not([hidden])');

    // Contacts both ways: presence is shared between mutual contacts only.
    await a.fill('#contact-input', bob);
    await a.click('#contact-add');
    await b.fill('#contact-input', alice);
    await b.click('#contact-add');
    await a.waitForSelector(`.contact[data-user="${bob}"] .dot.online`);

    // Alice writes; Bob reads it decrypted; Alice's ticks go to read.
    await a.fill('#composer-input', secrets[0]!);
    await a.click('#composer-send');
    await bubble(b, secrets[0]!).waitFor();
    await a.locator('.msg.mine .ticks[data-status="read"]').first().waitFor();

    await b.fill('#composer-input', secrets[1]!);
    await b.click('#composer-send');
    await bubble(a, secrets[1]!).waitFor();
    await b.locator('.msg.mine .ticks[data-status="read"]').first().waitFor();

    // A new device of Alice's shows a code; Alice's laptop approves it with that code.
    const tablet = await signIn(alice, 'tablet');
    await tablet.waitForSelector('#pending:not([hidden])');
    const code = (await tablet.textContent('#pending-code'))!.trim();
    expect(code).toMatch(/^[0-9]{6}$/);
    await a.waitForSelector('#approval-card');
    await a.fill('#approval-code', code);
    await a.click('#approval-approve');
    await tablet.waitForSelector('#app:not([hidden])');
    await a.waitForSelector('#approval-card', { state: 'detached' });

    // Bob's next message is sealed for both of Alice's devices (his client refetches her device list).
    await b.fill('#composer-input', secrets[2]!);
    await b.click('#composer-send');
    await bubble(a, secrets[2]!).waitFor();
    await tablet.click(`.contact[data-user="${bob}"]`);
    await bubble(tablet, secrets[2]!).waitFor();

    // Bob's phone goes to the background; Alice's next message waits in the relay's queue for it,
    // and the relay wakes it: his page shows one wake and one message waiting, and nothing else.
    await b.click('#go-away');
    await b.waitForSelector('#away:not([hidden])');
    await a.waitForSelector(`.contact[data-user="${bob}"] .dot:not(.online)`, { timeout: 20_000 });
    await a.fill('#composer-input', secrets[3]!);
    await a.click('#composer-send');
    await a.locator('.msg.mine .ticks[data-status="sent"]').last().waitFor();
    await b.locator('#wake-waiting', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    expect(await b.textContent('#wake-count')).toBe('1');
    const wakeHow = (await b.textContent('#wake-how'))!;
    console.log(`demo page in headless Chromium: ${wakeHow}`);
    expect(wakeHow).toMatch(/^Wake-ups: (Web Push|webhook \(Web Push unavailable: .+\))$/);
    mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await b.screenshot({ path: path.join(path.dirname(screenshotPath), 'demo-wake.png') });
    await b.context().close();

    mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await a.screenshot({ path: screenshotPath });

    // What crossed the wire: frames in both directions, none with a plaintext in them.
    expect(wire.length).toBeGreaterThan(20);
    for (const s of secrets) expect(wire.filter((f) => f.includes(s))).toEqual([]);

    // What the relay stored: Bob's queued message is there, as ciphertext only.
    await withStore(async (query) => {
      const queued = await query<{ frame: string }>(`select frame from queue where recipient_user = $1 and kind = 'deliver'`, [bob]);
      expect(queued.length).toBeGreaterThan(0);
      for (const q of queued) expect((JSON.parse(q.frame) as { payload: { ciphertext: string } }).payload.ciphertext).toMatch(/^[A-Za-z0-9+/]+=*$/);
      for (const t of ['queue', 'devices', 'approval_requests', 'contacts', 'rate_limits', 'push_targets']) {
        const rows = await query<{ row: string }>(`select t::text as row from ${t} t`);
        for (const s of secrets) expect(rows.filter((r) => r.row.includes(s))).toEqual([]);
      }
    });
  }, 180_000);

  type Query = <R>(sql: string, params?: unknown[]) => Promise<R[]>;

  /** Runs `fn` against the relay's database. With PGlite the relay is stopped first, since it owns the files. */
  async function withStore(fn: (query: Query) => Promise<void>): Promise<void> {
    if (db.kind === 'postgres') return fn((sql, params) => db.query(sql, params));
    await demo.stop();
    const pg = await PGlite.create(path.join(dataDir, 'pglite'));
    try {
      await fn(async <R>(sql: string, params: unknown[] = []) => (await pg.query<R>(sql, params)).rows);
    } finally {
      await pg.close();
    }
  }
});
