//! Our contracts on a real anvil (spawned by each test from `contracts/node_modules`, in
//! automine mode): every function of SPEC §5.2 on its success path with its events, one
//! test per rule it enforces (with the revert reason), the signed messages of §5.3 made in
//! Rust (`tokennet::chain::ethereum::signing`) and checked by the contract, and the
//! settlement arithmetic of §5.2 on a table of cases checked against the formula computed
//! here.
//!
//! Time: the settle timeout is passed with `evm_increaseTime` / `evm_setNextBlockTimestamp`
//! instead of sleeping.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use alloy::consensus::BlockHeader;
use alloy::contract::{CallBuilder, SolCallBuilder};
use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{keccak256, Bytes, U512};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol;
use alloy::sol_types::{Revert, SolCall, SolEvent, SolValue};
use serde_json::json;
use tokennet::chain::ethereum::contracts::{
    ICustomToken, ITokenNetwork, ITokenNetworkRegistry, IERC20,
};
use tokennet::chain::ethereum::signing::{
    balance_hash, closing_signature, BalanceProof, MESSAGE_TYPE_BALANCE_PROOF,
    MESSAGE_TYPE_BALANCE_PROOF_UPDATE,
};
use tokennet::chain::ethereum::{deploy, DeployOptions, Deployment};
use tokennet::types::{Address, ChannelId, B256, U256};

use ITokenNetwork::{
    ChannelClosed, ChannelNewDeposit, ChannelOpened, ChannelSettled, NonClosingBalanceProofUpdated,
};

sol! {
    /// What the tests use beyond the node's bindings: the additions of our contracts
    /// (contracts/README.md) and the SecretRegistry.
    #[allow(missing_docs)]
    interface IExtras {
        event ChannelUnlocked(uint256 indexed channel_identifier, address indexed receiver, address indexed sender, bytes32 locksroot, uint256 unlocked_amount, uint256 returned_tokens);
        function unlock(uint256 channel_identifier, address receiver, address sender, bytes locks) external;
        function getChannelInfo(uint256 channel_identifier, address participant1, address participant2) external view returns (uint256 settle_timestamp, uint8 state);
        function registerSecret(bytes32 secret) external returns (bool);
        function getSecretRevealBlockHeight(bytes32 secrethash) external view returns (uint256);
    }
}

const SETTLE_TIMEOUT: u64 = 500;
const CUSTOM_TOKEN: &str = include_str!("../contracts/artifacts/CustomToken.json");
const TOKEN_NETWORK_REGISTRY: &str =
    include_str!("../contracts/artifacts/TokenNetworkRegistry.json");

/// Dev accounts by role (0 deployed the contracts).
const A: usize = 1;
const B: usize = 2;
const C: usize = 3;
const D: usize = 4;

fn u(value: u64) -> U256 {
    U256::from(value)
}

/// secp256k1's group order.
fn secp256k1_n() -> U256 {
    "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"
        .parse()
        .unwrap()
}

fn artifact_bytecode(artifact: &str) -> Vec<u8> {
    let json: serde_json::Value = serde_json::from_str(artifact).unwrap();
    alloy::hex::decode(json["bytecode"].as_str().unwrap()).unwrap()
}

/// The events `E` that `emitter` logged in `receipt`.
fn events<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> Vec<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == emitter)
        .filter_map(|log| E::decode_log(&log.inner).ok().map(|log| log.data))
        .collect()
}

/// The one event `E` that `emitter` logged in `receipt`.
#[track_caller]
fn event<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> E {
    let mut found = events::<E>(receipt, emitter);
    assert_eq!(found.len(), 1, "expected one {} event", E::SIGNATURE);
    found.pop().unwrap()
}

/// Sends `call`, waits for its receipt and asserts it succeeded.
async fn ok<C: SolCall>(call: SolCallBuilder<&DynProvider, C>) -> TransactionReceipt {
    let name = C::SIGNATURE;
    let receipt = call
        .send()
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "{name} reverted");
    receipt
}

/// Asserts that `call` reverts with the reason `reason`: as an `eth_call` (the reason is
/// decoded from the revert data), and as a transaction mined with status 0.
#[track_caller]
fn reverts<'a, C: SolCall + 'a>(
    call: SolCallBuilder<&'a DynProvider, C>,
    reason: &'a str,
) -> impl std::future::Future<Output = ()> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let name = C::SIGNATURE;
        let error = match call.call().await {
            Ok(_) => panic!("{caller}: {name} did not revert, expected {reason:?}"),
            Err(error) => error,
        };
        let decoded = error.as_decoded_error::<Revert>().map(|r| r.reason);
        assert_eq!(
            decoded.as_deref(),
            Some(reason),
            "{caller}: {name} reverted otherwise: {error}"
        );
        assert!(error.to_string().contains(reason), "{error}");
        let receipt = call
            .gas(3_000_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(!receipt.status(), "{caller}: {name} was mined successfully");
    }
}

/// The revert reason of `call` as an `eth_call` (panics if it does not revert).
async fn revert_reason<C: SolCall>(call: &SolCallBuilder<&DynProvider, C>) -> String {
    match call.call().await {
        Ok(_) => panic!("{} did not revert", C::SIGNATURE),
        Err(error) => error
            .as_decoded_error::<Revert>()
            .map(|r| r.reason)
            .unwrap_or_else(|| format!("not a revert reason: {error}")),
    }
}

/// Settlement of §5.2 (Raiden issue #188) computed here, W1 = W2 = 0, sums saturating:
/// returns (S1, S2, SL1, SL2).
fn settlement(d1: U256, d2: U256, t1: U256, l1: U256, t2: U256, l2: U256) -> [U256; 4] {
    let tad = U512::from(d1) + U512::from(d2);
    let sum1 = U512::from(t1.saturating_add(l1));
    let sum2 = U512::from(t2.saturating_add(l2));
    // max(0, (T2+L2) - (T1+L1) + D1), exactly, then min with TAD.
    let plus = sum2 + U512::from(d1);
    let r1 = if plus > sum1 { plus - sum1 } else { U512::ZERO };
    let r1 = r1.min(tad);
    let r2 = tad - r1;
    let r1 = U256::from(r1);
    let r2 = U256::from(r2);
    let sl2 = r1.min(l2);
    let sl1 = r2.min(l1);
    [r1 - sl2, r2 - sl1, sl1, sl2]
}

/// One side's balance data: transferred, locked, locksroot.
#[derive(Clone, Copy, Debug, Default)]
struct Balance {
    transferred: U256,
    locked: U256,
    locksroot: B256,
}

impl Balance {
    fn transferred(amount: U256) -> Self {
        Self {
            transferred: amount,
            ..Self::default()
        }
    }

    fn hash(&self) -> B256 {
        balance_hash(self.transferred, self.locked, self.locksroot)
    }

    fn is_zero(&self) -> bool {
        self.hash() == B256::ZERO
    }

    fn sum(&self) -> U256 {
        self.transferred.saturating_add(self.locked)
    }
}

/// A signed balance proof of one participant.
#[derive(Clone, Debug)]
struct Signed {
    proof: BalanceProof,
    signature: Bytes,
}

/// Anvil (automine) with our contracts, the test token's network (no limits), and a
/// wallet provider per dev account.
struct Net {
    /// The anvil process, killed when the test ends.
    _anvil: AnvilInstance,
    deployment: Deployment,
    chain_id: u64,
    keys: Vec<PrivateKeySigner>,
    providers: Vec<DynProvider>,
    token: Address,
    network: Address,
}

