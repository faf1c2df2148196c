#!/usr/bin/env node
// Rebuilds the contracts in memory and compares them with the committed artifacts/.
// Exits non-zero, naming each differing file, when they do not match.
'use strict';

const { check } = require('./build.js');

try {
  process.exitCode = check();
} catch (e) {
  console.error(`check: ${e.message}`);
  process.exitCode = 1;
}
