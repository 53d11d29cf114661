#!/usr/bin/env node
// Runs node's test runner over every *.test.ts below the given directories.
// Node 20's runner takes explicit files (globs arrived in Node 21), so they are listed here.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { nodeFlags } = require('./node-flags');

function findTests(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) findTests(full, out);
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const args = process.argv.slice(2);
const filter = process.env.TEST_FILTER;
const roots = args.length ? args : ['libs', 'apps'];
let files = roots.flatMap((root) => (fs.statSync(root).isDirectory() ? findTests(root, []) : [root])).sort();
if (filter) files = files.filter((f) => f.includes(filter));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}
const flags = nodeFlags();
const result = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 1}`, ...flags, ...files.map((f) => path.resolve(f))],
  { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', ...flags.map((f) => (f.includes(' ') ? JSON.stringify(f) : f))].join(' ').trim() } },
);
process.exit(result.status ?? 1);
