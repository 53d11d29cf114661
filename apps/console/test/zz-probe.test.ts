import { it } from 'node:test';
import { createTestApp } from '@palette/registry-api/testing/index';
import { makeAdapterFiles, makeBase, registerBase } from '/work/main/apps/console/test/support/catalog-fixtures';
it('probe', async () => {
  const t = await createTestApp();
  const base = await makeBase('tiny-console', 5);
  await registerBase(t, base);
  const files = makeAdapterFiles(base, { r: 4, seed: 33 });
  const wrong = Buffer.from(JSON.stringify({ ...JSON.parse(files.configJson.toString()), r: 3 }));
  const res = await t.http.post('/api/v1/adapters').set('authorization', `Bearer ${t.adminKey}`).field('name', 'x').field('baseModel', base.name)
    .attach('adapter_config', wrong, 'adapter_config.json').attach('adapter_model', files.safetensors, 'adapter_model.safetensors');
  console.log(res.status, JSON.stringify(res.body));
  await t.close();
});
