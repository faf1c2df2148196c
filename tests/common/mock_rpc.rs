//! A scripted Ethereum JSON-RPC endpoint on `wiremock`, for driving the real `EthChain`
//! through faults a real node does not produce on demand: receipts that never come,
//! transactions refused for lack of ETH, reverts, HTTP 5xx and malformed answers.
//!
//! [`MockRpc`] implements [`wiremock::Respond`]: it parses each JSON-RPC 2.0 request,
//! dispatches on `method` and answers with a valid response echoing the request's `id`.
//! Behind it sits a tiny chain: a registry that created one token network (reported by
//! `eth_getLogs` as `TokenNetworkCreated`), a token whose `balanceOf` is fixed, and a
//! block per accepted transaction, whose `ChannelOpened` / `ChannelNewDeposit` logs it
//! reports like a node would.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{hex, keccak256, Address, Bytes, LogData, B256, U256};
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use serde_json::{json, Value};
use tokennet::chain::ethereum::contracts::{ITokenNetwork, ITokenNetworkRegistry, IERC20};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The chain id the mock reports.
pub const CHAIN_ID: u64 = 1337;
/// The block the registry was deployed in (and created the token network in).
pub const START_BLOCK: u64 = 1;
/// The head when the mock starts.
pub const INITIAL_HEAD: u64 = 10;
/// Settle timeout of the token network, seconds.
pub const SETTLE_TIMEOUT: u64 = 500;
/// What `eth_gasPrice` answers: 1 gwei.
pub const GAS_PRICE: u64 = 1_000_000_000;

/// How a read is made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An HTTP error status (such as 503) with a plain-text body.
    Http(u16),
    /// HTTP 200 with a body that is not JSON.
    NotJson,
    /// HTTP 200 with a JSON-RPC response that has neither `result` nor `error`.
    MissingResult,
    /// HTTP 200 with a JSON-RPC error (code -32603, an internal error of the node).
    RpcError,
}

/// A raw transaction the mock accepted.
#[derive(Clone, Debug)]
pub struct SentTx {
    /// Its hash (keccak256 of the raw bytes).
    pub hash: B256,
    /// The contract it calls.
    pub to: Address,
    /// Its calldata.
    pub input: Bytes,
    /// The block it was mined in; `None` while it is not mined.
    pub block: Option<u64>,
    /// Whether it reverted.
    pub reverted: bool,
}

#[derive(Clone, Debug)]
struct MockLog {
    block: u64,
    address: Address,
    data: LogData,
    tx_hash: B256,
}

#[derive(Debug)]
struct State {
    us: Address,
    registry: Address,
    token: Address,
    token_network: Address,
    token_balance: U256,
    eth_balance: U256,
    head: u64,
    next_channel: u64,
    logs: Vec<MockLog>,
    sent: Vec<SentTx>,
    /// Faults queued per label (a method, or the function an `eth_call` calls).
    faults: HashMap<String, VecDeque<Fault>>,
    /// Calls seen per label, faulted ones included.
    calls: HashMap<String, usize>,
    /// `eth_sendRawTransaction` answers this JSON-RPC error when set.
    send_error: Option<String>,
    /// Accepted transactions are never mined: their receipt stays `null`.
    never_mine: bool,
    /// Every transaction is mined with status 0; replaying it answers this reason.
    revert_reason: Option<String>,
}

/// The mock endpoint: a wiremock server answering with [`MockRpc`]. Dropping it stops it.
pub struct MockChain {
    server: MockServer,
    rpc: MockRpc,
}

/// The [`Respond`] implementation; clones share the same state.
#[derive(Clone, Debug)]
pub struct MockRpc {
    state: Arc<Mutex<State>>,
}

/// Addresses of the mock's contracts.
#[derive(Clone, Copy, Debug)]
pub struct Contracts {
    /// The TokenNetworkRegistry.
    pub registry: Address,
    /// The token.
    pub token: Address,
    /// Its token network.
    pub token_network: Address,
}