impl Net {
    async fn start() -> Self {
        let anvil = Anvil::at(common::anvil::anvil_path()).spawn();
        let keys: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|key| PrivateKeySigner::from_bytes(&B256::from_slice(&key.to_bytes())).unwrap())
            .collect();
        let deployment = deploy(
            &anvil.endpoint(),
            keys[0].clone(),
            &DeployOptions {
                settle_timeout: SETTLE_TIMEOUT,
                with_test_token: true,
            },
        )
        .await
        .unwrap();
        let providers = keys
            .iter()
            .map(|key| {
                ProviderBuilder::new()
                    .wallet(EthereumWallet::from(key.clone()))
                    .connect_http(anvil.endpoint_url())
                    .erased()
            })
            .collect();
        Self {
            chain_id: anvil.chain_id(),
            token: deployment.test_token.unwrap(),
            network: deployment.test_token_network.unwrap(),
            _anvil: anvil,
            deployment,
            keys,
            providers,
        }
    }

    fn addr(&self, account: usize) -> Address {
        self.keys[account].address()
    }

    /// `call` to `to`, sent by dev account `account`.
    fn tx<C: SolCall>(
        &self,
        account: usize,
        to: Address,
        call: C,
    ) -> SolCallBuilder<&DynProvider, C> {
        CallBuilder::new_raw(&self.providers[account], call.abi_encode().into())
            .to(to)
            .with_sol_decoder::<C>()
    }

    /// A view of `to`.
    async fn view<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        self.tx(0, to, call).call().await.unwrap()
    }

    async fn raw(&self, method: &'static str, params: serde_json::Value) -> serde_json::Value {
        self.providers[0]
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Moves the clock `seconds` ahead and mines a block, so that calls see the new time.
    async fn increase_time(&self, seconds: u64) {
        self.raw("evm_increaseTime", json!([seconds])).await;
        self.raw("evm_mine", json!([])).await;
    }

    async fn set_next_block_timestamp(&self, timestamp: u64) {
        self.raw("evm_setNextBlockTimestamp", json!([timestamp]))
            .await;
    }

    /// Timestamp of the block `receipt` was mined in.
    async fn timestamp_of(&self, receipt: &TransactionReceipt) -> u64 {
        self.providers[0]
            .get_block_by_number(BlockNumberOrTag::Number(receipt.block_number.unwrap()))
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp()
    }

    async fn balance_of(&self, token: Address, owner: Address) -> U256 {
        self.view(token, IERC20::balanceOfCall { owner }).await
    }

    /// Mints `amount` of `token` to `account` and lets `network` pull all of it.
    async fn fund_for(&self, token: Address, network: Address, account: usize, amount: U256) {
        ok(self.tx(account, token, ICustomToken::mintCall { num: amount })).await;
        ok(self.tx(
            account,
            token,
            IERC20::approveCall {
                spender: network,
                value: U256::MAX,
            },
        ))
        .await;
    }

    /// Funds `account` with test tokens for the test token's network.
    async fn fund(&self, account: usize, amount: U256) {
        self.fund_for(self.token, self.network, account, amount)
            .await;
    }

    /// Deploys a new test token.
    async fn new_token(&self) -> Address {
        let mut code = artifact_bytecode(CUSTOM_TOKEN);
        code.extend(
            (u(0), u(18), "another token".to_string(), "ANT".to_string()).abi_encode_params(),
        );
        self.deploy_code(code).await
    }

    async fn deploy_code(&self, code: Vec<u8>) -> Address {
        let receipt = self.providers[0]
            .send_transaction(TransactionRequest::default().with_deploy_code(Bytes::from(code)))
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
        receipt.contract_address.unwrap()
    }

    /// A new token and its network, registered with these limits.
    async fn limited_network(
        &self,
        participant_limit: U256,
        network_limit: U256,
    ) -> (Address, Address) {
        let token = self.new_token().await;
        let receipt = ok(self.tx(
            C,
            self.deployment.token_network_registry,
            ITokenNetworkRegistry::createERC20TokenNetworkCall {
                _token_address: token,
                _channel_participant_deposit_limit: participant_limit,
                _token_network_deposit_limit: network_limit,
            },
        ))
        .await;
        let created: ITokenNetworkRegistry::TokenNetworkCreated =
            event(&receipt, self.deployment.token_network_registry);
        (token, created.token_network_address)
    }

    /// Opens a channel between `a` and `b` in the test token's network (sent by `a`).
    async fn open(&self, a: usize, b: usize) -> U256 {
        self.open_in(self.network, a, b).await
    }

    async fn open_in(&self, network: Address, a: usize, b: usize) -> U256 {
        let receipt = ok(self.tx(
            a,
            network,
            ITokenNetwork::openChannelCall {
                participant1: self.addr(a),
                participant2: self.addr(b),
            },
        ))
        .await;
        event::<ChannelOpened>(&receipt, network).channel_identifier
    }

    fn deposit_call(
        &self,
        funder: usize,
        id: U256,
        participant: usize,
        partner: usize,
        total: U256,
    ) -> SolCallBuilder<&DynProvider, ITokenNetwork::setTotalDepositCall> {
        self.deposit_call_in(self.network, funder, id, participant, partner, total)
    }

    fn deposit_call_in(
        &self,
        network: Address,
        funder: usize,
        id: U256,
        participant: usize,
        partner: usize,
        total: U256,
    ) -> SolCallBuilder<&DynProvider, ITokenNetwork::setTotalDepositCall> {
        self.tx(
            funder,
            network,
            ITokenNetwork::setTotalDepositCall {
                channel_identifier: id,
                participant: self.addr(participant),
                total_deposit: total,
                partner: self.addr(partner),
            },
        )
    }

    /// `participant` funds its own deposit up to `total`.
    async fn deposit(&self, id: U256, participant: usize, partner: usize, total: U256) {
        ok(self.deposit_call(participant, id, participant, partner, total)).await;
    }

    /// The balance proof of `sender` with `balance` in channel `id` of the test network.
    fn proof(&self, id: U256, balance: &Balance, nonce: u64) -> BalanceProof {
        BalanceProof {
            token_network: self.network,
            chain_id: self.chain_id,
            channel_id: ChannelId(id.to::<u64>()),
            balance_hash: balance.hash(),
            nonce: u(nonce),
            additional_hash: keccak256(nonce.to_be_bytes()),
        }
    }

    fn signed(&self, sender: usize, proof: BalanceProof) -> Signed {
        Signed {
            signature: proof.sign(&self.keys[sender]).unwrap(),
            proof,
        }
    }

    /// The close of channel `id` by `closer`, sent by `caller`, with `partner`'s signed
    /// proof (or an empty close) and the closer's counter-signature `closing_signature`.
    #[allow(clippy::too_many_arguments)] // closeChannel's arguments, and who sends it
    fn close_call(
        &self,
        caller: usize,
        closer: usize,
        partner: usize,
        id: U256,
        proof: &BalanceProof,
        partner_signature: Bytes,
        closing_signature: Bytes,
    ) -> SolCallBuilder<&DynProvider, ITokenNetwork::closeChannelCall> {
        self.tx(
            caller,
            proof.token_network,
            ITokenNetwork::closeChannelCall {
                channel_identifier: id,
                non_closing_participant: self.addr(partner),
                closing_participant: self.addr(closer),
                balance_hash: proof.balance_hash,
                nonce: proof.nonce,
                additional_hash: proof.additional_hash,
                non_closing_signature: partner_signature,
                closing_signature,
            },
        )
    }

    /// The empty proof of an empty close.
    fn empty_proof(&self, id: U256) -> BalanceProof {
        BalanceProof {
            token_network: self.network,
            chain_id: self.chain_id,
            channel_id: ChannelId(id.to::<u64>()),
            balance_hash: B256::ZERO,
            nonce: U256::ZERO,
            additional_hash: B256::ZERO,
        }
    }

    /// Closes channel `id` by `closer` (sent by the closer), with `partner`'s proof
    /// `signed`, or empty.
    async fn close(
        &self,
        closer: usize,
        partner: usize,
        id: U256,
        signed: Option<&Signed>,
    ) -> TransactionReceipt {
        let (proof, partner_signature) = match signed {
            Some(signed) => (signed.proof, signed.signature.clone()),
            None => (self.empty_proof(id), Bytes::from(vec![0u8; 65])),
        };
        let closing = proof
            .closing_signature(&self.keys[closer], &partner_signature)
            .unwrap();
        ok(self.close_call(
            closer,
            closer,
            partner,
            id,
            &proof,
            partner_signature,
            closing,
        ))
        .await
    }

    /// The update of channel `id` with the closer's proof `signed`, counter-signed with
    /// `non_closing_signature`, sent by `caller`.
    fn update_call(
        &self,
        caller: usize,
        closer: usize,
        non_closer: usize,
        id: U256,
        signed: &Signed,
        non_closing_signature: Bytes,
    ) -> SolCallBuilder<&DynProvider, ITokenNetwork::updateNonClosingBalanceProofCall> {
        self.tx(
            caller,
            signed.proof.token_network,
            ITokenNetwork::updateNonClosingBalanceProofCall {
                channel_identifier: id,
                closing_participant: self.addr(closer),
                non_closing_participant: self.addr(non_closer),
                balance_hash: signed.proof.balance_hash,
                nonce: signed.proof.nonce,
                additional_hash: signed.proof.additional_hash,
                closing_signature: signed.signature.clone(),
                non_closing_signature,
            },
        )
    }

    /// The non-closer's counter-signed update call, correctly signed.
    fn update(
        &self,
        caller: usize,
        closer: usize,
        non_closer: usize,
        id: U256,
        signed: &Signed,
    ) -> SolCallBuilder<&DynProvider, ITokenNetwork::updateNonClosingBalanceProofCall> {
        let counter = signed
            .proof
            .update_signature(&self.keys[non_closer], &signed.signature)
            .unwrap();
        self.update_call(caller, closer, non_closer, id, signed, counter)
    }

    fn settle_call(
        &self,
        caller: usize,
        id: U256,
        p1: usize,
        b1: &Balance,
        p2: usize,
        b2: &Balance,
    ) -> SolCallBuilder<&DynProvider, ITokenNetwork::settleChannelCall> {
        self.tx(
            caller,
            self.network,
            ITokenNetwork::settleChannelCall {
                channel_identifier: id,
                participant1: self.addr(p1),
                participant1_transferred_amount: b1.transferred,
                participant1_locked_amount: b1.locked,
                participant1_locksroot: b1.locksroot,
                participant2: self.addr(p2),
                participant2_transferred_amount: b2.transferred,
                participant2_locked_amount: b2.locked,
                participant2_locksroot: b2.locksroot,
            },
        )
    }

    async fn info(
        &self,
        id: U256,
        participant: usize,
        partner: usize,
    ) -> ITokenNetwork::getChannelParticipantInfoReturn {
        self.view(
            self.network,
            ITokenNetwork::getChannelParticipantInfoCall {
                channel_identifier: id,
                participant: self.addr(participant),
                partner: self.addr(partner),
            },
        )
        .await
    }

    async fn channel_id(&self, a: usize, b: usize) -> U256 {
        self.view(
            self.network,
            ITokenNetwork::getChannelIdentifierCall {
                participant: self.addr(a),
                partner: self.addr(b),
            },
        )
        .await
    }

    async fn channel_state(&self, id: U256, a: usize, b: usize) -> (U256, u8) {
        let info = self
            .view(
                self.network,
                IExtras::getChannelInfoCall {
                    channel_identifier: id,
                    participant1: self.addr(a),
                    participant2: self.addr(b),
                },
            )
            .await;
        (info.settle_timestamp, info.state)
    }

    /// A channel between `a` and `b` with deposits `da`, `db`, closed by `a` with `b`'s
    /// proof of `transferred` (nonce 1; empty close when zero). Returns (id, close receipt).
    async fn closed_channel(
        &self,
        a: usize,
        b: usize,
        da: u64,
        db: u64,
        transferred: u64,
    ) -> (U256, TransactionReceipt) {
        let id = self.open(a, b).await;
        if da > 0 {
            self.fund(a, u(da)).await;
            self.deposit(id, a, b, u(da)).await;
        }
        if db > 0 {
            self.fund(b, u(db)).await;
            self.deposit(id, b, a, u(db)).await;
        }
        let signed = (transferred > 0)
            .then(|| self.signed(b, self.proof(id, &Balance::transferred(u(transferred)), 1)));
        let receipt = self.close(a, b, id, signed.as_ref()).await;
        (id, receipt)
    }
}

/// `signature` with v replaced.
fn with_v(signature: &Bytes, v: u8) -> Bytes {
    let mut bytes = signature.to_vec();
    bytes[64] = v;
    bytes.into()
}

/// The other valid signature of the same message: (r, n - s, v flipped). ecrecover
/// accepts it; EIP-2 forbids it.
fn high_s(signature: &Bytes) -> Bytes {
    let s = U256::from_be_slice(&signature[32..64]);
    let mut bytes = signature.to_vec();
    bytes[32..64].copy_from_slice(&(secp256k1_n() - s).to_be_bytes::<32>());
    bytes[64] = if signature[64] == 27 { 28 } else { 27 };
    bytes.into()
}

fn sign_raw(signer: &PrivateKeySigner, message: &[u8]) -> Bytes {
    signer
        .sign_message_sync(message)
        .unwrap()
        .as_bytes()
        .to_vec()
        .into()
}

/// The fields of the 212/277-byte messages of §5.3, each by the index of its last byte (the
/// byte [`altered`] changes).
const FIELDS: [(&str, usize); 8] = [
    ("token_network", 19),
    ("chain_id", 51),
    ("message_type", 83),
    ("channel_identifier", 115),
    ("balance_hash", 147),
    ("nonce", 179),
    ("additional_hash", 211),
    ("partner_signature", 276),
];

/// `message` with the field whose last byte is `at` changed (the message type swaps 1 and 2).
fn altered(message: &[u8], at: usize) -> Vec<u8> {
    let mut message = message.to_vec();
    message[at] ^= if at == 83 { 3 } else { 1 };
    message
}

// ------------------------------------------------------------------------ registry

