// Smoke test of the contracts on a real anvil: two channel lifecycles, a few rule checks,
// and a gas table next to SPEC.md section 5.4 ("measured on anvil 1.7.1").
//
//   npm test          (after npm ci and npm run build)
'use strict';

const { test, before, after } = require('node:test');
const crypto = require('node:crypto');
const assert = require('node:assert/strict');
const { startAnvil, words, asAddress, artifact, calldata, encode, word, hex } = require('./lib.js');

const SETTLE_TIMEOUT = 10n;
const E18 = 10n ** 18n;
const PARTICIPANT_LIMIT = 200n * E18;
const NETWORK_LIMIT = 300n * E18;
const ZERO32 = `0x${'0'.repeat(64)}`;
const ZERO_SIG = `0x${'0'.repeat(130)}`;

const art = {
  SecretRegistry: artifact('SecretRegistry'),
  TokenNetworkRegistry: artifact('TokenNetworkRegistry'),
  TokenNetwork: artifact('TokenNetwork'),
  CustomToken: artifact('CustomToken'),
};

// SPEC.md section 5.4: raiden-contracts 0.50.2 on anvil 1.7.1 (null = not measured there),
// and Raiden's own table (py-evm) for the rows the anvil column lacks.
const RAIDEN = {
  'createERC20TokenNetwork': { anvil: 3531532, pyevm: 3530404 },
  'ERC20 approve': { anvil: 46190, pyevm: 46118 },
  'openChannel': { anvil: 86430, pyevm: 86418 },
  'openChannelWithDeposit': { anvil: 135276, pyevm: 142716 },
  "setTotalDeposit, partner's first": { anvil: 86054, pyevm: 76406 },
  'setTotalDeposit, top-up': { anvil: 68966, pyevm: 68900 },
  'closeChannel, empty': { anvil: 87536, pyevm: 87500 },
  'settleChannel, no balance proofs': { anvil: 83205, pyevm: 87700 },
  'closeChannel, partner balance proof': { anvil: null, pyevm: 137712 },
  'updateNonClosingBalanceProof': { anvil: null, pyevm: 90526 },
  'settleChannel, with balance proofs': { anvil: null, pyevm: null },
  'SecretRegistry.registerSecret': { anvil: null, pyevm: null },
  'unlock, 2 locks': { anvil: null, pyevm: null },
};

let chain;
let rpc;
let accounts;
let chainId;
const addr = {};
const gas = new Map();

// ------------------------------------------------------------------ helpers