impl MockChain {
    /// Starts a server for a node acting as `us`, who holds `token_balance` tokens and
    /// 10 ETH.
    pub async fn start(us: Address, token_balance: U256) -> Self {
        let contracts = Contracts {
            registry: Address::repeat_byte(0xc1),
            token: Address::repeat_byte(0x70),
            token_network: Address::repeat_byte(0x4e),
        };
        let created = ITokenNetworkRegistry::TokenNetworkCreated {
            token_address: contracts.token,
            token_network_address: contracts.token_network,
            settle_timeout: U256::from(SETTLE_TIMEOUT),
        };
        let state = State {
            us,
            registry: contracts.registry,
            token: contracts.token,
            token_network: contracts.token_network,
            token_balance,
            eth_balance: U256::from(10u64) * U256::from(10u64).pow(U256::from(18)),
            head: INITIAL_HEAD,
            next_channel: 1,
            logs: vec![MockLog {
                block: START_BLOCK,
                address: contracts.registry,
                data: created.encode_log_data(),
                tx_hash: B256::repeat_byte(0x01),
            }],
            sent: Vec::new(),
            faults: HashMap::new(),
            calls: HashMap::new(),
            send_error: None,
            never_mine: false,
            revert_reason: None,
        };
        let rpc = MockRpc {
            state: Arc::new(Mutex::new(state)),
        };
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(rpc.clone())
            .mount(&server)
            .await;
        Self { server, rpc }
    }

    /// The endpoint's URL.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Addresses of the registry, the token and its network.
    pub fn contracts(&self) -> Contracts {
        let state = self.rpc.lock();
        Contracts {
            registry: state.registry,
            token: state.token,
            token_network: state.token_network,
        }
    }

    /// The next calls labelled `label` fail with `faults`, one each, in order. A label is
    /// a method name (`eth_gasPrice`) or, for `eth_call`, the function's name
    /// (`balanceOf`, `token_to_token_networks`, `settle_timeout`).
    pub fn fail_next(&self, label: &str, faults: impl IntoIterator<Item = Fault>) {
        self.rpc
            .lock()
            .faults
            .entry(label.to_owned())
            .or_default()
            .extend(faults);
    }

    /// How many calls labelled `label` the endpoint has seen, faulted ones included.
    pub fn calls(&self, label: &str) -> usize {
        self.rpc.lock().calls.get(label).copied().unwrap_or(0)
    }

    /// `eth_sendRawTransaction` answers the JSON-RPC error `message` (or accepts again).
    pub fn refuse_transactions(&self, message: Option<&str>) {
        self.rpc.lock().send_error = message.map(str::to_owned);
    }

    /// Accepted transactions are never mined (`eth_getTransactionReceipt` stays `null`).
    pub fn never_mine(&self) {
        self.rpc.lock().never_mine = true;
    }

    /// Every transaction is mined and reverts; replaying one answers `reason`.
    pub fn revert_everything(&self, reason: &str) {
        self.rpc.lock().revert_reason = Some(reason.to_owned());
    }

    /// A channel between two other participants, opened in the block after the head.
    pub fn open_channel_between(&self, participant1: Address, participant2: Address) {
        let mut state = self.rpc.lock();
        state.head += 1;
        let (block, network) = (state.head, state.token_network);
        let channel = state.next_channel;
        state.next_channel += 1;
        let opened = ITokenNetwork::ChannelOpened {
            channel_identifier: U256::from(channel),
            participant1,
            participant2,
        };
        state.logs.push(MockLog {
            block,
            address: network,
            data: opened.encode_log_data(),
            tx_hash: keccak256(channel.to_be_bytes()),
        });
    }

    /// The transactions the endpoint accepted, in order.
    pub fn sent(&self) -> Vec<SentTx> {
        self.rpc.lock().sent.clone()
    }
}