#[tokio::test]
async fn registry_views_and_create_token_network() {
    let net = Net::start().await;
    let registry = net.deployment.token_network_registry;
    assert_eq!(
        net.view(registry, ITokenNetworkRegistry::settle_timeoutCall {})
            .await,
        u(SETTLE_TIMEOUT)
    );
    assert_eq!(
        net.view(
            registry,
            ITokenNetworkRegistry::secret_registry_addressCall {}
        )
        .await,
        net.deployment.secret_registry
    );
    assert_eq!(
        net.view(registry, ITokenNetworkRegistry::max_token_networksCall {})
            .await,
        u(1000)
    );
    assert_eq!(
        net.view(
            registry,
            ITokenNetworkRegistry::token_network_createdCall {}
        )
        .await,
        u(1)
    );
    assert_eq!(
        net.view(
            registry,
            ITokenNetworkRegistry::token_to_token_networksCall(net.token)
        )
        .await,
        net.network
    );

    // Anyone may register a token; the return value is the new network.
    let token = net.new_token().await;
    assert_eq!(
        net.view(
            registry,
            ITokenNetworkRegistry::token_to_token_networksCall(token)
        )
        .await,
        Address::ZERO
    );
    let create = net.tx(
        D,
        registry,
        ITokenNetworkRegistry::createERC20TokenNetworkCall {
            _token_address: token,
            _channel_participant_deposit_limit: u(100),
            _token_network_deposit_limit: u(1000),
        },
    );
    let predicted = create.call().await.unwrap();
    let receipt = ok(create).await;
    let created: ITokenNetworkRegistry::TokenNetworkCreated = event(&receipt, registry);
    assert_eq!(created.token_address, token);
    assert_eq!(created.token_network_address, predicted);
    assert_eq!(created.settle_timeout, u(SETTLE_TIMEOUT));
    let network = predicted;
    assert_eq!(
        net.view(
            registry,
            ITokenNetworkRegistry::token_to_token_networksCall(token)
        )
        .await,
        network
    );
    assert_eq!(
        net.view(
            registry,
            ITokenNetworkRegistry::token_network_createdCall {}
        )
        .await,
        u(2)
    );

    // The new network's views.
    assert_eq!(net.view(network, ITokenNetwork::tokenCall {}).await, token);
    assert_eq!(
        net.view(network, ITokenNetwork::settle_timeoutCall {})
            .await,
        u(SETTLE_TIMEOUT)
    );
    assert_eq!(
        net.view(network, ITokenNetwork::channel_counterCall {})
            .await,
        u(0)
    );
    assert_eq!(
        net.view(
            network,
            ITokenNetwork::channel_participant_deposit_limitCall {}
        )
        .await,
        u(100)
    );
    assert_eq!(
        net.view(network, ITokenNetwork::token_network_deposit_limitCall {})
            .await,
        u(1000)
    );
    // The deployment's own network: no limits.
    assert_eq!(
        net.view(
            net.network,
            ITokenNetwork::channel_participant_deposit_limitCall {}
        )
        .await,
        U256::MAX
    );
    assert_eq!(
        net.view(
            net.network,
            ITokenNetwork::token_network_deposit_limitCall {}
        )
        .await,
        U256::MAX
    );
}

/// The registry's constructor (SPEC §5.2) rejects a SecretRegistry that is not a contract,
/// a zero settle timeout and a zero max_token_networks.
#[tokio::test]
async fn registry_constructor_rejects_invalid_arguments() {
    let net = Net::start().await;
    let secret_registry = net.deployment.secret_registry;
    for (args, reason) in [
        (
            (net.addr(A), u(SETTLE_TIMEOUT), u(1)),
            "TNR: invalid SecretRegistry",
        ),
        ((secret_registry, u(0), u(1)), "TNR: invalid settle timeout"),
        (
            (secret_registry, u(SETTLE_TIMEOUT), u(0)),
            "TNR: invalid max_token_networks",
        ),
    ] {
        let mut code = artifact_bytecode(TOKEN_NETWORK_REGISTRY);
        code.extend(args.abi_encode_params());
        let deploy = TransactionRequest::default().with_deploy_code(Bytes::from(code));
        let error = net.providers[0]
            .call(deploy.clone())
            .await
            .expect_err(reason);
        assert!(error.to_string().contains(reason), "{error}");
        let receipt = net.providers[0]
            .send_transaction(deploy.with_gas_limit(5_000_000))
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(!receipt.status(), "{reason}: deployed");
    }
}

#[tokio::test]
async fn registry_rejects_a_token_registered_twice() {
    let net = Net::start().await;
    reverts(
        net.tx(
            A,
            net.deployment.token_network_registry,
            ITokenNetworkRegistry::createERC20TokenNetworkCall {
                _token_address: net.token,
                _channel_participant_deposit_limit: u(1),
                _token_network_deposit_limit: u(1),
            },
        ),
        "TNR: token already registered",
    )
    .await;
}

#[tokio::test]
async fn registry_rejects_a_network_beyond_max_token_networks() {
    let net = Net::start().await;
    let mut code = artifact_bytecode(TOKEN_NETWORK_REGISTRY);
    code.extend((net.deployment.secret_registry, u(SETTLE_TIMEOUT), u(1)).abi_encode_params());
    let registry = net.deploy_code(code).await;
    assert_eq!(
        net.view(registry, ITokenNetworkRegistry::max_token_networksCall {})
            .await,
        u(1)
    );
    let create = |token| {
        net.tx(
            A,
            registry,
            ITokenNetworkRegistry::createERC20TokenNetworkCall {
                _token_address: token,
                _channel_participant_deposit_limit: U256::MAX,
                _token_network_deposit_limit: U256::MAX,
            },
        )
    };
    ok(create(net.token)).await;
    assert_eq!(
        net.view(
            registry,
            ITokenNetworkRegistry::token_network_createdCall {}
        )
        .await,
        u(1)
    );
    let second = net.new_token().await;
    reverts(create(second), "TNR: registry full").await;
}

/// createERC20TokenNetwork with the given token and limits, sent by A.
fn create_network(
    net: &Net,
    token: Address,
    participant: U256,
    network: U256,
) -> SolCallBuilder<&DynProvider, ITokenNetworkRegistry::createERC20TokenNetworkCall> {
    net.tx(
        A,
        net.deployment.token_network_registry,
        ITokenNetworkRegistry::createERC20TokenNetworkCall {
            _token_address: token,
            _channel_participant_deposit_limit: participant,
            _token_network_deposit_limit: network,
        },
    )
}

#[tokio::test]
async fn registry_rejects_a_token_that_is_not_a_contract() {
    let net = Net::start().await;
    reverts(
        create_network(&net, net.addr(B), u(1), u(1)),
        "TN: invalid token address",
    )
    .await;
}

#[tokio::test]
async fn registry_rejects_a_zero_participant_deposit_limit() {
    let net = Net::start().await;
    let token = net.new_token().await;
    reverts(
        create_network(&net, token, u(0), u(1)),
        "TN: invalid participant deposit limit",
    )
    .await;
    ok(create_network(&net, token, u(1), u(1))).await;
}

#[tokio::test]
async fn registry_rejects_a_network_deposit_limit_below_the_participant_limit() {
    let net = Net::start().await;
    let token = net.new_token().await;
    reverts(
        create_network(&net, token, u(2), u(1)),
        "TN: invalid network deposit limit",
    )
    .await;
    ok(create_network(&net, token, u(2), u(2))).await;
}

// ------------------------------------------------------------------------ open

#[tokio::test]
async fn open_channel_assigns_identifiers_from_one_and_emits_channel_opened() {
    let net = Net::start().await;
    assert_eq!(
        net.view(net.network, ITokenNetwork::channel_counterCall {})
            .await,
        u(0)
    );
    assert_eq!(net.channel_id(A, B).await, u(0));
    // Anyone may open: C opens A–B.
    let open = net.tx(
        C,
        net.network,
        ITokenNetwork::openChannelCall {
            participant1: net.addr(A),
            participant2: net.addr(B),
        },
    );
    assert_eq!(open.call().await.unwrap(), u(1));
    let receipt = ok(open).await;
    let opened: ChannelOpened = event(&receipt, net.network);
    assert_eq!(opened.channel_identifier, u(1));
    assert_eq!(opened.participant1, net.addr(A));
    assert_eq!(opened.participant2, net.addr(B));
    assert_eq!(net.channel_id(A, B).await, u(1));
    assert_eq!(net.channel_id(B, A).await, u(1));
    assert_eq!(
        net.view(net.network, ITokenNetwork::channel_counterCall {})
            .await,
        u(1)
    );
    let info = net.info(u(1), A, B).await;
    assert_eq!(info._0, U256::ZERO); // deposit
    assert_eq!(info._1, U256::ZERO); // withdrawn
    assert!(!info._2); // closer
    assert_eq!(info._3, B256::ZERO); // balance hash
    assert_eq!(info._4, U256::ZERO); // nonce
    assert_eq!(info._5, B256::ZERO); // locksroot
    assert_eq!(info._6, U256::ZERO); // locked
    assert_eq!(net.channel_state(u(1), A, B).await, (u(SETTLE_TIMEOUT), 1));

    // The next pair gets the next identifier, participants in the caller's order.
    let receipt = ok(net.tx(
        C,
        net.network,
        ITokenNetwork::openChannelCall {
            participant1: net.addr(C),
            participant2: net.addr(A),
        },
    ))
    .await;
    let opened: ChannelOpened = event(&receipt, net.network);
    assert_eq!(
        (
            opened.channel_identifier,
            opened.participant1,
            opened.participant2
        ),
        (u(2), net.addr(C), net.addr(A))
    );
    assert_eq!(net.channel_id(A, C).await, u(2));
    assert_eq!(
        net.view(net.network, ITokenNetwork::channel_counterCall {})
            .await,
        u(2)
    );
    assert_eq!(net.channel_id(B, C).await, u(0));
}

#[tokio::test]
async fn open_channel_with_deposit_opens_and_pulls_the_deposit_from_the_caller() {
    let net = Net::start().await;
    // C pays for A's deposit.
    net.fund(C, u(1000)).await;
    let call = net.tx(
        C,
        net.network,
        ITokenNetwork::openChannelWithDepositCall {
            participant1: net.addr(A),
            participant2: net.addr(B),
            participant1_total_deposit: u(300),
        },
    );
    assert_eq!(call.call().await.unwrap(), u(1));
    let receipt = ok(call).await;
    let opened: ChannelOpened = event(&receipt, net.network);
    assert_eq!(
        (
            opened.channel_identifier,
            opened.participant1,
            opened.participant2
        ),
        (u(1), net.addr(A), net.addr(B))
    );
    let deposit: ChannelNewDeposit = event(&receipt, net.network);
    assert_eq!(deposit.channel_identifier, u(1));
    assert_eq!(deposit.participant, net.addr(A));
    assert_eq!(deposit.total_deposit, u(300));
    assert_eq!(net.balance_of(net.token, net.addr(C)).await, u(700));
    assert_eq!(net.balance_of(net.token, net.network).await, u(300));
    assert_eq!(net.info(u(1), A, B).await._0, u(300));
    assert_eq!(net.info(u(1), B, A).await._0, u(0));
}

