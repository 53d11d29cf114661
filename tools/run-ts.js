#!/usr/bin/env node
// Runs a TypeScript entry point with the workspace's source-mode settings:
// the "development" export condition (libraries resolve to src/*.ts) and swc's
// register hook, which emits decorator metadata for NestJS.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node tools/run-ts.js <file.ts> [args...]');
  process.exit(2);
}
const result = spawnSync(process.execPath, [...require('./node-flags').nodeFlags(), path.resolve(entry), ...args], {
  stdio: 'inherit',
  env: process.env,
});
process.exit(result.status ?? 1);
