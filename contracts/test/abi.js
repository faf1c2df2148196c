// The artifacts expose every function and event of SPEC.md section 5.2 (the interface of
// raiden-contracts 0.50) with the same names, argument types and order, return types and
// indexed fields. No chain needed.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { artifact } = require('./lib.js');

// [signature, output types] for functions; [signature, indexed flags] for events.
const SPEC = {
  TokenNetworkRegistry: {
    ctor: ['address', 'uint256', 'uint256'],
    functions: [
      ['createERC20TokenNetwork(address,uint256,uint256)', ['address']],
      ['token_to_token_networks(address)', ['address']],
      ['settle_timeout()', ['uint256']],
      ['secret_registry_address()', ['address']],
      ['max_token_networks()', ['uint256']],
      ['token_network_created()', ['uint256']],
    ],
    events: [['TokenNetworkCreated(address,address,uint256)', [true, true, false]]],
  },
  TokenNetwork: {
    functions: [
      ['openChannel(address,address)', ['uint256']],
      ['openChannelWithDeposit(address,address,uint256)', ['uint256']],
      ['setTotalDeposit(uint256,address,uint256,address)', []],
      ['closeChannel(uint256,address,address,bytes32,uint256,bytes32,bytes,bytes)', []],
      ['updateNonClosingBalanceProof(uint256,address,address,bytes32,uint256,bytes32,bytes,bytes)', []],
      ['settleChannel(uint256,address,uint256,uint256,bytes32,address,uint256,uint256,bytes32)', []],
      ['getChannelIdentifier(address,address)', ['uint256']],
      [
        'getChannelParticipantInfo(uint256,address,address)',
        ['uint256', 'uint256', 'bool', 'bytes32', 'uint256', 'bytes32', 'uint256'],
      ],
      ['token()', ['address']],
      ['settle_timeout()', ['uint256']],
      ['channel_counter()', ['uint256']],
      ['channel_participant_deposit_limit()', ['uint256']],
      ['token_network_deposit_limit()', ['uint256']],
    ],
    events: [
      ['ChannelOpened(uint256,address,address)', [true, true, true]],
      ['ChannelNewDeposit(uint256,address,uint256)', [true, true, false]],
      ['ChannelClosed(uint256,address,uint256,bytes32)', [true, true, true, false]],
      ['NonClosingBalanceProofUpdated(uint256,address,uint256,bytes32)', [true, true, true, false]],
      [
        'ChannelSettled(uint256,address,uint256,bytes32,address,uint256,bytes32)',
        [true, false, false, false, false, false, false],
      ],
    ],
  },
  SecretRegistry: {
    functions: [
      ['registerSecret(bytes32)', ['bool']],
      ['registerSecretBatch(bytes32[])', ['bool']],
      ['getSecretRevealBlockHeight(bytes32)', ['uint256']],
    ],
    events: [['SecretRevealed(bytes32,bytes32)', [true, false]]],
  },
  CustomToken: {
    ctor: ['uint256', 'uint8', 'string', 'string'],
    functions: [
      ['mint(uint256)', []],
      ['mintFor(uint256,address)', []],
      ['transfer(address,uint256)', ['bool']],
      ['transferFrom(address,address,uint256)', ['bool']],
      ['approve(address,uint256)', ['bool']],
      ['allowance(address,address)', ['uint256']],
      ['balanceOf(address)', ['uint256']],
      ['totalSupply()', ['uint256']],
      ['decimals()', ['uint8']],
      ['name()', ['string']],
      ['symbol()', ['string']],
    ],
    events: [
      ['Transfer(address,address,uint256)', [true, true, false]],
      ['Approval(address,address,uint256)', [true, true, false]],
    ],
  },
};

const sig = (item) => `${item.name}(${item.inputs.map((i) => i.type).join(',')})`;

for (const [name, spec] of Object.entries(SPEC)) {
  test(`${name}: ABI of SPEC.md section 5.2`, () => {
    const abi = artifact(name).abi;
    const functions = new Map(abi.filter((i) => i.type === 'function').map((i) => [sig(i), i]));
    const events = new Map(abi.filter((i) => i.type === 'event').map((i) => [sig(i), i]));
    for (const [signature, outputs] of spec.functions) {
      const f = functions.get(signature);
      assert.ok(f, `${name} lacks function ${signature}`);
      assert.deepEqual(f.outputs.map((o) => o.type), outputs, `${name}.${signature} returns`);
    }
    for (const [signature, indexed] of spec.events) {
      const e = events.get(signature);
      assert.ok(e, `${name} lacks event ${signature}`);
      assert.deepEqual(e.inputs.map((i) => i.indexed), indexed, `${name}.${signature} indexed fields`);
      assert.equal(e.anonymous, false);
    }
    if (spec.ctor) {
      const c = abi.find((i) => i.type === 'constructor');
      assert.deepEqual(c.inputs.map((i) => i.type), spec.ctor, `${name} constructor`);
    }
  });
}