#[tokio::test]
async fn open_rejects_a_zero_address() {
    let net = Net::start().await;
    for (p1, p2) in [
        (Address::ZERO, net.addr(B)),
        (net.addr(A), Address::ZERO),
        (Address::ZERO, Address::ZERO),
    ] {
        reverts(
            net.tx(
                A,
                net.network,
                ITokenNetwork::openChannelCall {
                    participant1: p1,
                    participant2: p2,
                },
            ),
            "TN/open: participant address zero",
        )
        .await;
    }
    net.fund(A, u(10)).await;
    reverts(
        net.tx(
            A,
            net.network,
            ITokenNetwork::openChannelWithDepositCall {
                participant1: net.addr(A),
                participant2: Address::ZERO,
                participant1_total_deposit: u(10),
            },
        ),
        "TN/open: participant address zero",
    )
    .await;
    assert_eq!(
        net.view(net.network, ITokenNetwork::channel_counterCall {})
            .await,
        u(0)
    );
}

#[tokio::test]
async fn open_rejects_equal_addresses() {
    let net = Net::start().await;
    reverts(
        net.tx(
            A,
            net.network,
            ITokenNetwork::openChannelCall {
                participant1: net.addr(A),
                participant2: net.addr(A),
            },
        ),
        "TN/open: participants must differ",
    )
    .await;
    assert_eq!(
        net.view(net.network, ITokenNetwork::channel_counterCall {})
            .await,
        u(0)
    );
}

#[tokio::test]
async fn open_rejects_a_pair_with_an_open_or_closed_channel_and_reopens_after_settlement() {
    let net = Net::start().await;
    let open = |a: usize, b: usize| {
        net.tx(
            C,
            net.network,
            ITokenNetwork::openChannelCall {
                participant1: net.addr(a),
                participant2: net.addr(b),
            },
        )
    };
    let id = net.open(A, B).await;
    // Open: in both orders, and with a deposit.
    reverts(open(A, B), "TN/open: channel exists for participants").await;
    reverts(open(B, A), "TN/open: channel exists for participants").await;
    net.fund(B, u(5)).await;
    reverts(
        net.tx(
            B,
            net.network,
            ITokenNetwork::openChannelWithDepositCall {
                participant1: net.addr(B),
                participant2: net.addr(A),
                participant1_total_deposit: u(5),
            },
        ),
        "TN/open: channel exists for participants",
    )
    .await;
    // Closed.
    net.close(A, B, id, None).await;
    reverts(open(B, A), "TN/open: channel exists for participants").await;
    assert_eq!(
        net.view(net.network, ITokenNetwork::channel_counterCall {})
            .await,
        u(1)
    );
    // Settled: the pair opens again with a new identifier.
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    ok(net.settle_call(C, id, A, &Balance::default(), B, &Balance::default())).await;
    assert_eq!(net.channel_id(A, B).await, u(0));
    let receipt = ok(open(B, A)).await;
    assert_eq!(
        event::<ChannelOpened>(&receipt, net.network).channel_identifier,
        u(2)
    );
    assert_eq!(net.channel_id(A, B).await, u(2));
}

// ------------------------------------------------------------------------ deposit

#[tokio::test]
async fn set_total_deposit_raises_the_total_and_pulls_the_difference_from_any_funder() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    net.fund(A, u(1000)).await;
    net.fund(C, u(1000)).await;

    let receipt = ok(net.deposit_call(A, id, A, B, u(100))).await;
    let deposit: ChannelNewDeposit = event(&receipt, net.network);
    assert_eq!(
        (
            deposit.channel_identifier,
            deposit.participant,
            deposit.total_deposit
        ),
        (id, net.addr(A), u(100))
    );
    // A top-up: only the difference moves.
    let receipt = ok(net.deposit_call(A, id, A, B, u(250))).await;
    assert_eq!(
        event::<ChannelNewDeposit>(&receipt, net.network).total_deposit,
        u(250)
    );
    assert_eq!(net.balance_of(net.token, net.addr(A)).await, u(750));
    // C funds B.
    let receipt = ok(net.deposit_call(C, id, B, A, u(40))).await;
    let deposit: ChannelNewDeposit = event(&receipt, net.network);
    assert_eq!(
        (deposit.participant, deposit.total_deposit),
        (net.addr(B), u(40))
    );
    assert_eq!(net.balance_of(net.token, net.addr(C)).await, u(960));
    assert_eq!(net.balance_of(net.token, net.addr(B)).await, u(0));
    assert_eq!(net.balance_of(net.token, net.network).await, u(290));
    assert_eq!(net.info(id, A, B).await._0, u(250));
    assert_eq!(net.info(id, B, A).await._0, u(40));
}

#[tokio::test]
async fn deposit_rejects_a_zero_total() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    net.fund(A, u(10)).await;
    reverts(
        net.deposit_call(A, id, A, B, u(0)),
        "TN/deposit: total_deposit must be positive",
    )
    .await;
    reverts(
        net.tx(
            A,
            net.network,
            ITokenNetwork::openChannelWithDepositCall {
                participant1: net.addr(A),
                participant2: net.addr(C),
                participant1_total_deposit: u(0),
            },
        ),
        "TN/deposit: total_deposit must be positive",
    )
    .await;
    assert_eq!(net.channel_id(A, C).await, u(0));
}

#[tokio::test]
async fn deposit_rejects_a_total_that_does_not_increase() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    net.fund(A, u(100)).await;
    net.deposit(id, A, B, u(50)).await;
    reverts(
        net.deposit_call(A, id, A, B, u(50)),
        "TN/deposit: total_deposit must increase",
    )
    .await;
    reverts(
        net.deposit_call(A, id, A, B, u(49)),
        "TN/deposit: total_deposit must increase",
    )
    .await;
    net.deposit(id, A, B, u(51)).await;
}

#[tokio::test]
async fn deposit_rejects_more_than_the_participant_limit() {
    let net = Net::start().await;
    let (token, network) = net.limited_network(u(100), u(1000)).await;
    net.fund_for(token, network, A, u(1000)).await;
    let id = net.open_in(network, A, B).await;
    reverts(
        net.deposit_call_in(network, A, id, A, B, u(101)),
        "TN/deposit: participant deposit limit exceeded",
    )
    .await;
    ok(net.deposit_call_in(network, A, id, A, B, u(100))).await;
    reverts(
        net.deposit_call_in(network, A, id, A, B, u(101)),
        "TN/deposit: participant deposit limit exceeded",
    )
    .await;
    reverts(
        net.tx(
            A,
            network,
            ITokenNetwork::openChannelWithDepositCall {
                participant1: net.addr(A),
                participant2: net.addr(C),
                participant1_total_deposit: u(101),
            },
        ),
        "TN/deposit: participant deposit limit exceeded",
    )
    .await;
    // Packed storage: an unlimited network caps a deposit at 2^112 - 1 (no tokens needed
    // to see the check, it comes before the transfer).
    let id = net.open(A, B).await;
    let cap = (U256::from(1u64) << 112) - u(1);
    reverts(
        net.deposit_call(A, id, A, B, cap + u(1)),
        "TN/deposit: participant deposit limit exceeded",
    )
    .await;
}

#[tokio::test]
async fn deposit_rejects_more_than_the_network_limit() {
    let net = Net::start().await;
    let (token, network) = net.limited_network(u(100), u(150)).await;
    for account in [A, C] {
        net.fund_for(token, network, account, u(1000)).await;
    }
    let ab = net.open_in(network, A, B).await;
    let cd = net.open_in(network, C, D).await;
    ok(net.deposit_call_in(network, A, ab, A, B, u(100))).await;
    reverts(
        net.deposit_call_in(network, C, cd, C, D, u(51)),
        "TN/deposit: network deposit limit exceeded",
    )
    .await;
    // Exactly at the limit is fine.
    ok(net.deposit_call_in(network, C, cd, C, D, u(50))).await;
    assert_eq!(net.balance_of(token, network).await, u(150));
    reverts(
        net.deposit_call_in(network, C, ab, B, A, u(1)),
        "TN/deposit: network deposit limit exceeded",
    )
    .await;
    reverts(
        net.tx(
            A,
            network,
            ITokenNetwork::openChannelWithDepositCall {
                participant1: net.addr(A),
                participant2: net.addr(D),
                participant1_total_deposit: u(1),
            },
        ),
        "TN/deposit: network deposit limit exceeded",
    )
    .await;
}

#[tokio::test]
async fn deposit_rejects_a_closed_channel() {
    let net = Net::start().await;
    let (id, _) = net.closed_channel(A, B, 10, 0, 0).await;
    net.fund(A, u(100)).await;
    reverts(
        net.deposit_call(A, id, A, B, u(20)),
        "TN/deposit: channel is not open",
    )
    .await;
    reverts(
        net.deposit_call(A, id, B, A, u(20)),
        "TN/deposit: channel is not open",
    )
    .await;
}

#[tokio::test]
async fn deposit_rejects_an_unknown_or_settled_channel() {
    let net = Net::start().await;
    net.fund(A, u(100)).await;
    let (id, _) = net.closed_channel(A, B, 10, 0, 0).await;
    let other = net.open(A, C).await;
    // An identifier that is not the pair's.
    reverts(
        net.deposit_call(A, other + u(1), A, C, u(5)),
        "TN/deposit: no such channel for participants",
    )
    .await;
    reverts(
        net.deposit_call(A, id, A, C, u(5)),
        "TN/deposit: no such channel for participants",
    )
    .await;
    // Settled.
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    ok(net.settle_call(A, id, B, &Balance::default(), A, &Balance::default())).await;
    reverts(
        net.deposit_call(A, id, A, B, u(20)),
        "TN/deposit: no such channel for participants",
    )
    .await;
    ok(net.deposit_call(A, other, A, C, u(5))).await;
}

#[tokio::test]
async fn deposit_passes_the_token_reason_through_without_allowance_or_balance() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    // A approved but holds nothing; B holds tokens but approved nothing.
    ok(net.tx(
        A,
        net.token,
        IERC20::approveCall {
            spender: net.network,
            value: U256::MAX,
        },
    ))
    .await;
    reverts(
        net.deposit_call(A, id, A, B, u(1)),
        "CT: insufficient balance",
    )
    .await;
    ok(net.tx(B, net.token, ICustomToken::mintCall { num: u(10) })).await;
    reverts(
        net.deposit_call(B, id, B, A, u(1)),
        "CT: insufficient allowance",
    )
    .await;
    assert_eq!(net.info(id, A, B).await._0, u(0));
    assert_eq!(net.info(id, B, A).await._0, u(0));
}

// ------------------------------------------------------------------------ close

#[tokio::test]
async fn close_with_an_empty_proof_by_anyone() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    net.fund(A, u(10)).await;
    net.deposit(id, A, B, u(10)).await;
    // C sends the close that B signed (signature made with closing_signature()).
    let signature =
        closing_signature(&net.keys[B], net.network, net.chain_id, ChannelId(1)).unwrap();
    let receipt = ok(net.close_call(
        C,
        B,
        A,
        id,
        &net.empty_proof(id),
        Bytes::from(vec![0u8; 65]),
        signature,
    ))
    .await;
    let closed: ChannelClosed = event(&receipt, net.network);
    assert_eq!(closed.channel_identifier, id);
    assert_eq!(closed.closing_participant, net.addr(B));
    assert_eq!(closed.nonce, U256::ZERO);
    assert_eq!(closed.balance_hash, B256::ZERO);
    let b = net.info(id, B, A).await;
    assert!(b._2, "B is the closer");
    let a = net.info(id, A, B).await;
    assert!(!a._2);
    assert_eq!((a._0, a._3, a._4), (u(10), B256::ZERO, U256::ZERO));
    let closed_at = net.timestamp_of(&receipt).await;
    assert_eq!(
        net.channel_state(id, A, B).await,
        (u(closed_at + SETTLE_TIMEOUT), 2)
    );
}

