// Test helpers without npm dependencies: spawn anvil from node_modules on a free port,
// talk JSON-RPC with fetch, and a tiny ABI encoder for the few types the tests use.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

// ------------------------------------------------------------------ anvil

/// The anvil binary shipped by @foundry-rs/anvil (its platform package), or $ANVIL_BIN.
function anvilBinary() {
  if (process.env.ANVIL_BIN) return process.env.ANVIL_BIN;
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] || process.arch;
  const candidates = [
    path.join(ROOT, 'node_modules', '@foundry-rs', `anvil-${process.platform}-${arch}`, 'bin', 'anvil'),
    path.join(ROOT, 'node_modules', '.bin', 'anvil'),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error('anvil not found: run `npm ci` in contracts/ (it installs @foundry-rs/anvil)');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/// Starts anvil on a free loopback port (plus `extraArgs`); resolves once it answers JSON-RPC.
async function startAnvil(extraArgs = []) {
  const port = await freePort();
  const child = spawn(anvilBinary(), ['--host', '127.0.0.1', '--port', String(port), ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  const rpc = makeRpc(url);
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`anvil exited (${child.exitCode}): ${stderr}`);
    try {
      await rpc('eth_chainId', []);
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`anvil did not answer on ${url} within 20 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, rpc, stop: () => child.kill('SIGTERM') };
}

// ------------------------------------------------------------------ JSON-RPC

class RpcError extends Error {
  constructor(method, error) {
    super(`${method}: ${error.message}`);
    this.code = error.code;
    this.data = error.data;
  }
}

function makeRpc(url) {
  let id = 0;
  return async function rpc(method, params) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = await res.json();
    if (body.error) throw new RpcError(method, body.error);
    return body.result;
  };
}

// ------------------------------------------------------------------ ABI encoding

const hex = (s) => (s.startsWith('0x') ? s.slice(2) : s);
const word = (n) => BigInt(n).toString(16).padStart(64, '0');
const padRight = (h) => h + '0'.repeat((64 - (h.length % 64)) % 64);

/// Encodes `values` as the ABI tuple of `types` (address, uint*, bool, bytes32, bytes, string).
function encode(types, values) {
  const heads = [];
  const tails = [];
  let tailLen = types.length * 32;
  types.forEach((t, i) => {
    const v = values[i];
    if (t === 'bytes' || t === 'string') {
      const data = t === 'string' ? Buffer.from(v, 'utf8').toString('hex') : hex(v);
      heads.push(word(tailLen));
      const tail = word(data.length / 2) + padRight(data);
      tails.push(tail);
      tailLen += tail.length / 2;
    } else if (t === 'address') {
      heads.push(hex(v).toLowerCase().padStart(64, '0'));
    } else if (t === 'bytes32') {
      heads.push(hex(v).padStart(64, '0'));
    } else if (t === 'bool') {
      heads.push(word(v ? 1 : 0));
    } else if (/^uint\d*$/.test(t)) {
      heads.push(word(v));
    } else {
      throw new Error(`unsupported ABI type ${t}`);
    }
  });
  return heads.join('') + tails.join('');
}

/// Splits returned data into 32-byte words as BigInts.
function words(data) {
  const h = hex(data);
  const out = [];
  for (let i = 0; i < h.length; i += 64) out.push(BigInt(`0x${h.slice(i, i + 64)}`));
  return out;
}

const asAddress = (w) => `0x${w.toString(16).padStart(40, '0')}`;

// ------------------------------------------------------------------ contracts

function artifact(name) {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'artifacts', `${name}.json`), 'utf8'));
}

/// Calldata for `signature` (e.g. "openChannel(address,address)") of artifact `art`.
function calldata(art, signature, values) {
  const selector = art.methodIdentifiers[signature];
  if (!selector) throw new Error(`${art.contractName} has no ${signature}`);
  const types = signature.slice(signature.indexOf('(') + 1, -1).split(',').filter(Boolean);
  return `0x${selector}${encode(types, values)}`;
}

module.exports = { startAnvil, encode, words, asAddress, artifact, calldata, word, hex };
