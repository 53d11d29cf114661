'use strict';
const path = require('node:path');

/** Node flags that run the workspace from TypeScript sources. */
function nodeFlags() {
  return ['--conditions=development', '--enable-source-maps', '--require', require.resolve('@swc-node/register'), '--require', path.join(__dirname, 'reflect.js')];
}

module.exports = { nodeFlags };
