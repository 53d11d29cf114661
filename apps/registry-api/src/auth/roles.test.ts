import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateApiKey, hashSecret, parseApiKey, secretMatches } from './api-key-format';
import { roleSatisfies, ROLES, type Role } from './roles';

describe('roles', () => {
  it('orders reader < writer < admin and puts service beside writer with internal access', () => {
    const table: Record<Role, Role[]> = {
      reader: ['reader'],
      writer: ['reader', 'writer'],
      admin: ['reader', 'writer', 'admin', 'service'],
      service: ['reader', 'writer', 'service'],
    };
    for (const actual of ROLES) {
      for (const required of ROLES) {
        assert.equal(roleSatisfies(actual, required), table[actual].includes(required), `${actual} for ${required}`);
      }
    }
  });
});

describe('API key format', () => {
  it('generates plt_<publicId>_<secret> keys that parse and verify', () => {
    const key = generateApiKey();
    const parsed = parseApiKey(key.plaintext);
    assert.ok(parsed);
    assert.equal(parsed.publicId, key.publicId);
    assert.equal(key.secretHash, hashSecret(parsed.secret));
    assert.ok(secretMatches(parsed.secret, key.secretHash));
    assert.equal(secretMatches(`${parsed.secret.slice(1)}x`, key.secretHash), false);
    assert.notEqual(generateApiKey().plaintext, key.plaintext);
  });

  it('rejects strings outside the format', () => {
    for (const bad of ['', 'plt_', 'plt_abc_def', `plt_ABCDEFGHIJKL_${'a'.repeat(43)}`, `xyz_abcdefghijkl_${'a'.repeat(43)}`, `plt_abcdefghijkl_${'a'.repeat(42)}`]) {
      assert.equal(parseApiKey(bad), null, bad);
    }
  });
});