impl MockRpc {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn quantity(n: impl Into<u128>) -> Value {
    json!(format!("{:#x}", n.into()))
}

fn word(value: impl SolValue) -> Value {
    json!(hex::encode_prefixed(value.abi_encode()))
}

fn parse_quantity(value: &Value) -> Option<u64> {
    value
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
}

/// The label of a call for faults and counters: the method, or for `eth_call` the name
/// of the function called.
fn label(method: &str, params: &Value) -> String {
    if method != "eth_call" {
        return method.to_owned();
    }
    let selector = call_input(params)
        .and_then(|input| input.get(..4).map(<[u8]>::to_vec))
        .unwrap_or_default();
    let name = if selector == IERC20::balanceOfCall::SELECTOR {
        "balanceOf"
    } else if selector == ITokenNetworkRegistry::token_to_token_networksCall::SELECTOR {
        "token_to_token_networks"
    } else if selector == ITokenNetwork::settle_timeoutCall::SELECTOR {
        "settle_timeout"
    } else if selector == IERC20::allowanceCall::SELECTOR {
        "allowance"
    } else {
        "eth_call"
    };
    name.to_owned()
}

fn call_input(params: &Value) -> Option<Vec<u8>> {
    let call = params.get(0)?;
    let input = call.get("input").or_else(|| call.get("data"))?.as_str()?;
    hex::decode(input).ok()
}

fn call_to(params: &Value) -> Option<Address> {
    params.get(0)?.get("to")?.as_str()?.parse().ok()
}

/// A JSON-RPC error object, as geth and anvil send them.
struct RpcError {
    code: i64,
    message: String,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl State {
    fn block_hash(number: u64) -> B256 {
        keccak256(number.to_be_bytes())
    }

    fn timestamp(number: u64) -> u64 {
        1_700_000_000 + number * 12
    }

    fn block(&self, tag: &Value) -> Value {
        let number = match tag.as_str() {
            Some("latest") | Some("pending") | Some("safe") | Some("finalized") => self.head,
            Some("earliest") => 0,
            _ => match parse_quantity(tag) {
                Some(n) if n <= self.head => n,
                _ => return Value::Null,
            },
        };
        let zero = B256::ZERO;
        json!({
            "hash": State::block_hash(number),
            "parentHash": State::block_hash(number.saturating_sub(1)),
            "sha3Uncles": zero,
            "miner": Address::ZERO,
            "stateRoot": zero,
            "transactionsRoot": zero,
            "receiptsRoot": zero,
            "logsBloom": format!("0x{}", "00".repeat(256)),
            "difficulty": "0x0",
            "number": quantity(number),
            "gasLimit": quantity(30_000_000u64),
            "gasUsed": "0x0",
            "timestamp": quantity(State::timestamp(number)),
            "extraData": "0x",
            "mixHash": zero,
            "nonce": "0x0000000000000000",
            "baseFeePerGas": quantity(GAS_PRICE),
            "size": "0x200",
            "uncles": [],
            "transactions": [],
        })
    }

    fn log_json(log: &MockLog, index: usize) -> Value {
        json!({
            "address": log.address,
            "topics": log.data.topics(),
            "data": log.data.data,
            "blockNumber": quantity(log.block),
            "blockHash": State::block_hash(log.block),
            "transactionHash": log.tx_hash,
            "transactionIndex": "0x0",
            "logIndex": quantity(index as u64),
            "removed": false,
        })
    }

    fn get_logs(&self, params: &Value) -> Result<Value, RpcError> {
        let filter = params
            .get(0)
            .ok_or_else(|| RpcError::new(-32602, "missing filter"))?;
        let addresses: Vec<Address> = match filter.get("address") {
            Some(Value::String(one)) => one.parse().into_iter().collect(),
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(|a| a.as_str()?.parse().ok())
                .collect(),
            _ => Vec::new(),
        };
        let from = filter
            .get("fromBlock")
            .and_then(parse_quantity)
            .unwrap_or(0);
        let to = filter
            .get("toBlock")
            .and_then(parse_quantity)
            .unwrap_or(self.head);
        let logs: Vec<Value> = self
            .logs
            .iter()
            .enumerate()
            .filter(|(_, log)| {
                (from..=to).contains(&log.block)
                    && (addresses.is_empty() || addresses.contains(&log.address))
            })
            .map(|(index, log)| State::log_json(log, index))
            .collect();
        Ok(Value::Array(logs))
    }

    fn eth_call(&self, label: &str, params: &Value) -> Result<Value, RpcError> {
        let input = call_input(params).unwrap_or_default();
        let args = input.get(4..).unwrap_or_default();
        match label {
            "balanceOf" => {
                let owner = IERC20::balanceOfCall::abi_decode(&input)
                    .map(|call| call.owner)
                    .unwrap_or_default();
                let known = call_to(params) == Some(self.token) && owner == self.us;
                Ok(word(if known {
                    self.token_balance
                } else {
                    U256::ZERO
                }))
            }
            "token_to_token_networks" => {
                let token = <Address as SolValue>::abi_decode(args).unwrap_or_default();
                Ok(word(if token == self.token {
                    self.token_network
                } else {
                    Address::ZERO
                }))
            }
            "settle_timeout" => Ok(word(U256::from(SETTLE_TIMEOUT))),
            // The mock's approves never take effect: no allowance is left over.
            "allowance" => Ok(word(U256::ZERO)),
            // The replay of a transaction, to learn why it reverted.
            _ => match &self.revert_reason {
                Some(reason) => Err(RpcError::new(3, format!("execution reverted: {reason}"))),
                None => Ok(json!("0x")),
            },
        }
    }

    fn send_raw(&mut self, params: &Value) -> Result<Value, RpcError> {
        if let Some(message) = &self.send_error {
            return Err(RpcError::new(-32000, message.clone()));
        }
        let raw = params
            .get(0)
            .and_then(Value::as_str)
            .and_then(|s| hex::decode(s).ok())
            .ok_or_else(|| RpcError::new(-32602, "invalid raw transaction"))?;
        let envelope = TxEnvelope::decode_2718(&mut raw.as_slice())
            .map_err(|e| RpcError::new(-32602, format!("rlp: {e}")))?;
        let hash = keccak256(&raw);
        let to = envelope.to().unwrap_or_default();
        let input = envelope.input().clone();
        let mut sent = SentTx {
            hash,
            to,
            input,
            block: None,
            reverted: false,
        };
        if !self.never_mine {
            self.head += 1;
            sent.block = Some(self.head);
            sent.reverted = self.revert_reason.is_some();
            if !sent.reverted {
                self.emit_logs(&sent);
            }
        }
        self.sent.push(sent);
        Ok(json!(hash))
    }

    /// The logs a successful open or deposit emits.
    fn emit_logs(&mut self, tx: &SentTx) {
        let Some(block) = tx.block else {
            return;
        };
        let mut emitted = Vec::new();
        if let Ok(call) = ITokenNetwork::openChannelCall::abi_decode(&tx.input) {
            emitted.push(self.opened(call.participant1, call.participant2));
        } else if let Ok(call) = ITokenNetwork::openChannelWithDepositCall::abi_decode(&tx.input) {
            let opened = self.opened(call.participant1, call.participant2);
            let deposit = ITokenNetwork::ChannelNewDeposit {
                channel_identifier: U256::from(self.next_channel - 1),
                participant: call.participant1,
                total_deposit: call.participant1_total_deposit,
            };
            emitted.extend([opened, deposit.encode_log_data()]);
        } else if let Ok(call) = ITokenNetwork::setTotalDepositCall::abi_decode(&tx.input) {
            let deposit = ITokenNetwork::ChannelNewDeposit {
                channel_identifier: call.channel_identifier,
                participant: call.participant,
                total_deposit: call.total_deposit,
            };
            emitted.push(deposit.encode_log_data());
        }
        for data in emitted {
            self.logs.push(MockLog {
                block,
                address: tx.to,
                data,
                tx_hash: tx.hash,
            });
        }
    }

    fn opened(&mut self, participant1: Address, participant2: Address) -> LogData {
        let channel = self.next_channel;
        self.next_channel += 1;
        ITokenNetwork::ChannelOpened {
            channel_identifier: U256::from(channel),
            participant1,
            participant2,
        }
        .encode_log_data()
    }

    fn receipt(&self, params: &Value) -> Value {
        let Some(hash) = params
            .get(0)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<B256>().ok())
        else {
            return Value::Null;
        };
        let Some(tx) = self.sent.iter().find(|tx| tx.hash == hash) else {
            return Value::Null;
        };
        let Some(block) = tx.block else {
            return Value::Null; // pending: never mined
        };
        let logs: Vec<Value> = self
            .logs
            .iter()
            .enumerate()
            .filter(|(_, log)| log.tx_hash == hash)
            .map(|(index, log)| State::log_json(log, index))
            .collect();
        json!({
            "type": "0x0",
            "status": if tx.reverted { "0x0" } else { "0x1" },
            "cumulativeGasUsed": quantity(100_000u64),
            "logs": logs,
            "logsBloom": format!("0x{}", "00".repeat(256)),
            "transactionHash": hash,
            "transactionIndex": "0x0",
            "blockHash": State::block_hash(block),
            "blockNumber": quantity(block),
            "gasUsed": quantity(100_000u64),
            "effectiveGasPrice": quantity(GAS_PRICE),
            "from": self.us,
            "to": tx.to,
            "contractAddress": null,
        })
    }