#[tokio::test]
async fn close_with_the_partner_balance_proof_stores_it() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    let balance = Balance::transferred(u(7));
    let signed = net.signed(B, net.proof(id, &balance, 5));
    let receipt = net.close(A, B, id, Some(&signed)).await;
    let closed: ChannelClosed = event(&receipt, net.network);
    assert_eq!(closed.channel_identifier, id);
    assert_eq!(closed.closing_participant, net.addr(A));
    assert_eq!(closed.nonce, u(5));
    assert_eq!(closed.balance_hash, balance.hash());
    let b = net.info(id, B, A).await;
    assert!(!b._2);
    assert_eq!((b._3, b._4), (balance.hash(), u(5)));
    let a = net.info(id, A, B).await;
    assert!(a._2);
    assert_eq!((a._3, a._4), (B256::ZERO, U256::ZERO));
}

/// The empty close of channel `id` by `closer`, correctly signed.
fn empty_close(
    net: &Net,
    id: U256,
    closer: usize,
    partner: usize,
) -> SolCallBuilder<&DynProvider, ITokenNetwork::closeChannelCall> {
    let proof = net.empty_proof(id);
    let zero = Bytes::from(vec![0u8; 65]);
    let signature = proof.closing_signature(&net.keys[closer], &zero).unwrap();
    net.close_call(closer, closer, partner, id, &proof, zero, signature)
}

#[tokio::test]
async fn close_rejects_a_channel_that_is_not_open() {
    let net = Net::start().await;
    let (id, _) = net.closed_channel(A, B, 0, 0, 0).await;
    reverts(empty_close(&net, id, A, B), "TN/close: channel is not open").await;
    reverts(empty_close(&net, id, B, A), "TN/close: channel is not open").await;
}

#[tokio::test]
async fn close_rejects_an_unknown_or_settled_channel() {
    let net = Net::start().await;
    let (id, _) = net.closed_channel(A, B, 0, 0, 0).await;
    let other = net.open(A, C).await;
    reverts(
        empty_close(&net, id, A, C),
        "TN/close: no such channel for participants",
    )
    .await;
    reverts(
        empty_close(&net, other + u(1), A, C),
        "TN/close: no such channel for participants",
    )
    .await;
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    ok(net.settle_call(C, id, A, &Balance::default(), B, &Balance::default())).await;
    reverts(
        empty_close(&net, id, B, A),
        "TN/close: no such channel for participants",
    )
    .await;
    ok(empty_close(&net, other, C, A)).await;
}

/// A channel A–`partner`, and a close by A with the partner's proof of 7 (nonce 3) and the
/// closing signature `closing` makes, that must revert with `reason`; then the same close
/// with A's genuine signature, that must succeed.
async fn try_close(
    net: &Net,
    partner: usize,
    closing: impl Fn(&BalanceProof, &Bytes) -> Bytes,
    reason: &'static str,
) {
    let id = net.open(A, partner).await;
    let signed = net.signed(partner, net.proof(id, &Balance::transferred(u(7)), 3));
    let signature = closing(&signed.proof, &signed.signature);
    reverts(
        net.close_call(
            A,
            A,
            partner,
            id,
            &signed.proof,
            signed.signature.clone(),
            signature,
        ),
        reason,
    )
    .await;
    // The same call with A's own signature works.
    let good = signed
        .proof
        .closing_signature(&net.keys[A], &signed.signature)
        .unwrap();
    ok(net.close_call(A, A, partner, id, &signed.proof, signed.signature, good)).await;
}

#[tokio::test]
async fn close_rejects_a_closing_signature_by_someone_else() {
    let net = Net::start().await;
    // Signed by the partner, or by a third account.
    for (partner, signer) in [(B, B), (C, D)] {
        try_close(
            &net,
            partner,
            |proof, partner_signature| {
                proof
                    .closing_signature(&net.keys[signer], partner_signature)
                    .unwrap()
            },
            "TN/close: invalid closing signature",
        )
        .await;
    }
    // Empty close signed by the partner.
    let id = net.open(A, D).await;
    let proof = net.empty_proof(id);
    let zero = Bytes::from(vec![0u8; 65]);
    let signature = proof.closing_signature(&net.keys[D], &zero).unwrap();
    reverts(
        net.close_call(A, A, D, id, &proof, zero, signature),
        "TN/close: invalid closing signature",
    )
    .await;
}

#[tokio::test]
async fn close_rejects_a_closing_signature_over_another_channel_identifier() {
    let net = Net::start().await;
    try_close(
        &net,
        B,
        |proof, partner_signature| {
            let other = BalanceProof {
                channel_id: ChannelId(proof.channel_id.0 + 1),
                ..*proof
            };
            other
                .closing_signature(&net.keys[A], partner_signature)
                .unwrap()
        },
        "TN/close: invalid closing signature",
    )
    .await;
    // And an empty close signed for another channel.
    let id = net.open(A, C).await;
    let signature =
        closing_signature(&net.keys[A], net.network, net.chain_id, ChannelId(1)).unwrap();
    reverts(
        net.close_call(
            A,
            A,
            C,
            id,
            &net.empty_proof(id),
            Bytes::from(vec![0u8; 65]),
            signature,
        ),
        "TN/close: invalid closing signature",
    )
    .await;
}

#[tokio::test]
async fn close_rejects_a_closing_signature_over_another_chain_id() {
    let net = Net::start().await;
    assert_eq!(net.chain_id, 31337);
    try_close(
        &net,
        B,
        |proof, partner_signature| {
            let other = BalanceProof {
                chain_id: 1,
                ..*proof
            };
            other
                .closing_signature(&net.keys[A], partner_signature)
                .unwrap()
        },
        "TN/close: invalid closing signature",
    )
    .await;
}

#[tokio::test]
async fn close_rejects_a_closing_signature_over_another_token_network() {
    let net = Net::start().await;
    let (_, other_network) = net.limited_network(U256::MAX, U256::MAX).await;
    try_close(
        &net,
        B,
        |proof, partner_signature| {
            let other = BalanceProof {
                token_network: other_network,
                ..*proof
            };
            other
                .closing_signature(&net.keys[A], partner_signature)
                .unwrap()
        },
        "TN/close: invalid closing signature",
    )
    .await;
}

#[tokio::test]
async fn close_rejects_a_signature_with_v_other_than_27_or_28() {
    let net = Net::start().await;
    for (partner, v) in [(B, 0u8), (C, 1), (D, 26), (5, 29)] {
        try_close(
            &net,
            partner,
            |proof, partner_signature| {
                with_v(
                    &proof
                        .closing_signature(&net.keys[A], partner_signature)
                        .unwrap(),
                    v,
                )
            },
            "TN: signature v must be 27 or 28",
        )
        .await;
    }
    // The partner's signature too.
    let id = net.open(B, C).await;
    let signed = net.signed(C, net.proof(id, &Balance::transferred(u(1)), 1));
    let bad = with_v(&signed.signature, signed.signature[64] - 27);
    let closing = signed.proof.closing_signature(&net.keys[B], &bad).unwrap();
    reverts(
        net.close_call(B, B, C, id, &signed.proof, bad, closing),
        "TN: signature v must be 27 or 28",
    )
    .await;
}

#[tokio::test]
async fn close_rejects_a_high_s_signature() {
    let net = Net::start().await;
    try_close(
        &net,
        B,
        |proof, partner_signature| {
            high_s(
                &proof
                    .closing_signature(&net.keys[A], partner_signature)
                    .unwrap(),
            )
        },
        "TN: signature s is malleable",
    )
    .await;
    // The partner's signature too.
    let id = net.open(B, C).await;
    let signed = net.signed(C, net.proof(id, &Balance::transferred(u(1)), 1));
    let bad = high_s(&signed.signature);
    // Sanity: the malleated signature recovers the same signer (only EIP-2 rejects it).
    let parsed = alloy::primitives::Signature::from_raw(&bad).unwrap();
    assert_eq!(
        parsed
            .recover_address_from_msg(signed.proof.message())
            .unwrap(),
        net.addr(C)
    );
    let closing = signed.proof.closing_signature(&net.keys[B], &bad).unwrap();
    reverts(
        net.close_call(B, B, C, id, &signed.proof, bad, closing),
        "TN: signature s is malleable",
    )
    .await;
}

#[tokio::test]
async fn close_rejects_signatures_that_are_not_65_bytes() {
    let net = Net::start().await;
    try_close(
        &net,
        B,
        |proof, partner_signature| {
            let signature = proof
                .closing_signature(&net.keys[A], partner_signature)
                .unwrap();
            signature[..64].to_vec().into()
        },
        "TN: signature must be 65 bytes",
    )
    .await;
    let id = net.open(B, C).await;
    let proof = net.empty_proof(id);
    let closing = proof.closing_signature(&net.keys[B], &[0u8; 65]).unwrap();
    reverts(
        net.close_call(B, B, C, id, &proof, Bytes::new(), closing),
        "TN: signature must be 65 bytes",
    )
    .await;
}

#[tokio::test]
async fn close_rejects_a_partner_balance_proof_with_a_wrong_signature() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    let proof = net.proof(id, &Balance::transferred(u(7)), 3);
    // Signed by the closer itself, or by a third account, instead of the partner.
    for signer in [A, C] {
        let bad = proof.sign(&net.keys[signer]).unwrap();
        let closing = proof.closing_signature(&net.keys[A], &bad).unwrap();
        reverts(
            net.close_call(A, A, B, id, &proof, bad, closing),
            "TN/close: invalid non-closing signature",
        )
        .await;
    }
    // A proof of 7 signed, but 8 claimed.
    let signed = net.signed(B, proof);
    let claimed = BalanceProof {
        balance_hash: Balance::transferred(u(8)).hash(),
        ..proof
    };
    let closing = claimed
        .closing_signature(&net.keys[A], &signed.signature)
        .unwrap();
    reverts(
        net.close_call(A, A, B, id, &claimed, signed.signature.clone(), closing),
        "TN/close: invalid non-closing signature",
    )
    .await;
    net.close(A, B, id, Some(&signed)).await;
}