/// Polls for the receipt of `hash` (anvil automines, but may answer before the block is in).
async function receiptOf(hash, what) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const receipt = await rpc('eth_getTransactionReceipt', [hash]);
    if (receipt) return receipt;
    if (Date.now() > deadline) assert.fail(`no receipt for ${what} within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function send(from, to, data, label) {
  const hash = await rpc('eth_sendTransaction', [{ from, to, data }]);
  const receipt = await receiptOf(hash, label || hash);
  if (receipt.status !== '0x1') {
    // Replay it as a call on the parent block to get the revert reason.
    const parent = `0x${(BigInt(receipt.blockNumber) - 1n).toString(16)}`;
    const reason = await rpc('eth_call', [{ from, to, data, gas: receipt.gasUsed }, parent]).then(
      () => 'no reason (the replayed call succeeded)',
      (e) => e.message,
    );
    assert.fail(`${label || hash} reverted (gasUsed ${BigInt(receipt.gasUsed)}): ${reason}`);
  }
  if (label) gas.set(label, Number(BigInt(receipt.gasUsed)));
  return receipt;
}

async function deploy(name, types, values, from = accounts[0]) {
  const data = art[name].bytecode + encode(types, values);
  const hash = await rpc('eth_sendTransaction', [{ from, data }]);
  const receipt = await receiptOf(hash, `deploying ${name}`);
  assert.equal(receipt.status, '0x1', `deploying ${name} failed`);
  return receipt.contractAddress;
}

async function call(to, data, from = accounts[0]) {
  return rpc('eth_call', [{ from, to, data }, 'latest']);
}

/// Asserts that the call reverts and its error names `reason`.
async function assertReverts(from, to, data, reason) {
  await assert.rejects(call(to, data, from), (e) => {
    assert.match(e.message, new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    return true;
  });
}

const tn = (sig, values) => calldata(art.TokenNetwork, sig, values);
const tok = (sig, values) => calldata(art.CustomToken, sig, values);

async function balanceOf(who) {
  return words(await call(addr.token, tok('balanceOf(address)', [who])))[0];
}

async function keccak(dataHex) {
  return rpc('web3_sha3', [dataHex]);
}

/// The 212-byte balance proof of SPEC.md section 5.3, as hex without 0x.
function balanceProof(msgType, channelId, balanceHash, nonce, additionalHash) {
  return (
    hex(addr.tokenNetwork).toLowerCase() +
    word(chainId) +
    word(msgType) +
    word(channelId) +
    hex(balanceHash) +
    word(nonce) +
    hex(additionalHash)
  );
}

/// eth_sign by an unlocked dev account: EIP-191 personal-sign over `messageHex`.
async function sign(account, messageHex) {
  const sig = await rpc('eth_sign', [account, `0x${messageHex}`]);
  assert.equal(hex(sig).length, 130, 'eth_sign must return a 65-byte signature');
  const v = parseInt(hex(sig).slice(128), 16);
  assert.ok(v === 27 || v === 28, `eth_sign returned v = ${v}`);
  return sig;
}

async function timeTravel(seconds) {
  await rpc('evm_increaseTime', [Number(seconds)]);
  await rpc('evm_mine', []);
}

// ------------------------------------------------------------------ setup

before(async () => {
  chain = await startAnvil();
  rpc = chain.rpc;
  accounts = await rpc('eth_accounts', []);
  chainId = BigInt(await rpc('eth_chainId', []));
});

after(() => {
  if (chain) chain.stop();
});

// ------------------------------------------------------------------ tests

test('deploy the contracts and create a token network', async () => {
  const [deployer, a, b] = accounts;
  addr.secretRegistry = await deploy('SecretRegistry', [], []);
  addr.registry = await deploy(
    'TokenNetworkRegistry',
    ['address', 'uint256', 'uint256'],
    [addr.secretRegistry, SETTLE_TIMEOUT, 100n],
  );
  addr.token = await deploy('CustomToken', ['uint256', 'uint8', 'string', 'string'], [0n, 18n, 'Test Token', 'TTT']);

  const reg = art.TokenNetworkRegistry;
  await send(
    deployer,
    addr.registry,
    calldata(reg, 'createERC20TokenNetwork(address,uint256,uint256)', [
      addr.token,
      PARTICIPANT_LIMIT,
      NETWORK_LIMIT,
    ]),
    'createERC20TokenNetwork',
  );
  addr.tokenNetwork = asAddress(
    words(await call(addr.registry, calldata(reg, 'token_to_token_networks(address)', [addr.token])))[0],
  );
  assert.notEqual(BigInt(addr.tokenNetwork), 0n);
  assert.equal(words(await call(addr.registry, calldata(reg, 'token_network_created()', [])))[0], 1n);
  assert.equal(words(await call(addr.tokenNetwork, tn('settle_timeout()', [])))[0], SETTLE_TIMEOUT);
  assert.equal(words(await call(addr.tokenNetwork, tn('channel_counter()', [])))[0], 0n);
  await assertReverts(
    deployer,
    addr.registry,
    calldata(reg, 'createERC20TokenNetwork(address,uint256,uint256)', [addr.token, 1n, 1n]),
    'TNR: token already registered',
  );

  for (const who of [a, b]) await send(who, addr.token, tok('mint(uint256)', [1000n * E18]));
  await send(a, addr.token, tok('approve(address,uint256)', [addr.tokenNetwork, 1000n * E18]), 'ERC20 approve');
  await send(b, addr.token, tok('approve(address,uint256)', [addr.tokenNetwork, 1000n * E18]));
});

test('lifecycle 1: open, deposit, empty close, settle', async () => {
  const [, a, b, c] = accounts;

  // A channel without deposit (A-C), then the measured channel (A-B).
  await send(a, addr.tokenNetwork, tn('openChannel(address,address)', [a, c]), 'openChannel');
  assert.equal(words(await call(addr.tokenNetwork, tn('getChannelIdentifier(address,address)', [c, a])))[0], 1n);
  await assertReverts(a, addr.tokenNetwork, tn('openChannel(address,address)', [c, a]), 'TN/open: channel exists for participants');
  await assertReverts(a, addr.tokenNetwork, tn('openChannel(address,address)', [a, a]), 'TN/open: participants must differ');

  await send(
    a,
    addr.tokenNetwork,
    tn('openChannelWithDeposit(address,address,uint256)', [a, b, 100n * E18]),
    'openChannelWithDeposit',
  );
  const id = words(await call(addr.tokenNetwork, tn('getChannelIdentifier(address,address)', [a, b])))[0];
  assert.equal(id, 2n);

  await send(
    b,
    addr.tokenNetwork,
    tn('setTotalDeposit(uint256,address,uint256,address)', [id, b, 50n * E18, a]),
    "setTotalDeposit, partner's first",
  );
  await send(
    a,
    addr.tokenNetwork,
    tn('setTotalDeposit(uint256,address,uint256,address)', [id, a, 150n * E18, b]),
    'setTotalDeposit, top-up',
  );
  await assertReverts(
    a,
    addr.tokenNetwork,
    tn('setTotalDeposit(uint256,address,uint256,address)', [id, a, 150n * E18, b]),
    'TN/deposit: total_deposit must increase',
  );
  assert.equal(await balanceOf(addr.tokenNetwork), 200n * E18);
  await assertReverts(
    a,
    addr.tokenNetwork,
    tn('setTotalDeposit(uint256,address,uint256,address)', [id, a, PARTICIPANT_LIMIT + 1n, b]),
    'TN/deposit: participant deposit limit exceeded',
  );
  // Anyone may fund a participant: A funds C in channel 1, beyond the network limit.
  await assertReverts(
    a,
    addr.tokenNetwork,
    tn('setTotalDeposit(uint256,address,uint256,address)', [1n, c, NETWORK_LIMIT - 200n * E18 + 1n, a]),
    'TN/deposit: network deposit limit exceeded',
  );
  const info = words(
    await call(addr.tokenNetwork, tn('getChannelParticipantInfo(uint256,address,address)', [id, a, b])),
  );
  assert.equal(info[0], 150n * E18);

  // Empty close by A: zero balance proof, zero partner signature, A's counter-signature.
  const message = balanceProof(1n, id, ZERO32, 0n, ZERO32) + hex(ZERO_SIG);
  assert.equal(message.length / 2, 277);
  const closingSig = await sign(a, message);
  const wrongSig = await sign(b, message);
  const closeArgs = (sig) => [id, b, a, ZERO32, 0n, ZERO32, ZERO_SIG, sig];
  const closeSig = 'closeChannel(uint256,address,address,bytes32,uint256,bytes32,bytes,bytes)';
  await assertReverts(b, addr.tokenNetwork, tn(closeSig, closeArgs(wrongSig)), 'TN/close: invalid closing signature');
  // The same signature with s' = n - s and the other v recovers the same signer: rejected.
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const r = hex(closingSig).slice(0, 64);
  const sHigh = word(N - BigInt(`0x${hex(closingSig).slice(64, 128)}`));
  const vFlip = (55 - parseInt(hex(closingSig).slice(128), 16)).toString(16);
  await assertReverts(b, addr.tokenNetwork, tn(closeSig, closeArgs(`0x${r}${sHigh}${vFlip}`)), 'TN: signature s is malleable');
  await assertReverts(b, addr.tokenNetwork, tn(closeSig, closeArgs(`${closingSig.slice(0, -2)}00`)), 'TN: signature v must be 27 or 28');
  // Anyone may submit the close (here: B submits A's signed close).
  await send(b, addr.tokenNetwork, tn(closeSig, closeArgs(closingSig)), 'closeChannel, empty');
  const [, , isCloser] = words(
    await call(addr.tokenNetwork, tn('getChannelParticipantInfo(uint256,address,address)', [id, a, b])),
  );
  assert.equal(isCloser, 1n);

  const settleSig = 'settleChannel(uint256,address,uint256,uint256,bytes32,address,uint256,uint256,bytes32)';
  const settleArgs = [id, a, 0n, 0n, ZERO32, b, 0n, 0n, ZERO32];
  await assertReverts(a, addr.tokenNetwork, tn(settleSig, settleArgs), 'TN/settle: settle timeout not over');
  await timeTravel(SETTLE_TIMEOUT + 1n);
  await send(a, addr.tokenNetwork, tn(settleSig, settleArgs), 'settleChannel, no balance proofs');

  assert.equal(await balanceOf(a), 1000n * E18);
  assert.equal(await balanceOf(b), 1000n * E18);
  assert.equal(await balanceOf(addr.tokenNetwork), 0n);
  assert.equal(words(await call(addr.tokenNetwork, tn('getChannelIdentifier(address,address)', [a, b])))[0], 0n);
});

test('lifecycle 2: reopen, close with balance proof, update, settle with transfers', async () => {
  const [, a, b] = accounts;
  await send(a, addr.tokenNetwork, tn('openChannelWithDeposit(address,address,uint256)', [a, b, 100n * E18]));
  const id = words(await call(addr.tokenNetwork, tn('getChannelIdentifier(address,address)', [a, b])))[0];
  assert.equal(id, 3n, 'a reopened pair gets a new identifier');
  await send(b, addr.tokenNetwork, tn('setTotalDeposit(uint256,address,uint256,address)', [id, b, 100n * E18, a]));

  // Off chain, B paid A 30 tokens (nonce 5) and A paid B 10 tokens (nonce 3); no locks.
  const noLocks = await keccak('0x');
  const balanceHash = (transferred) => keccak(`0x${word(transferred)}${word(0n)}${hex(noLocks)}`);
  const bhB = await balanceHash(30n * E18);
  const bhA = await balanceHash(10n * E18);
  const addHash = `0x${'ab'.repeat(32)}`;

  // A closes with B's balance proof.
  const bpB = balanceProof(1n, id, bhB, 5n, addHash);
  const sigB = await sign(b, bpB);
  const sigAClose = await sign(a, bpB + hex(sigB));
  const closeSig = 'closeChannel(uint256,address,address,bytes32,uint256,bytes32,bytes,bytes)';
  await send(a, addr.tokenNetwork, tn(closeSig, [id, b, a, bhB, 5n, addHash, sigB, sigAClose]), 'closeChannel, partner balance proof');

  // B submits A's balance proof, counter-signed with a type-2 message.
  const bpA = balanceProof(1n, id, bhA, 3n, addHash);
  const sigA = await sign(a, bpA);
  const sigBUpdate = await sign(b, balanceProof(2n, id, bhA, 3n, addHash) + hex(sigA));
  const updateSig = 'updateNonClosingBalanceProof(uint256,address,address,bytes32,uint256,bytes32,bytes,bytes)';
  await assertReverts(b, addr.tokenNetwork, tn(updateSig, [id, a, b, bhA, 3n, addHash, sigA, sigB]), 'TN/update: invalid non-closing signature');
  await send(b, addr.tokenNetwork, tn(updateSig, [id, a, b, bhA, 3n, addHash, sigA, sigBUpdate]), 'updateNonClosingBalanceProof');
  await assertReverts(b, addr.tokenNetwork, tn(updateSig, [id, a, b, bhA, 3n, addHash, sigA, sigBUpdate]), 'TN/update: nonce must increase');

  const infoA = words(await call(addr.tokenNetwork, tn('getChannelParticipantInfo(uint256,address,address)', [id, a, b])));
  const infoB = words(await call(addr.tokenNetwork, tn('getChannelParticipantInfo(uint256,address,address)', [id, b, a])));
  assert.deepEqual([infoA[2], infoA[3], infoA[4]], [1n, BigInt(bhA), 3n]);
  assert.deepEqual([infoB[2], infoB[3], infoB[4]], [0n, BigInt(bhB), 5n]);

  await timeTravel(SETTLE_TIMEOUT + 1n);
  const settleSig = 'settleChannel(uint256,address,uint256,uint256,bytes32,address,uint256,uint256,bytes32)';
  // Participant order: T2 + L2 >= T1 + L1, so B (30) must come second.
  await assertReverts(
    a,
    addr.tokenNetwork,
    tn(settleSig, [id, b, 30n * E18, 0n, noLocks, a, 10n * E18, 0n, noLocks]),
    'TN/settle: participants in wrong order',
  );
  await assertReverts(
    a,
    addr.tokenNetwork,
    tn(settleSig, [id, a, 11n * E18, 0n, noLocks, b, 30n * E18, 0n, noLocks]),
    'TN/settle: invalid balance data of participant1',
  );
  await send(
    a,
    addr.tokenNetwork,
    tn(settleSig, [id, a, 10n * E18, 0n, noLocks, b, 30n * E18, 0n, noLocks]),
    'settleChannel, with balance proofs',
  );
  assert.equal(await balanceOf(a), 1020n * E18);
  assert.equal(await balanceOf(b), 980n * E18);
  assert.equal(await balanceOf(addr.tokenNetwork), 0n);
});

test('lifecycle 3: pending locks survive settlement and are unlocked', async () => {
  const [, a, b] = accounts;
  const startA = await balanceOf(a);
  const startB = await balanceOf(b);
  await send(a, addr.tokenNetwork, tn('openChannelWithDeposit(address,address,uint256)', [a, b, 100n * E18]));
  const id = words(await call(addr.tokenNetwork, tn('getChannelIdentifier(address,address)', [a, b])))[0];
  assert.equal(id, 4n);

  // A sent B two locked transfers: 15 tokens whose secret B registers, 5 whose secret nobody reveals.
  const expiration = BigInt(await rpc('eth_blockNumber', [])) + 1000n;
  const secret = `0x${'5e'.repeat(32)}`;
  const sha = (h) => `0x${crypto.createHash('sha256').update(Buffer.from(hex(h), 'hex')).digest('hex')}`;
  const locks = `0x${word(expiration)}${word(15n * E18)}${hex(sha(secret))}${word(expiration)}${word(5n * E18)}${hex(sha(`0x${'77'.repeat(32)}`))}`;
  const locksroot = await keccak(locks);
  const bhA = await keccak(`0x${word(0n)}${word(20n * E18)}${hex(locksroot)}`);

  const sr = art.SecretRegistry;
  await send(b, addr.secretRegistry, calldata(sr, 'registerSecret(bytes32)', [secret]), 'SecretRegistry.registerSecret');
  assert.ok(words(await call(addr.secretRegistry, calldata(sr, 'getSecretRevealBlockHeight(bytes32)', [sha(secret)])))[0] > 0n);
  assert.equal(words(await call(addr.secretRegistry, calldata(sr, 'registerSecret(bytes32)', [secret])))[0], 0n);

  // B closes with A's balance proof (nonce 1).
  const addHash = `0x${'cd'.repeat(32)}`;
  const bpA = balanceProof(1n, id, bhA, 1n, addHash);
  const sigA = await sign(a, bpA);
  const sigB = await sign(b, bpA + hex(sigA));
  const closeSig = 'closeChannel(uint256,address,address,bytes32,uint256,bytes32,bytes,bytes)';
  await send(b, addr.tokenNetwork, tn(closeSig, [id, a, b, bhA, 1n, addHash, sigA, sigB]));
  await timeTravel(SETTLE_TIMEOUT + 1n);

  // B has T + L = 0, A has 20: B first.
  const noLocks = await keccak('0x');
  const settleSig = 'settleChannel(uint256,address,uint256,uint256,bytes32,address,uint256,uint256,bytes32)';
  await send(a, addr.tokenNetwork, tn(settleSig, [id, b, 0n, 0n, noLocks, a, 0n, 20n * E18, locksroot]));
  assert.equal(await balanceOf(a), startA - 20n * E18, 'A gets its deposit back minus the pending locks');
  const info = words(await call(addr.tokenNetwork, tn('getChannelParticipantInfo(uint256,address,address)', [id, a, b])));
  assert.deepEqual([info[0], info[5], info[6]], [0n, BigInt(locksroot), 20n * E18]);
  const state = async () => words(await call(addr.tokenNetwork, tn('getChannelInfo(uint256,address,address)', [id, a, b])))[1];
  assert.equal(await state(), 3n);

  const unlockSig = 'unlock(uint256,address,address,bytes)';
  await assertReverts(a, addr.tokenNetwork, tn(unlockSig, [id, b, a, locks.slice(0, 2 + 192)]), 'TN/unlock: locksroot mismatch');
  await send(a, addr.tokenNetwork, tn(unlockSig, [id, b, a, locks]), 'unlock, 2 locks');
  assert.equal(await balanceOf(a), startA - 15n * E18);
  assert.equal(await balanceOf(b), startB + 15n * E18);
  assert.equal(await balanceOf(addr.tokenNetwork), 0n);
  assert.equal(await state(), 4n);
  await assertReverts(a, addr.tokenNetwork, tn(unlockSig, [id, b, a, locks]), 'TN/unlock: no locked tokens');
});

// ------------------------------------------------------------------ gas report

test('gas: at most 80 % of raiden-contracts 0.50 on anvil (SPEC.md section 5.4)', () => {
  const fmt = (n) => (n === null || n === undefined ? '-' : n.toLocaleString('en-US'));
  const rows = [['operation', 'tokennet', 'Raiden anvil', 'ratio', 'Raiden py-evm']];
  const over = [];
  for (const [op, ref] of Object.entries(RAIDEN)) {
    const ours = gas.get(op);
    assert.ok(ours, `no gas figure for ${op}: an earlier test failed`);
    const ratio = ref.anvil ? ours / ref.anvil : null;
    if (ratio !== null && ratio > 0.8 && op !== 'ERC20 approve') over.push(`${op}: ${(100 * ratio).toFixed(1)} %`);
    rows.push([op, fmt(ours), fmt(ref.anvil), ratio === null ? '-' : `${(100 * ratio).toFixed(1)} %`, fmt(ref.pyevm)]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out = [
    'gasUsed on this anvil (receipts), next to SPEC.md section 5.4:',
    line(rows[0]),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.slice(1).map(line),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  assert.deepEqual(over, [], 'operations above 80 % of Raiden on anvil');
});
