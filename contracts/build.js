#!/usr/bin/env node
// Compiles every contract in src/ with the pinned solc (npm package) and one fixed
// configuration, and writes artifacts/<Name>.json. The output is deterministic: the same
// sources and the same solc give byte-identical files.
//
//   node build.js            write artifacts/
//   node build.js --check    rebuild in memory and compare with artifacts/ (same as check.js)
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const solc = require('solc');

const ROOT = __dirname;
const SRC_DIR = path.join(ROOT, 'src');
const ARTIFACTS_DIR = path.join(ROOT, 'artifacts');

/// The one compiler configuration. Changing it changes every artifact.
const SETTINGS = {
  evmVersion: 'prague',
  viaIR: true,
  optimizer: { enabled: true, runs: 10000 },
  metadata: { bytecodeHash: 'ipfs' },
};

/// Sorted list of the Solidity files of src/, as source unit names ("src/X.sol").
function sourceFiles() {
  return fs
    .readdirSync(SRC_DIR)
    .filter((f) => f.endsWith('.sol'))
    .sort()
    .map((f) => `src/${f}`);
}

/// Recursively sorts object keys, so that the JSON text does not depend on insertion order.
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]);
    return out;
  }
  return value;
}

/// Compiles src/ and returns a Map from artifact file name to its exact text.
function compileAll() {
  const sources = {};
  for (const name of sourceFiles()) {
    const content = fs.readFileSync(path.join(ROOT, name), 'utf8');
    if (!/^[\x09\x0a\x0d\x20-\x7e]*$/.test(content)) {
      throw new Error(`${name}: sources must be ASCII-only`);
    }
    sources[name] = { content };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage || e.message}\n`);
  if (problems.length > 0) throw new Error(`solc reported ${problems.length} error(s)`);

  const version = solc.version();
  const files = new Map();
  for (const sourceName of Object.keys(output.contracts).sort()) {
    const units = output.contracts[sourceName];
    for (const contractName of Object.keys(units).sort()) {
      const c = units[contractName];
      if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
      const artifact = {
        contractName,
        sourceName,
        abi: sortKeys(c.abi),
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        methodIdentifiers: sortKeys(c.evm.methodIdentifiers),
        compiler: { name: 'solc', version },
        settings: sortKeys(SETTINGS),
      };
      const file = `${contractName}.json`;
      if (files.has(file)) throw new Error(`two contracts named ${contractName}`);
      files.set(file, `${JSON.stringify(artifact, null, 2)}\n`);
    }
  }
  return files;
}

/// Compares freshly compiled artifacts with artifacts/. Returns a list of problems.
function compareWithDisk(files) {
  const problems = [];
  const onDisk = fs.existsSync(ARTIFACTS_DIR)
    ? fs.readdirSync(ARTIFACTS_DIR).filter((f) => f.endsWith('.json')).sort()
    : [];
  for (const [file, text] of files) {
    const p = path.join(ARTIFACTS_DIR, file);
    if (!fs.existsSync(p)) {
      problems.push(`artifacts/${file} is missing`);
    } else if (fs.readFileSync(p, 'utf8') !== text) {
      problems.push(`artifacts/${file} differs from a fresh build`);
    }
  }
  for (const file of onDisk) {
    if (!files.has(file)) problems.push(`artifacts/${file} has no contract in src/ (stale)`);
  }
  return problems;
}

function check() {
  const problems = compareWithDisk(compileAll());
  if (problems.length > 0) {
    for (const p of problems) console.error(`check: ${p}`);
    console.error('check: FAILED - run `npm run build` in contracts/ and commit artifacts/');
    return 1;
  }
  console.log(`check: artifacts/ matches a fresh build with solc ${solc.version()}`);
  return 0;
}

function build() {
  const files = compileAll();
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  for (const file of fs.readdirSync(ARTIFACTS_DIR)) {
    if (file.endsWith('.json') && !files.has(file)) fs.unlinkSync(path.join(ARTIFACTS_DIR, file));
  }
  for (const [file, text] of files) {
    fs.writeFileSync(path.join(ARTIFACTS_DIR, file), text);
    const a = JSON.parse(text);
    const size = (a.deployedBytecode.length - 2) / 2;
    console.log(`wrote artifacts/${file} (runtime ${size} bytes, initcode ${(a.bytecode.length - 2) / 2} bytes)`);
  }
  return 0;
}

module.exports = { compileAll, compareWithDisk, SETTINGS };

if (require.main === module) {
  try {
    process.exitCode = process.argv.includes('--check') ? check() : build();
  } catch (e) {
    console.error(`build: ${e.message}`);
    process.exitCode = 1;
  }
}

module.exports.check = check;
