/**
 * The launcher's seeding phase: which world to seed (flags and WORLD_SEED), the seeder as a
 * background process that never stops the platform, and the service key minted through a REAL
 * registry (registry-api in-process on a port, its key API and GraphQL `me`).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../../apps/registry-api/src/testing';
import { launchContext } from './launch-context';
import { SeedChoiceError, seedOutcomeLine, seederSpec, seedingPlan, worldChoice } from './seeding';
import { ensureServiceKey, keyRole, ServiceKeyError, SERVICE_KEY_NAME } from './service-key';
import { platformServices, serviceKeyFile } from './services';
import { Supervisor } from './supervisor';

describe('launcher seeding phase', () => {
  it('seeds the full world by default; --world, --no-seed and WORLD_SEED choose otherwise', () => {
    assert.equal(worldChoice([], {}), 'full');
    assert.equal(worldChoice(['--world', 'small'], {}), 'small');
    assert.equal(worldChoice(['--world=skip'], {}), 'skip');
    assert.equal(worldChoice(['--no-seed'], { WORLD_SEED: 'full' }), 'skip');
    assert.equal(worldChoice([], { WORLD_SEED: 'small' }), 'small');
    assert.equal(worldChoice(['--world', 'full'], { WORLD_SEED: 'skip' }), 'full', 'the flag wins over the environment');
    assert.throws(() => worldChoice(['--world', 'huge'], {}), (e: unknown) => e instanceof SeedChoiceError && /full, small or skip, got "huge"/.test(e.message));
    assert.throws(() => worldChoice([], { WORLD_SEED: 'yes' }), /WORLD_SEED/);
    assert.throws(() => worldChoice(['--seed'], {}), /unknown argument "--seed"/);
  });

  it('--world-from (or WORLD_SEED_FROM) imports a prebuilt world directory instead of training', () => {
    assert.deepEqual(seedingPlan(['--world-from', '.data/world/full'], {}), { world: 'full', fromDir: '.data/world/full' });
    assert.deepEqual(seedingPlan(['--world=small'], { WORLD_SEED_FROM: '/w/small' }), { world: 'small', fromDir: '/w/small' });
    assert.deepEqual(seedingPlan(['--no-seed', '--world-from', 'x'], {}), { world: 'skip' });
    assert.throws(() => seedingPlan(['--world-from='], {}), /needs a directory/);
    const ctx = launchContext({}, '/repo');
    assert.deepEqual(seederSpec(ctx, 'full', '/k', '.data/world/full').args.slice(-2), ['--from-dir', '/repo/.data/world/full']);
  });

  it('runs the seeder in the background against the API with the service key; the worker and the router get that key, not the admin key', () => {
    const ctx = launchContext({ PORT: '9100' }, '/repo');
    const spec = seederSpec(ctx, 'small', serviceKeyFile(ctx));
    assert.equal(spec.kind, 'background');
    assert.deepEqual(spec.args.slice(1), ['/repo/tools/world-seed/main.ts', '--registry', 'http://127.0.0.1:9100', '--key-file', '/repo/.data/service-key', '--variant', 'small']);
    const byName = new Map(platformServices(ctx).map((s) => [s.name, s]));
    assert.equal(byName.get('trainer-worker')!.env.SERVICE_KEY_FILE, '/repo/.data/service-key');
    assert.equal(byName.get('router')!.env.REGISTRY_API_KEY_FILE, '/repo/.data/service-key');
    assert.ok(byName.get('trainer-worker')!.prepare && byName.get('router')!.prepare, 'both mint or check the key before they start');
    assert.equal(byName.get('registry-api')!.prepare, undefined);
  });

  it('says how to go on when seeding ends', () => {
    assert.equal(seedOutcomeLine(0, 'full'), 'evaluation world (full) ready');
    assert.match(seedOutcomeLine(130, 'full'), /resume at the next `npm run up`/);
    assert.match(seedOutcomeLine(1, 'small'), /exit 1.*npm run seed:world -- --variant small.*--world skip/);
  });

  it('a background process that ends is reported, and does not stop the services', async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor((l) => lines.push(l));
    const unexpected: string[] = [];
    supervisor.onUnexpectedExit = (name) => unexpected.push(name);
    const ended = new Promise<[string, number | null]>((resolve) => (supervisor.onBackgroundExit = (name, code) => resolve([name, code])));
    const order: string[] = [];
    await supervisor.start({
      name: 'bg',
      kind: 'background',
      command: process.execPath,
      args: ['-e', 'console.log("progress 1/2"); setTimeout(() => process.exit(3), 200)'],
      cwd: process.cwd(),
      env: { PATH: process.env.PATH },
      readiness: { kind: 'none' },
      startTimeoutMs: 0,
      prepare: async () => void order.push('prepared'),
    });
    order.push('started');
    assert.deepEqual(order, ['prepared', 'started'], 'start returns without waiting for the process, after prepare');
    assert.deepEqual(await ended, ['bg', 3]);
    assert.ok(lines.includes('[bg] progress 1/2'), lines.join('\n'));
    assert.deepEqual(unexpected, []);
    await supervisor.stopAll();
  });

  it('a failing prepare step fails the start and spawns nothing', async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor((l) => lines.push(l));
    const spec = { name: 'svc', kind: 'service' as const, command: process.execPath, args: ['-e', ''], cwd: process.cwd(), env: {}, readiness: { kind: 'none' as const }, startTimeoutMs: 1000, prepare: () => Promise.reject(new Error('no key')) };
    await assert.rejects(supervisor.start(spec), /no key/);
    assert.deepEqual(lines, []);
  });
});

describe('service key (real registry)', () => {
  let t: TestApp;
  let url: string;
  let dir: string;

  before(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    url = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    dir = await mkdtemp(join(tmpdir(), 'launcher-key-'));
    await writeFile(join(dir, 'bootstrap-admin-key'), `${t.adminKey}\n`);
  });
  after(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const options = () => ({ registryUrl: url, adminKeyFile: join(dir, 'bootstrap-admin-key'), serviceKeyFile: join(dir, 'service-key'), log: () => undefined });
  const serviceKeys = async (): Promise<{ id: string; name: string; revokedAt: string | null }[]> =>
    ((await t.http.get('/api/v1/keys').set('authorization', `Bearer ${t.adminKey}`).expect(200)).body as { id: string; name: string; role: string; revokedAt: string | null }[]).filter((k) => k.name === SERVICE_KEY_NAME);

  it('mints a service key with the admin key on the first start, keeps it private, and reuses it later', async () => {
    const logs: string[] = [];
    const key = await ensureServiceKey({ ...options(), log: (l) => logs.push(l) });
    assert.notEqual(key, t.adminKey);
    assert.equal(await keyRole(url, key), 'service');
    assert.equal((await readFile(join(dir, 'service-key'), 'utf8')).trim(), key);
    assert.equal((await stat(join(dir, 'service-key'))).mode & 0o777, 0o600);
    assert.match(logs.join('\n'), /minted a service API key/);

    const again = await ensureServiceKey(options());
    assert.equal(again, key, 'a working stored key is reused');
    assert.equal((await serviceKeys()).length, 1, 'no second key minted');
  });

  it('mints a new key when the stored one was revoked, and explains what to do without an admin key', async () => {
    const [old] = await serviceKeys();
    await t.http.delete(`/api/v1/keys/${old!.id}`).set('authorization', `Bearer ${t.adminKey}`).expect(200);
    const fresh = await ensureServiceKey(options());
    assert.equal(await keyRole(url, fresh), 'service');
    assert.equal((await serviceKeys()).filter((k) => k.revokedAt === null).length, 1);

    await writeFile(join(dir, 'service-key'), 'plt_revoked_nothing\n');
    await assert.rejects(
      ensureServiceKey({ ...options(), adminKeyFile: join(dir, 'absent') }),
      (e: unknown) => e instanceof ServiceKeyError && /no longer accepted.*no admin key at .*absent.*role 'service'/s.test(e.message),
    );
  });
});