#[tokio::test]
async fn close_rejects_a_nonce_beyond_64_bits() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    let huge = BalanceProof {
        nonce: U256::from(1u64) << 64,
        ..net.proof(id, &Balance::transferred(u(7)), 3)
    };
    let signed = net.signed(B, huge);
    let closing = huge
        .closing_signature(&net.keys[A], &signed.signature)
        .unwrap();
    reverts(
        net.close_call(A, A, B, id, &huge, signed.signature, closing),
        "TN/close: nonce too large",
    )
    .await;
    // 2^64 - 1 is the largest nonce.
    let largest = net.signed(
        B,
        BalanceProof {
            nonce: U256::from(u64::MAX),
            ..huge
        },
    );
    let receipt = net.close(A, B, id, Some(&largest)).await;
    assert_eq!(
        event::<ChannelClosed>(&receipt, net.network).nonce,
        U256::from(u64::MAX)
    );
}

// ------------------------------------------------------------------------ update

/// A channel A–B (deposits 100 / 50), closed by A with B's proof of 10 (nonce 1), and A's
/// signed proof of `transferred` with `nonce`.
async fn closed_for_update(
    net: &Net,
    transferred: u64,
    nonce: u64,
) -> (U256, TransactionReceipt, Signed) {
    let (id, receipt) = net.closed_channel(A, B, 100, 50, 10).await;
    let signed = net.signed(
        A,
        net.proof(id, &Balance::transferred(u(transferred)), nonce),
    );
    (id, receipt, signed)
}

#[tokio::test]
async fn update_stores_a_newer_closer_proof_sent_by_anyone_until_the_timeout() {
    let net = Net::start().await;
    let (id, close, signed) = closed_for_update(&net, 30, 4).await;
    let closed_at = net.timestamp_of(&close).await;
    // C sends B's update.
    let receipt = ok(net.update(C, A, B, id, &signed)).await;
    let updated: NonClosingBalanceProofUpdated = event(&receipt, net.network);
    assert_eq!(updated.channel_identifier, id);
    assert_eq!(updated.closing_participant, net.addr(A));
    assert_eq!(updated.nonce, u(4));
    assert_eq!(updated.balance_hash, Balance::transferred(u(30)).hash());
    let a = net.info(id, A, B).await;
    assert!(a._2);
    assert_eq!((a._3, a._4), (Balance::transferred(u(30)).hash(), u(4)));
    // B's stored proof is untouched.
    let b = net.info(id, B, A).await;
    assert_eq!((b._3, b._4), (Balance::transferred(u(10)).hash(), u(1)));

    // A newer one still works at the last second of the timeout, sent by B itself.
    let newer = net.signed(A, net.proof(id, &Balance::transferred(u(35)), 9));
    net.set_next_block_timestamp(closed_at + SETTLE_TIMEOUT)
        .await;
    let receipt = ok(net.update(B, A, B, id, &newer)).await;
    assert_eq!(net.timestamp_of(&receipt).await, closed_at + SETTLE_TIMEOUT);
    assert_eq!(net.info(id, A, B).await._4, u(9));
}

#[tokio::test]
async fn update_rejects_after_the_settle_timeout() {
    let net = Net::start().await;
    let (id, close, signed) = closed_for_update(&net, 30, 4).await;
    let closed_at = net.timestamp_of(&close).await;
    net.set_next_block_timestamp(closed_at + SETTLE_TIMEOUT + 1)
        .await;
    // The first send is mined at exactly closed_at + timeout + 1 (checked below).
    let receipt = net
        .update(B, A, B, id, &signed)
        .gas(1_000_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!receipt.status());
    assert_eq!(
        net.timestamp_of(&receipt).await,
        closed_at + SETTLE_TIMEOUT + 1
    );
    reverts(
        net.update(B, A, B, id, &signed),
        "TN/update: settle timeout is over",
    )
    .await;
}

#[tokio::test]
async fn update_rejects_a_proof_of_the_participant_who_did_not_close() {
    let net = Net::start().await;
    let (id, _, _) = closed_for_update(&net, 30, 4).await;
    // B's own proof counter-signed by A, as if B had closed.
    let signed = net.signed(B, net.proof(id, &Balance::transferred(u(20)), 8));
    reverts(
        net.update(A, B, A, id, &signed),
        "TN/update: closing_participant did not close",
    )
    .await;
}

#[tokio::test]
async fn update_rejects_a_nonce_that_does_not_increase() {
    let net = Net::start().await;
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    ok(net.update(B, A, B, id, &signed)).await;
    reverts(
        net.update(B, A, B, id, &signed),
        "TN/update: nonce must increase",
    )
    .await;
    let older = net.signed(A, net.proof(id, &Balance::transferred(u(20)), 3));
    reverts(
        net.update(B, A, B, id, &older),
        "TN/update: nonce must increase",
    )
    .await;
    let newer = net.signed(A, net.proof(id, &Balance::transferred(u(20)), 5));
    ok(net.update(B, A, B, id, &newer)).await;
}

#[tokio::test]
async fn update_rejects_a_zero_nonce() {
    let net = Net::start().await;
    let (id, _, _) = closed_for_update(&net, 30, 4).await;
    let zero = net.signed(A, net.proof(id, &Balance::transferred(u(20)), 0));
    reverts(net.update(B, A, B, id, &zero), "TN/update: nonce is zero").await;
}

#[tokio::test]
async fn update_rejects_a_nonce_beyond_64_bits() {
    let net = Net::start().await;
    let (id, _, _) = closed_for_update(&net, 30, 4).await;
    let huge = net.signed(
        A,
        BalanceProof {
            nonce: U256::from(1u64) << 64,
            ..net.proof(id, &Balance::transferred(u(20)), 1)
        },
    );
    reverts(net.update(B, A, B, id, &huge), "TN/update: nonce too large").await;
}

#[tokio::test]
async fn update_rejects_a_zero_balance_hash() {
    let net = Net::start().await;
    let (id, _, _) = closed_for_update(&net, 30, 4).await;
    let zero = net.signed(A, net.proof(id, &Balance::default(), 5));
    assert_eq!(zero.proof.balance_hash, B256::ZERO);
    reverts(
        net.update(B, A, B, id, &zero),
        "TN/update: balance hash is zero",
    )
    .await;
}

#[tokio::test]
async fn update_rejects_a_channel_that_is_not_closed() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    let signed = net.signed(A, net.proof(id, &Balance::transferred(u(3)), 1));
    reverts(
        net.update(B, A, B, id, &signed),
        "TN/update: channel is not closed",
    )
    .await;
}

#[tokio::test]
async fn update_rejects_an_unknown_channel() {
    let net = Net::start().await;
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    let other = BalanceProof {
        channel_id: ChannelId(id.to::<u64>() + 1),
        ..signed.proof
    };
    let other = net.signed(A, other);
    reverts(
        net.update(B, A, B, id + u(1), &other),
        "TN/update: no such channel for participants",
    )
    .await;
    // The right identifier, the wrong pair.
    reverts(
        net.update(C, A, C, id, &signed),
        "TN/update: no such channel for participants",
    )
    .await;
}

#[tokio::test]
async fn update_rejects_a_closer_proof_not_signed_by_the_closer() {
    let net = Net::start().await;
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    for signer in [B, C] {
        let forged = net.signed(signer, signed.proof);
        reverts(
            net.update(B, A, B, id, &forged),
            "TN/update: invalid closing signature",
        )
        .await;
    }
    ok(net.update(B, A, B, id, &signed)).await;
}

#[tokio::test]
async fn update_rejects_a_counter_signature_not_by_the_non_closer_or_not_of_type_2() {
    let net = Net::start().await;
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    for signer in [A, C] {
        let counter = signed
            .proof
            .update_signature(&net.keys[signer], &signed.signature)
            .unwrap();
        reverts(
            net.update_call(B, A, B, id, &signed, counter),
            "TN/update: invalid non-closing signature",
        )
        .await;
    }
    // A type-1 counter-signature (a close's) instead of type 2.
    let type1 = signed
        .proof
        .closing_signature(&net.keys[B], &signed.signature)
        .unwrap();
    reverts(
        net.update_call(B, A, B, id, &signed, type1),
        "TN/update: invalid non-closing signature",
    )
    .await;
    ok(net.update(B, A, B, id, &signed)).await;
}

#[tokio::test]
async fn update_rejects_a_signature_with_v_other_than_27_or_28() {
    let net = Net::start().await;
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    let counter = signed
        .proof
        .update_signature(&net.keys[B], &signed.signature)
        .unwrap();
    for v in [0u8, 1, 29] {
        reverts(
            net.update_call(B, A, B, id, &signed, with_v(&counter, v)),
            "TN: signature v must be 27 or 28",
        )
        .await;
        let bad = Signed {
            signature: with_v(&signed.signature, v),
            proof: signed.proof,
        };
        reverts(
            net.update(B, A, B, id, &bad),
            "TN: signature v must be 27 or 28",
        )
        .await;
    }
    ok(net.update_call(B, A, B, id, &signed, counter)).await;
}

#[tokio::test]
async fn update_rejects_a_high_s_signature() {
    let net = Net::start().await;
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    let counter = signed
        .proof
        .update_signature(&net.keys[B], &signed.signature)
        .unwrap();
    reverts(
        net.update_call(B, A, B, id, &signed, high_s(&counter)),
        "TN: signature s is malleable",
    )
    .await;
    let malleated = Signed {
        signature: high_s(&signed.signature),
        proof: signed.proof,
    };
    reverts(
        net.update(B, A, B, id, &malleated),
        "TN: signature s is malleable",
    )
    .await;
    ok(net.update_call(B, A, B, id, &signed, counter)).await;
}

// ------------------------------------------------------------------------ settle

#[tokio::test]
async fn settle_pays_the_deposits_back_after_an_empty_close() {
    let net = Net::start().await;
    let (id, close) = net.closed_channel(A, B, 100, 50, 0).await;
    let closed_at = net.timestamp_of(&close).await;
    let network_before = net.balance_of(net.token, net.network).await;
    assert_eq!(network_before, u(150));
    net.set_next_block_timestamp(closed_at + SETTLE_TIMEOUT + 1)
        .await;
    // Anyone may settle; the locksroot of a side without a balance proof is not checked
    // (as in Raiden) and comes back in the event.
    let root = B256::repeat_byte(9);
    let receipt = ok(net.settle_call(
        C,
        id,
        B,
        &Balance::default(),
        A,
        &Balance {
            locksroot: root,
            ..Balance::default()
        },
    ))
    .await;
    assert_eq!(
        net.timestamp_of(&receipt).await,
        closed_at + SETTLE_TIMEOUT + 1
    );
    let settled: ChannelSettled = event(&receipt, net.network);
    assert_eq!(settled.channel_identifier, id);
    assert_eq!(settled.participant1, net.addr(B));
    assert_eq!(settled.participant1_amount, u(50));
    assert_eq!(settled.participant1_locksroot, B256::ZERO);
    assert_eq!(settled.participant2, net.addr(A));
    assert_eq!(settled.participant2_amount, u(100));
    assert_eq!(settled.participant2_locksroot, root);
    assert_eq!(net.balance_of(net.token, net.addr(A)).await, u(100));
    assert_eq!(net.balance_of(net.token, net.addr(B)).await, u(50));
    assert_eq!(net.balance_of(net.token, net.network).await, u(0));
    // The channel is gone.
    assert_eq!(net.channel_id(A, B).await, u(0));
    let a = net.info(id, A, B).await;
    assert_eq!((a._0, a._2, a._6), (u(0), false, u(0)));
    assert_eq!(net.channel_state(id, A, B).await, (u(0), 4));
    reverts(
        net.settle_call(C, id, B, &Balance::default(), A, &Balance::default()),
        "TN/settle: no such channel for participants",
    )
    .await;
}

