import { createTestApp } from '../src/testing';
import { DatabaseService } from '../src/database/database.service';
import { ApiKeysService } from '../src/auth/api-keys.service';
async function main() {
  const t = await createTestApp();
  const key = await t.keyFor('reader');
  const db = t.app.get(DatabaseService);
  const keys = t.app.get(ApiKeysService);
  for (const [label, fn] of [
    ['findUnique apiKey', () => db.prisma.apiKey.findFirst({ where: { name: 'x' } })],
    ['raw SELECT 1', () => db.prisma.$queryRaw`SELECT 1`],
    ['authenticate', () => keys.authenticate(key)],
  ] as const) {
    for (let i = 0; i < 100; i++) await fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) await fn();
    console.log(label, Number(process.hrtime.bigint() - t0) / 1e9, 'ms per call');
  }
  const http = t.http;
  const t0 = Date.now();
  for (let i = 0; i < 300; i++) await http.get('/healthz');
  console.log('healthz seq', (Date.now() - t0) / 300, 'ms');
  const t1 = Date.now();
  for (let i = 0; i < 300; i++) await http.get('/api/v1/base-models').set('authorization', `Bearer ${key}`);
  console.log('base-models seq', (Date.now() - t1) / 300, 'ms');
  await t.close();
}
void main();