    fn dispatch(&mut self, method: &str, label: &str, params: &Value) -> Result<Value, RpcError> {
        match method {
            "eth_chainId" => Ok(quantity(CHAIN_ID)),
            // Any non-empty code: the node checks that the registry has some, unchanged.
            "eth_getCode" => Ok(json!("0x6080")),
            "eth_blockNumber" => Ok(quantity(self.head)),
            "eth_getBlockByNumber" => Ok(self.block(params.get(0).unwrap_or(&Value::Null))),
            "eth_gasPrice" => Ok(quantity(GAS_PRICE)),
            "eth_getBalance" => {
                let owner: Option<Address> = params.get(0).and_then(|a| a.as_str()?.parse().ok());
                let balance = if owner == Some(self.us) {
                    self.eth_balance
                } else {
                    U256::ZERO
                };
                Ok(json!(format!("{balance:#x}")))
            }
            "eth_call" => self.eth_call(label, params),
            "eth_getLogs" => self.get_logs(params),
            "eth_getTransactionCount" => Ok(quantity(self.sent.len() as u64)),
            "eth_sendRawTransaction" => self.send_raw(params),
            "eth_getTransactionReceipt" => Ok(self.receipt(params)),
            other => Err(RpcError::new(
                -32601,
                format!("the method {other} does not exist/is not available"),
            )),
        }
    }
}

impl Respond for MockRpc {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return ResponseTemplate::new(400).set_body_string("request is not JSON");
        };
        let id = body.get("id").cloned().unwrap_or(Value::Null);
        let method = body
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let params = body.get("params").cloned().unwrap_or(Value::Null);
        let label = label(method, &params);

        let mut state = self.lock();
        *state.calls.entry(label.clone()).or_default() += 1;
        let fault = state.faults.get_mut(&label).and_then(VecDeque::pop_front);
        match fault {
            Some(Fault::Http(status)) => {
                return ResponseTemplate::new(status).set_body_string("upstream unavailable");
            }
            Some(Fault::NotJson) => {
                return ResponseTemplate::new(200)
                    .set_body_raw("<html>502 Bad Gateway</html>", "application/json");
            }
            Some(Fault::MissingResult) => {
                return ResponseTemplate::new(200).set_body_json(json!({
                    "jsonrpc": "2.0",
                    "id": id,
                }));
            }
            Some(Fault::RpcError) => {
                return ResponseTemplate::new(200).set_body_json(json!({
                    "jsonrpc": "2.0",
                    "id": id,
                    "error": { "code": -32603, "message": "internal error: upstream timed out" },
                }));
            }
            None => {}
        }
        let answer = match state.dispatch(method, &label, &params) {
            Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            Err(error) => json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": { "code": error.code, "message": error.message },
            }),
        };
        ResponseTemplate::new(200).set_body_json(answer)
    }
}
