import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import {
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import type { AddressInfo } from 'node:net';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { roleSatisfies, type Role } from '../../src/auth/roles';
import { createTestApp, type TestApp } from '../../src/testing';
import { auth } from '../helpers/catalog-client';

type Access = Role | 'public';

/**
 * The declared access of every HTTP route. The test reads the routes from the running app's
 * router and fails on any route missing here (or listed here but gone), so a new route cannot
 * ship without a decision about who may call it.
 */
const HTTP_ROUTES: Record<string, Access> = {
  'GET /api/docs': 'public',
  'GET /api/docs/': 'public',
  'GET /api/docs/index.html': 'public',
  'GET /api/docs/LICENSE': 'public',
  'GET /api/docs/swagger-ui-init.js': 'public',
  'GET /api/docs/docs/swagger-ui-init.js': 'public',
  'GET /api/docs-json': 'public',
  'GET /api/docs-yaml': 'public',
  'GET /metrics': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'POST /api/v1/internal/blobs/gc': 'admin',
  'POST /api/v1/keys': 'admin',
  'GET /api/v1/keys': 'admin',
  'DELETE /api/v1/keys/:id': 'admin',
  'GET /api/v1/base-models': 'reader',
  'POST /api/v1/base-models': 'writer',
  'POST /api/v1/base-models/import': 'admin',
  'GET /api/v1/base-models/:name': 'reader',
  'GET /api/v1/base-models/:name/files/:file': 'reader',
  'DELETE /api/v1/base-models/:name': 'admin',
  'GET /api/v1/adapters': 'reader',
  'POST /api/v1/adapters': 'writer',
  'GET /api/v1/adapters/:name': 'reader',
  'PATCH /api/v1/adapters/:name': 'writer',
  'DELETE /api/v1/adapters/:name': 'writer',
  'POST /api/v1/adapters/:name/restore': 'writer',
  'POST /api/v1/adapters/:name/purge': 'admin',
  'GET /api/v1/adapters/:name/versions': 'reader',
  'GET /api/v1/adapters/:name/versions/:ref': 'reader',
  'GET /api/v1/adapters/:name/versions/:ref/lineage': 'reader',
  'GET /api/v1/adapters/:name/versions/:ref/files/:file': 'reader',
  'GET /api/v1/adapters/:name/versions/:ref/bundle': 'reader',
  'PUT /api/v1/adapters/:name/aliases/:alias': 'writer',
  'DELETE /api/v1/adapters/:name/aliases/:alias': 'writer',
  'PUT /api/v1/adapters/:name/tags': 'writer',
  'POST /api/v1/adapters/:name/tags': 'writer',
  'DELETE /api/v1/adapters/:name/tags/:tag': 'writer',
  'GET /api/v1/search': 'reader',
  'GET /api/v1/adapters/:name/similar': 'reader',
  'GET /api/v1/search/adapters': 'reader',
  'GET /api/v1/embedding-spaces': 'reader',
  'GET /api/v1/embedding-spaces/:id': 'reader',
  'POST /api/v1/embedding-spaces': 'admin',
  'POST /api/v1/datasets': 'writer',
  'GET /api/v1/datasets': 'reader',
  'GET /api/v1/datasets/:ref': 'reader',
  'GET /api/v1/datasets/:ref/download': 'reader',
  'POST /api/v1/jobs': 'writer',
  'GET /api/v1/jobs': 'reader',
  'GET /api/v1/jobs/events': 'reader',
  'GET /api/v1/jobs/:id': 'reader',
  'GET /api/v1/jobs/:id/logs': 'reader',
  'GET /api/v1/jobs/:id/events': 'reader',
  'POST /api/v1/jobs/:id/cancel': 'writer',
  'POST /api/v1/jobs/:id/retry': 'writer',
  'POST /api/v1/internal/jobs/:id/result': 'service',
  'GET /api/v1/system/queues': 'reader',
  'GET /api/v1/artifacts': 'reader',
  'POST /api/v1/artifacts': 'writer',
  'GET /api/v1/artifacts/id/:id': 'reader',
  'GET /api/v1/artifacts/id/:id/files/:path': 'reader',
  'DELETE /api/v1/artifacts/id/:id': 'admin',
  'GET /api/v1/artifacts/:kind/:name': 'reader',
  'GET /console': 'public',
  'GET /console/*path': 'public',
  'GET /api/v1/router/*path': 'reader',
  'POST /api/v1/router/*path': 'reader',
};

/** Routes that answer a permitted caller with an endless event stream: probed for their status only. */
const EVENT_STREAM_ROUTES = new Set(['GET /api/v1/jobs/events']);

/** The same for every GraphQL query and mutation, read from the app's schema. */
const GRAPHQL_OPERATIONS: Record<string, Access> = {
  'query me': 'reader',
  'query baseModels': 'reader',
  'query baseModel': 'reader',
  'query adapters': 'reader',
  'query adapter': 'reader',
  'query adapterVersions': 'reader',
  'query adapterVersion': 'reader',
  'query lineage': 'reader',
  'query search': 'reader',
  'query similarAdapters': 'reader',
  'query searchAdapters': 'reader',
  'query embeddingSpaces': 'reader',
  'mutation setAlias': 'writer',
  'mutation removeAlias': 'writer',
  'mutation setTags': 'writer',
  'mutation addTags': 'writer',
  'mutation removeTag': 'writer',
  'mutation setDescription': 'writer',
  'mutation deleteAdapter': 'writer',
  'mutation restoreAdapter': 'writer',
  'mutation deleteBaseModel': 'admin',
  'query datasets': 'reader',
  'query dataset': 'reader',
  'query jobs': 'reader',
  'query job': 'reader',
  'query jobLogs': 'reader',
  'mutation submitJob': 'writer',
  'mutation cancelJob': 'writer',
  'mutation retryJob': 'writer',
  'query artifacts': 'reader',
  'query artifact': 'reader',
};

const ROLES: readonly Role[] = ['reader', 'writer', 'admin', 'service'];
/** Path parameters point at things that do not exist, so permitted calls change nothing. */
const PARAM_VALUES: Record<string, string> = {
  name: 'no-such-thing',
  file: 'adapter_config.json',
  ref: 'v1',
  alias: 'prod',
  tag: 'nothing',
  id: '00000000-0000-0000-0000-000000000000',
  kind: 'router',
  path: 'router.json',
};

/** Status and JSON body of a route that may stream forever: read the head, then hang up. */
async function probeEventStream(baseUrl: string, path: string, headers: Record<string, string>): Promise<{ status: number; text: string; body: unknown }> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}${path}`, { headers, signal: abort.signal });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    abort.abort();
    return { status: res.status, text: '', body: undefined };
  }
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

function concretePath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, (_, p: string) => {
    const v = PARAM_VALUES[p];
    if (v === undefined) throw new Error(`auth matrix: no test value for path parameter :${p}; add one to PARAM_VALUES`);
    return v;
  });
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

function appRoutes(t: TestApp): string[] {
  const express = t.app.getHttpAdapter().getInstance() as { router: { stack: ExpressLayer[] } };
  const routes: string[] = [];
  for (const layer of express.router.stack) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) routes.push(`${method.toUpperCase()} ${layer.route.path}`);
  }
  return routes;
}

/** A placeholder literal of an argument type (enough to pass GraphQL validation). */
function literalFor(type: GraphQLInputType): string {
  if (isNonNullType(type)) return literalFor(type.ofType);
  if (isListType(type)) return `[${literalFor(type.ofType)}]`;
  const named = getNamedType(type);
  if (isInputObjectType(named)) return '{}';
  switch (named.name) {
    case 'Int':
    case 'Float':
      return '1';
    case 'Boolean':
      return 'false';
    default:
      return '"no-such-thing"';
  }
}

function operationText(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((a) => isNonNullType(a.type)).map((a) => `${a.name}: ${literalFor(a.type)}`);
  const selection = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
  return `${kind} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`;
}

describe('auth matrix: every route and operation × every role, no key, bad key, revoked key', () => {
  let t: TestApp;
  let redis: RedisServer;
  let baseUrl: string;
  const keys = new Map<Role, string>();
  let revoked: string;

  before(async () => {
    // A real Redis, so the job routes answer as in production rather than 503.
    redis = await startRedisServer();
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    for (const role of ROLES) keys.set(role, await t.keyFor(role));
    const created = await t.http.post('/api/v1/keys').set(auth(t.adminKey)).send({ name: 'to-revoke', role: 'admin' }).expect(201);
    revoked = created.body.key;
    await t.http.delete(`/api/v1/keys/${created.body.id}`).set(auth(t.adminKey)).expect(200);
  });
  after(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('the route table lists exactly the routes the app serves', () => {
    const served = appRoutes(t).sort();
    assert.deepEqual(served, Object.keys(HTTP_ROUTES).sort());
  });

  it('every HTTP route answers each caller as its declared role requires', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of appRoutes(t)) {
      const access = HTTP_ROUTES[route];
      const [method, path] = route.split(' ');
      const url = concretePath(path);
      const call = (headers: Record<string, string>) =>
        EVENT_STREAM_ROUTES.has(route)
          ? probeEventStream(baseUrl, url, headers)
          : t.http[method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'](url).set(headers);
      const callers: Array<[string, Record<string, string>, 'allow' | 401 | 403]> = [
        ['no key', {}, access === 'public' ? 'allow' : 401],
        ['bad key', auth('plt_nosuchkey_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), access === 'public' ? 'allow' : 401],
        ['revoked key', auth(revoked), access === 'public' ? 'allow' : 401],
        ...ROLES.map((role): [string, Record<string, string>, 'allow' | 403] => [
          role,
          auth(keys.get(role)!),
          access === 'public' || roleSatisfies(role, access) ? 'allow' : 403,
        ]),
      ];
      // The callers of one route run concurrently; routes run one after another.
      const responses = await Promise.all(callers.map(([, headers]) => call(headers)));
      for (const [i, [who, , expected]] of callers.entries()) {
        const res = responses[i];
        checked += 1;
        const ok = expected === 'allow' ? res.status !== 401 && res.status !== 403 && res.status < 500 : res.status === expected;
        if (!ok) failures.push(`${route} as ${who}: expected ${expected}, got ${res.status} ${res.text.slice(0, 120)}`);
        if (expected !== 'allow' && ok) assert.ok((res.body as { error?: { code?: string } } | undefined)?.error?.code, `${route} as ${who}: error body`);
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(checked, Object.keys(HTTP_ROUTES).length * (3 + ROLES.length));
  });

  it('every GraphQL query and mutation answers each caller as its declared role requires', async () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    const operations: Array<[string, string]> = [];
    for (const [kind, type] of [['query', schema.getQueryType()], ['mutation', schema.getMutationType()]] as const) {
      for (const field of Object.values(type?.getFields() ?? {})) operations.push([`${kind} ${field.name}`, operationText(kind, field)]);
    }
    assert.deepEqual(operations.map(([k]) => k).sort(), Object.keys(GRAPHQL_OPERATIONS).sort(), 'operation table matches the schema');

    const failures: string[] = [];
    for (const [key, text] of operations) {
      const access = GRAPHQL_OPERATIONS[key];
      const callers: Array<[string, Record<string, string>, 'allow' | 'UNAUTHENTICATED' | 'FORBIDDEN']> = [
        ['no key', {}, access === 'public' ? 'allow' : 'UNAUTHENTICATED'],
        ['bad key', auth('plt_nosuchkey_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 'UNAUTHENTICATED'],
        ['revoked key', auth(revoked), 'UNAUTHENTICATED'],
        ...ROLES.map((role): [string, Record<string, string>, 'allow' | 'FORBIDDEN'] => [
          role,
          auth(keys.get(role)!),
          access === 'public' || roleSatisfies(role, access) ? 'allow' : 'FORBIDDEN',
        ]),
      ];
      const responses = await Promise.all(callers.map(([, headers]) => t.http.post('/graphql').set(headers).send({ query: text })));
      for (const [i, [who, , expected]] of callers.entries()) {
        const res = responses[i];
        const codes: string[] = (res.body?.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code ?? '');
        const denied = codes.find((c) => c === 'UNAUTHENTICATED' || c === 'FORBIDDEN');
        const ok = expected === 'allow' ? denied === undefined && !codes.includes('GRAPHQL_VALIDATION_FAILED') : denied === expected;
        if (!ok) failures.push(`${key} as ${who}: expected ${expected}, got ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
