import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { blobStoreOptionsFromEnv } from '@palette/object-store';
import { parseDocument } from 'yaml';

const infra = join(__dirname, '..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
}

function loadCompose(): { services: Record<string, ComposeService> } {
  const doc = parseDocument(readFileSync(join(infra, 'docker-compose.yml'), 'utf8'), { merge: true });
  assert.deepEqual(doc.errors, []);
  return doc.toJS() as { services: Record<string, ComposeService> };
}

/** Compose's `${VAR:-default}` / `${VAR:?message}` substitution, with every variable unset. */
function substitute(value: string): string {
  return value.replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_, _name: string, kind: string | undefined, rest: string) =>
    kind === '-' ? rest : 'placeholder',
  );
}

describe('deployment files', () => {
  const compose = loadCompose();
  const dockerfile = readFileSync(join(infra, 'docker', 'node-services.Dockerfile'), 'utf8');
  const targets = new Set([...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]));

  it('builds every Node service from a target the Dockerfile defines', () => {
    const built = Object.entries(compose.services).filter(([, s]) => s.build);
    assert.deepEqual(built.map(([name]) => name).sort(), ['registry-api', 'router', 'trainer-worker']);
    for (const [name, service] of built) {
      assert.equal(service.build!.dockerfile, 'infra/docker/node-services.Dockerfile');
      assert.ok(targets.has(service.build!.target!), `${name}: no stage named ${service.build!.target}`);
    }
  });

  it('uses pgvector, Redis and MinIO images and only depends on defined services', () => {
    assert.match(compose.services.postgres!.image!, /^pgvector\/pgvector:/);
    assert.match(compose.services.redis!.image!, /^redis:/);
    assert.match(compose.services.minio!.image!, /^minio\/minio/);
    for (const [name, service] of Object.entries(compose.services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) assert.ok(compose.services[dependency], `${name} depends on unknown ${dependency}`);
    }
  });

  it('gives every Node service blob store settings that @palette/object-store accepts', () => {
    for (const name of ['registry-api', 'trainer-worker', 'router']) {
      const env = Object.fromEntries(Object.entries(compose.services[name]!.environment ?? {}).map(([k, v]) => [k, substitute(String(v))]));
      const options = blobStoreOptionsFromEnv(env);
      assert.equal(options.driver, 's3', name);
      assert.equal(env.REDIS_URL, 'redis://redis:6379');
      assert.match(env.DATABASE_URL!, /^postgresql:\/\/palette:placeholder@postgres:5432\/palette$/);
    }
  });

  it('copies into the build every workspace package.json the lock file knows', () => {
    const lock = JSON.parse(readFileSync(join(infra, '..', 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const workspaces = Object.keys(lock.packages).filter((p) => /^(libs|apps)\/[^/]+$/.test(p));
    for (const workspace of workspaces) {
      assert.ok(dockerfile.includes(`COPY ${workspace}/package.json ${workspace}/`), `Dockerfile misses ${workspace}/package.json`);
    }
  });

  it('compiles every library and service the lock file knows, libraries first', () => {
    const lock = JSON.parse(readFileSync(join(infra, '..', 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const loop = /for pkg in ([^;]+); do/.exec(dockerfile);
    assert.ok(loop, 'the build stage compiles packages in a `for pkg in …` loop');
    const compiled = loop[1]!.trim().split(/\s+/);
    const expected = Object.keys(lock.packages).filter((p) => /^(libs|apps)\/[^/]+$/.test(p) && p !== 'apps/console');
    assert.deepEqual([...compiled].sort(), [...expected].sort());
    const firstApp = compiled.findIndex((p) => p.startsWith('apps/'));
    assert.ok(compiled.slice(firstApp).every((p) => p.startsWith('apps/')), `libraries are compiled before services: ${compiled.join(' ')}`);
  });

  it('builds the console in its own stage and ships its dist/ where registry-api serves it from', () => {
    const stage = /^FROM deps AS console$([\s\S]*?)^FROM /m.exec(dockerfile);
    assert.ok(stage, 'a `console` stage built from deps');
    assert.match(stage[1]!, /^COPY apps\/console apps\/console$/m);
    assert.match(stage[1]!, /npm run build -w apps\/console/);
    const runtime = /^FROM \S+ AS runtime$([\s\S]*?)^FROM /m.exec(dockerfile);
    assert.ok(runtime, 'a runtime stage');
    assert.match(runtime[1]!, /^COPY --from=console \/app\/apps\/console\/dist apps\/console\/dist$/m);
    // registry-api's console-options.ts looks for apps/console/dist relative to apps/registry-api/dist.
    const options = readFileSync(join(infra, '..', 'apps', 'registry-api', 'src', 'console', 'console-options.ts'), 'utf8');
    assert.match(options, /'\.\.\/\.\.\/\.\.\/\.\.\/console\/dist'/);
  });
});
