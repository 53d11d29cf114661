'use strict';
// NestJS reads decorator metadata through the Reflect API polyfill.
try {
  require('reflect-metadata');
} catch {
  // Packages without NestJS do not install it.
}