#[tokio::test]
async fn settle_rejects_before_the_timeout_is_over() {
    let net = Net::start().await;
    let (id, close) = net.closed_channel(A, B, 10, 0, 0).await;
    let closed_at = net.timestamp_of(&close).await;
    let settle = || net.settle_call(C, id, A, &Balance::default(), B, &Balance::default());
    reverts(settle(), "TN/settle: settle timeout not over").await;
    // At exactly closed_at + settle_timeout: still too early.
    net.set_next_block_timestamp(closed_at + SETTLE_TIMEOUT)
        .await;
    let receipt = settle()
        .gas(1_000_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(net.timestamp_of(&receipt).await, closed_at + SETTLE_TIMEOUT);
    assert!(!receipt.status(), "settled at closed_at + settle_timeout");
    // One second later it works.
    net.set_next_block_timestamp(closed_at + SETTLE_TIMEOUT + 1)
        .await;
    ok(settle()).await;
}

#[tokio::test]
async fn settle_rejects_an_open_channel() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    reverts(
        net.settle_call(A, id, A, &Balance::default(), B, &Balance::default()),
        "TN/settle: channel is not closed",
    )
    .await;
}

#[tokio::test]
async fn settle_rejects_balance_data_that_does_not_match_the_stored_hash() {
    let net = Net::start().await;
    // A closed with B's proof of 10 (stored for B); B updates with A's proof of 30.
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    ok(net.update(B, A, B, id, &signed)).await;
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    let a = Balance::transferred(u(30));
    let b = Balance::transferred(u(10));
    let root = B256::repeat_byte(5);
    // B has the smaller sum: participant1 = B.
    for (wrong_b, reason) in [
        (
            Balance::transferred(u(11)),
            "TN/settle: invalid balance data of participant1",
        ),
        (
            Balance::default(),
            "TN/settle: invalid balance data of participant1",
        ),
        (
            Balance {
                locksroot: root,
                ..b
            },
            "TN/settle: invalid balance data of participant1",
        ),
        (
            Balance { locked: u(1), ..b },
            "TN/settle: invalid balance data of participant1",
        ),
    ] {
        reverts(net.settle_call(C, id, B, &wrong_b, A, &a), reason).await;
    }
    for wrong_a in [
        Balance::transferred(u(31)),
        Balance {
            locksroot: root,
            ..a
        },
        Balance { locked: u(1), ..a },
    ] {
        reverts(
            net.settle_call(C, id, B, &b, A, &wrong_a),
            "TN/settle: invalid balance data of participant2",
        )
        .await;
    }
    ok(net.settle_call(C, id, B, &b, A, &a)).await;

    // Without a stored proof, only zero amounts match.
    let (id, _) = net.closed_channel(A, B, 10, 10, 0).await;
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    reverts(
        net.settle_call(
            C,
            id,
            A,
            &Balance::default(),
            B,
            &Balance::transferred(u(1)),
        ),
        "TN/settle: invalid balance data of participant2",
    )
    .await;
    reverts(
        net.settle_call(
            C,
            id,
            A,
            &Balance {
                locked: u(1),
                ..Balance::default()
            },
            B,
            &Balance::transferred(u(1)),
        ),
        "TN/settle: invalid balance data of participant1",
    )
    .await;
}

#[tokio::test]
async fn settle_rejects_participants_in_the_wrong_order() {
    let net = Net::start().await;
    let (id, _, signed) = closed_for_update(&net, 30, 4).await;
    ok(net.update(B, A, B, id, &signed)).await;
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    // T1 + L1 = 30 (A) > T2 + L2 = 10 (B).
    reverts(
        net.settle_call(
            C,
            id,
            A,
            &Balance::transferred(u(30)),
            B,
            &Balance::transferred(u(10)),
        ),
        "TN/settle: participants in wrong order",
    )
    .await;
    ok(net.settle_call(
        C,
        id,
        B,
        &Balance::transferred(u(10)),
        A,
        &Balance::transferred(u(30)),
    ))
    .await;
}

// ------------------------------------------------------------------------ signed messages

/// Every signature the contract checks, made in Rust, accepted; the same signature made
/// over the message with any one field changed, rejected.
#[tokio::test]
async fn signed_messages_made_in_rust_are_accepted_and_any_altered_field_is_rejected() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    let b_balance = Balance {
        transferred: u(10),
        locked: u(2),
        locksroot: B256::repeat_byte(0x42),
    };
    let b_signed = net.signed(B, net.proof(id, &b_balance, 3));
    let b_signature: [u8; 65] = b_signed.signature.as_ref().try_into().unwrap();

    // 1. B's 212-byte balance proof given at close.
    let message = b_signed.proof.message();
    assert_eq!(message.len(), 212);
    for (field, at) in &FIELDS[..7] {
        let forged = sign_raw(&net.keys[B], &altered(&message, *at));
        let closing = b_signed
            .proof
            .closing_signature(&net.keys[A], &forged)
            .unwrap();
        let call = net.close_call(A, A, B, id, &b_signed.proof, forged, closing);
        let error = revert_reason(&call).await;
        assert_eq!(
            error, "TN/close: invalid non-closing signature",
            "B's proof with {field} altered"
        );
    }
    // 2. A's 277-byte type-1 counter-signature.
    let message = b_signed
        .proof
        .counter_signature_message(MESSAGE_TYPE_BALANCE_PROOF, &b_signature);
    assert_eq!(message.len(), 277);
    for (field, at) in &FIELDS {
        let forged = sign_raw(&net.keys[A], &altered(&message, *at));
        let call = net.close_call(
            A,
            A,
            B,
            id,
            &b_signed.proof,
            b_signed.signature.clone(),
            forged,
        );
        let error = revert_reason(&call).await;
        assert_eq!(
            error, "TN/close: invalid closing signature",
            "A's counter-signature with {field} altered"
        );
    }
    // The genuine ones: signed with the Rust helpers, accepted.
    let closing = sign_raw(&net.keys[A], &message);
    assert_eq!(
        closing,
        b_signed
            .proof
            .closing_signature(&net.keys[A], &b_signature)
            .unwrap()
    );
    let receipt = ok(net.close_call(
        A,
        A,
        B,
        id,
        &b_signed.proof,
        b_signed.signature.clone(),
        closing,
    ))
    .await;
    assert_eq!(
        event::<ChannelClosed>(&receipt, net.network).balance_hash,
        b_balance.hash()
    );

    // 3. A's 212-byte balance proof given at update, 4. B's type-2 counter-signature.
    let a_balance = Balance::transferred(u(25));
    let a_signed = net.signed(A, net.proof(id, &a_balance, 6));
    let a_signature: [u8; 65] = a_signed.signature.as_ref().try_into().unwrap();
    let message = a_signed.proof.message();
    for (field, at) in &FIELDS[..7] {
        let forged = Signed {
            signature: sign_raw(&net.keys[A], &altered(&message, *at)),
            proof: a_signed.proof,
        };
        let error = revert_reason(&net.update(C, A, B, id, &forged)).await;
        assert_eq!(
            error, "TN/update: invalid closing signature",
            "A's proof with {field} altered"
        );
    }
    let message = a_signed
        .proof
        .counter_signature_message(MESSAGE_TYPE_BALANCE_PROOF_UPDATE, &a_signature);
    assert_eq!(message.len(), 277);
    assert_eq!(message[83], 2);
    for (field, at) in &FIELDS {
        let forged = sign_raw(&net.keys[B], &altered(&message, *at));
        let error = revert_reason(&net.update_call(C, A, B, id, &a_signed, forged)).await;
        assert_eq!(
            error, "TN/update: invalid non-closing signature",
            "B's counter-signature with {field} altered"
        );
    }
    let counter = sign_raw(&net.keys[B], &message);
    assert_eq!(
        counter,
        a_signed
            .proof
            .update_signature(&net.keys[B], &a_signature)
            .unwrap()
    );
    let receipt = ok(net.update_call(C, A, B, id, &a_signed, counter)).await;
    assert_eq!(
        event::<NonClosingBalanceProofUpdated>(&receipt, net.network).balance_hash,
        a_balance.hash()
    );

    // The balance hashes made in Rust are the ones settle recomputes on chain.
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    ok(net.settle_call(C, id, B, &b_balance, A, &a_balance)).await;
}

/// The empty close of §5.3: the closer's 277-byte type-1 message over zero fields and a
/// zero partner signature; altering any field of it is rejected.
#[tokio::test]
async fn empty_close_message_made_in_rust_is_accepted_and_any_altered_field_is_rejected() {
    let net = Net::start().await;
    let id = net.open(A, B).await;
    let proof = net.empty_proof(id);
    let zero = Bytes::from(vec![0u8; 65]);
    let message = proof.counter_signature_message(MESSAGE_TYPE_BALANCE_PROOF, &[0u8; 65]);
    for (field, at) in &FIELDS {
        let forged = sign_raw(&net.keys[A], &altered(&message, *at));
        let error = revert_reason(&net.close_call(A, A, B, id, &proof, zero.clone(), forged)).await;
        assert_eq!(
            error, "TN/close: invalid closing signature",
            "the empty close with {field} altered"
        );
    }
    let signature =
        closing_signature(&net.keys[A], net.network, net.chain_id, ChannelId(id.to())).unwrap();
    assert_eq!(signature, sign_raw(&net.keys[A], &message));
    ok(net.close_call(A, A, B, id, &proof, zero, signature)).await;
}

// ------------------------------------------------------------------------ settlement

/// One row of the settlement table: deposits and balance data of A and B.
struct Case {
    name: &'static str,
    da: U256,
    db: U256,
    a: Balance,
    b: Balance,
}

fn locked(transferred: U256, locked: U256, tag: u8) -> Balance {
    Balance {
        transferred,
        locked,
        locksroot: B256::repeat_byte(tag),
    }
}

fn t(amount: U256) -> Balance {
    Balance::transferred(amount)
}

