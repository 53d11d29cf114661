import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const repoRoot = path.resolve(__dirname, '../../../..');

describe('start-up with a bad environment', () => {
  it('exits with status 2 before opening anything, naming every bad variable', () => {
    const result = spawnSync(process.execPath, [path.join(repoRoot, 'tools/run-ts.js'), 'apps/registry-api/src/main.ts'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, PORT: 'http', LOG_LEVEL: 'chatty', MAX_UPLOAD_BYTES: '4GB', DATA_DIR: '/nonexistent/never-created' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /invalid configuration \(3 problems\)/);
    assert.match(result.stderr, /PORT must be an integer/);
    assert.match(result.stderr, /LOG_LEVEL must be one of/);
    assert.match(result.stderr, /MAX_UPLOAD_BYTES must be an integer/);
  });
});
