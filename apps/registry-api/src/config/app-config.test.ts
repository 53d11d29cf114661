import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({}, '/srv/app');
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.dataDir, '/srv/app/.data');
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: '/srv/app/.data/pglite' });
    assert.deepEqual(config.blobStore, { driver: 'dir', root: '/srv/app/.data/blobs' });
    assert.equal(config.maxUploadBytes, 4 * 1024 ** 3);
    assert.equal(config.maxConfigBytes, 1024 ** 2);
    assert.deepEqual(config.modelImportRoots, []);
    assert.equal(config.bootstrapKeyFile, undefined);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.tmpDir, '/srv/app/.data/tmp');
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        HOST: '0.0.0.0',
        PORT: '9000',
        DATA_DIR: '/var/palette',
        DATABASE_URL: 'postgresql://u:p@db:5432/palette',
        BLOB_STORE: 's3',
        S3_ENDPOINT: 'minio',
        S3_PORT: '9000',
        S3_USE_SSL: 'true',
        S3_ACCESS_KEY: 'ak',
        S3_SECRET_KEY: 'sk',
        S3_BUCKET: 'blobs',
        S3_REGION: 'eu-1',
        MAX_UPLOAD_BYTES: '1000',
        MAX_CONFIG_BYTES: '2000',
        MODEL_IMPORT_ROOTS: '/models, relative/dir ,',
        BOOTSTRAP_KEY_FILE: 'secrets/key',
        LOG_LEVEL: 'debug',
        TMP_DIR: '/scratch',
      },
      '/srv/app',
    );
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 9000);
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgresql://u:p@db:5432/palette' });
    assert.equal(config.blobStore.driver, 's3');
    assert.ok(config.blobStore.driver === 's3' && config.blobStore.useSSL && config.blobStore.port === 9000 && config.blobStore.region === 'eu-1');
    assert.equal(config.maxUploadBytes, 1000);
    assert.equal(config.maxConfigBytes, 2000);
    assert.deepEqual(config.modelImportRoots, ['/models', path.resolve('/srv/app', 'relative/dir')]);
    assert.equal(config.bootstrapKeyFile, '/srv/app/secrets/key');
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.tmpDir, '/scratch');
  });

  it('fails once, naming every bad variable', () => {
    let caught: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://nope',
        BLOB_STORE: 's3',
        S3_USE_SSL: 'yes',
        MAX_UPLOAD_BYTES: '-1',
        MAX_CONFIG_BYTES: '1.5',
        LOG_LEVEL: 'loud',
        KEY_LAST_USED_WRITE_INTERVAL_MS: 'x',
      });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ConfigError);
    const message = caught.message;
    for (const name of ['PORT', 'DATABASE_URL', 'S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET', 'S3_USE_SSL', 'MAX_UPLOAD_BYTES', 'MAX_CONFIG_BYTES', 'LOG_LEVEL', 'KEY_LAST_USED_WRITE_INTERVAL_MS']) {
      assert.match(message, new RegExp(name), `message names ${name}`);
    }
    // The S3 variables arrive as one problem from the object store's own validation.
    assert.equal(caught.problems.length, 7);
  });

  it('rejects an unknown BLOB_STORE driver', () => {
    assert.throws(() => loadConfig({ BLOB_STORE: 'ftp' }), (error: unknown) => error instanceof ConfigError && /BLOB_STORE/.test(error.message));
  });
});