fn cases() -> Vec<Case> {
    let z = Balance::default();
    let big = U256::from(10u64).pow(u(30));
    let case = |name, da: u64, db: u64, a, b| Case {
        name,
        da: u(da),
        db: u(db),
        a,
        b,
    };
    vec![
        case("zero transfers", 100, 50, z, z),
        case("A pays B part of its deposit", 100, 50, t(u(30)), z),
        case("both pay, A more", 100, 50, t(u(30)), t(u(10))),
        case("both pay, B more", 100, 50, t(u(10)), t(u(60))),
        case("equal transfers", 100, 50, t(u(40)), t(u(40))),
        case("all to B", 100, 50, t(u(100)), z),
        case("all to A", 100, 50, z, t(u(50))),
        case(
            "all to A, B paid more than its deposit back and forth",
            100,
            50,
            t(u(25)),
            t(u(75)),
        ),
        case(
            "A's net payment above its deposit: saturates at TAD",
            100,
            50,
            t(u(200)),
            t(u(10)),
        ),
        case(
            "B's net payment above its deposit: saturates at TAD",
            100,
            50,
            t(u(5)),
            t(u(500)),
        ),
        case(
            "transfers above both deposits, small difference",
            100,
            50,
            t(big + u(20)),
            t(big),
        ),
        case(
            "transfer of 2^256 - 1: saturation",
            100,
            50,
            t(U256::MAX),
            t(u(3)),
        ),
        case("only A deposited, B receives", 100, 0, t(u(30)), z),
        case(
            "only B deposited, A pays more than it has",
            0,
            50,
            t(u(30)),
            t(u(10)),
        ),
        case("no deposits at all", 0, 0, t(u(5)), z),
        case(
            "equal sums from transferred and locked",
            100,
            50,
            t(u(30)),
            locked(u(20), u(10), 1),
        ),
        case(
            "locks on both sides",
            100,
            50,
            locked(u(20), u(30), 2),
            locked(u(5), u(10), 3),
        ),
        case(
            "locks above what is available",
            10,
            0,
            locked(U256::ZERO, u(50), 4),
            z,
        ),
        case(
            "locked only, nothing transferred",
            100,
            50,
            locked(U256::ZERO, u(40), 5),
            locked(U256::ZERO, u(15), 6),
        ),
        case(
            "both sums saturated",
            100,
            50,
            locked(U256::MAX, u(5), 7),
            locked(U256::MAX - u(1), u(10), 8),
        ),
    ]
}

/// Each case through open, deposits, close with B's proof (by A; or by B with A's proof
/// for odd rows), the update with the closer's proof, and settle: the payouts, the locked
/// amounts kept for unlock and the event against [`settlement`] computed here.
#[tokio::test]
async fn settlement_arithmetic_on_a_table_of_cases() {
    let net = Net::start().await;
    net.fund(A, u(1_000_000)).await;
    net.fund(B, u(1_000_000)).await;
    for (row, case) in cases().into_iter().enumerate() {
        let name = case.name;
        let id = net.open(A, B).await;
        if !case.da.is_zero() {
            net.deposit(id, A, B, case.da).await;
        }
        if !case.db.is_zero() {
            net.deposit(id, B, A, case.db).await;
        }
        // Closer and non-closer, and their balance data.
        let (closer, partner, closer_balance, partner_balance) = if row % 2 == 0 {
            (A, B, case.a, case.b)
        } else {
            (B, A, case.b, case.a)
        };
        let partner_proof = (!partner_balance.is_zero())
            .then(|| net.signed(partner, net.proof(id, &partner_balance, 1)));
        let receipt = net.close(closer, partner, id, partner_proof.as_ref()).await;
        let closed: ChannelClosed = event(&receipt, net.network);
        assert_eq!(closed.balance_hash, partner_balance.hash(), "{name}");
        if !closer_balance.is_zero() {
            let signed = net.signed(closer, net.proof(id, &closer_balance, 1));
            ok(net.update(partner, closer, partner, id, &signed)).await;
        }
        net.increase_time(SETTLE_TIMEOUT + 1).await;

        // participant1 has the smaller T + L.
        let (p1, b1, d1, p2, b2, d2) = if case.a.sum() <= case.b.sum() {
            (A, case.a, case.da, B, case.b, case.db)
        } else {
            (B, case.b, case.db, A, case.a, case.da)
        };
        if b1.sum() != b2.sum() {
            reverts(
                net.settle_call(C, id, p2, &b2, p1, &b1),
                "TN/settle: participants in wrong order",
            )
            .await;
        }
        let [s1, s2, sl1, sl2] =
            settlement(d1, d2, b1.transferred, b1.locked, b2.transferred, b2.locked);
        let before = [
            net.balance_of(net.token, net.addr(p1)).await,
            net.balance_of(net.token, net.addr(p2)).await,
            net.balance_of(net.token, net.network).await,
        ];
        let receipt = ok(net.settle_call(C, id, p1, &b1, p2, &b2)).await;
        let settled: ChannelSettled = event(&receipt, net.network);
        assert_eq!(settled.channel_identifier, id, "{name}");
        assert_eq!(
            (
                settled.participant1,
                settled.participant1_amount,
                settled.participant1_locksroot
            ),
            (net.addr(p1), s1, b1.locksroot),
            "{name}: participant1"
        );
        assert_eq!(
            (
                settled.participant2,
                settled.participant2_amount,
                settled.participant2_locksroot
            ),
            (net.addr(p2), s2, b2.locksroot),
            "{name}: participant2"
        );
        assert_eq!(s1 + s2 + sl1 + sl2, d1 + d2, "{name}: nothing lost");
        let after = [
            net.balance_of(net.token, net.addr(p1)).await,
            net.balance_of(net.token, net.addr(p2)).await,
            net.balance_of(net.token, net.network).await,
        ];
        assert_eq!(after[0] - before[0], s1, "{name}: paid to participant1");
        assert_eq!(after[1] - before[1], s2, "{name}: paid to participant2");
        assert_eq!(before[2] - after[2], s1 + s2, "{name}: left the network");
        // The locked parts stay for unlock, recorded per sender.
        let kept1 = net.info(id, p1, p2).await;
        assert_eq!(kept1._6, sl1, "{name}: SL1");
        assert_eq!(
            kept1._5,
            if sl1.is_zero() {
                B256::ZERO
            } else {
                b1.locksroot
            },
            "{name}"
        );
        let kept2 = net.info(id, p2, p1).await;
        assert_eq!(kept2._6, sl2, "{name}: SL2");
        assert_eq!(
            kept2._5,
            if sl2.is_zero() {
                B256::ZERO
            } else {
                b2.locksroot
            },
            "{name}"
        );
        let state = if sl1.is_zero() && sl2.is_zero() { 4 } else { 3 };
        assert_eq!(net.channel_state(id, A, B).await.1, state, "{name}");
        assert_eq!(net.channel_id(A, B).await, u(0), "{name}");
    }
    assert_eq!(
        net.view(net.network, ITokenNetwork::channel_counterCall {})
            .await,
        U256::from(cases().len())
    );
}

#[test]
fn the_settlement_formula_here_on_hand_computed_cases() {
    let s = |d1: u64, d2: u64, t1: u64, l1: u64, t2: u64, l2: u64| {
        settlement(u(d1), u(d2), u(t1), u(l1), u(t2), u(l2)).map(|v| v.to::<u64>())
    };
    assert_eq!(s(100, 50, 0, 0, 0, 0), [100, 50, 0, 0]);
    assert_eq!(s(50, 100, 0, 0, 30, 0), [80, 70, 0, 0]);
    assert_eq!(s(50, 100, 10, 0, 200, 0), [150, 0, 0, 0]);
    // R1 = min(150, 35 + 50) = 85, R2 = 65; SL2 = min(85, 30), SL1 = min(65, 10).
    assert_eq!(s(50, 100, 5, 10, 20, 30), [55, 55, 10, 30]);
    assert_eq!(s(0, 10, 0, 0, 0, 50), [0, 0, 0, 10]);
    assert_eq!(s(0, 0, 0, 0, 5, 0), [0, 0, 0, 0]);
    let max = settlement(u(100), u(50), u(3), U256::ZERO, U256::MAX, U256::ZERO);
    assert_eq!(max, [u(150), u(0), u(0), u(0)]);
}

// ------------------------------------------------------------------------ unlock (addition)

/// The locks kept at settlement go to the receiver when their secret was registered
/// before expiration, back to the sender otherwise (addition: `unlock`, SecretRegistry).
#[tokio::test]
async fn unlock_pays_out_the_locked_part_kept_at_settlement() {
    let net = Net::start().await;
    let registry = net.deployment.secret_registry;
    let secret = B256::repeat_byte(0x5e);
    // sha256(secret), by the EVM's sha256 precompile.
    let sha = net.providers[0]
        .call(
            TransactionRequest::default()
                .with_to(Address::with_last_byte(2))
                .with_input(secret.to_vec()),
        )
        .await
        .unwrap();
    let sha = B256::from_slice(&sha);
    let receipt = ok(net.tx(C, registry, IExtras::registerSecretCall { secret })).await;
    let revealed = receipt.block_number.unwrap();
    assert_eq!(
        net.view(
            registry,
            IExtras::getSecretRevealBlockHeightCall { secrethash: sha }
        )
        .await,
        U256::from(revealed)
    );
    // B's pending locks towards A: 10 with the registered secret, 20 with an unknown one.
    let mut locks = Vec::new();
    for (amount, hash) in [(10u64, sha), (20, B256::repeat_byte(1))] {
        locks.extend_from_slice(&U256::from(revealed + 1000).to_be_bytes::<32>());
        locks.extend_from_slice(&u(amount).to_be_bytes::<32>());
        locks.extend_from_slice(hash.as_slice());
    }
    let b = locked(u(5), u(30), 0);
    let b = Balance {
        locksroot: keccak256(&locks),
        ..b
    };
    let id = net.open(A, B).await;
    net.fund(A, u(100)).await;
    net.fund(B, u(100)).await;
    net.deposit(id, A, B, u(100)).await;
    net.deposit(id, B, A, u(50)).await;
    let signed = net.signed(B, net.proof(id, &b, 1));
    net.close(A, B, id, Some(&signed)).await;
    net.increase_time(SETTLE_TIMEOUT + 1).await;
    ok(net.settle_call(C, id, A, &Balance::default(), B, &b)).await;
    // A: R1 = min(150, 35 + 100) = 135, SL2 = 30 kept, S1 = 105; B: 15.
    assert_eq!(net.balance_of(net.token, net.addr(A)).await, u(105));
    assert_eq!(net.balance_of(net.token, net.addr(B)).await, u(50 + 15));
    assert_eq!(net.info(id, B, A).await._6, u(30));
    assert_eq!(net.channel_state(id, A, B).await.1, 3);
    let receipt = ok(net.tx(
        C,
        net.network,
        IExtras::unlockCall {
            channel_identifier: id,
            receiver: net.addr(A),
            sender: net.addr(B),
            locks: locks.clone().into(),
        },
    ))
    .await;
    let unlocked: IExtras::ChannelUnlocked = event(&receipt, net.network);
    assert_eq!(
        (unlocked.receiver, unlocked.sender, unlocked.locksroot),
        (net.addr(A), net.addr(B), b.locksroot)
    );
    assert_eq!(
        (unlocked.unlocked_amount, unlocked.returned_tokens),
        (u(10), u(20))
    );
    assert_eq!(net.balance_of(net.token, net.addr(A)).await, u(115));
    assert_eq!(net.balance_of(net.token, net.addr(B)).await, u(85));
    assert_eq!(net.balance_of(net.token, net.network).await, u(0));
    assert_eq!(net.channel_state(id, A, B).await.1, 4);
}
