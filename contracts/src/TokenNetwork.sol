// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @dev The one SecretRegistry function a token network needs.
interface ISecretRegistry {
    /// @notice Block at which the secret of `secrethash` was registered (0 = never).
    function getSecretRevealBlockHeight(bytes32 secrethash) external view returns (uint256);
}

/// @title TokenNetwork
/// @notice Payment channels of one ERC20 token, with the external interface of the
/// TokenNetwork of raiden-contracts 0.50 (SPEC.md section 5.2). The storage layout is our
/// own and packed for low gas.
///
/// Storage, keyed by `pair = keccak256(lower address ++ higher address)`:
///  - `_channels[pair]`: one word, non-zero exactly while a channel of the pair is open or
///    closed: bits 0..30 channel identifier, bit 31 "closed", bits 32..143 the total deposit
///    of the lower address, bits 144..255 that of the higher address.
///  - `_closeInfo[pair]`: written at close: bits 0..63 close timestamp, bit 64 "the higher
///    address closed", bits 65/66 "a balance proof of the lower/higher address is stored",
///    bits 128..191 / 192..255 the nonce of the lower/higher address's balance proof.
///  - `_balanceHashes[pair][side]`: only written when a balance proof with nonce > 0 arrives.
/// Settlement deletes all of them (gas refunds), so the pair can open a new channel.
/// Pending locks that survive settlement are kept in `_unlocks` until `unlock`.
contract TokenNetwork {
    /// @notice The ERC20 token of this network.
    address public immutable token;
    /// @notice The SecretRegistry consulted by `unlock`.
    address public immutable secret_registry;
    /// @notice Seconds that must pass after a close before the channel can be settled.
    uint256 public immutable settle_timeout;
    /// @notice Max total deposit of one participant in one channel.
    uint256 public immutable channel_participant_deposit_limit;
    /// @notice Max amount of tokens this contract may hold.
    uint256 public immutable token_network_deposit_limit;

    /// @dev The effective per-participant cap: min(channel_participant_deposit_limit, 2^112 - 1).
    uint256 private immutable _maxDeposit;

    /// @dev The identifier the next channel gets. Starts at 1 (set in the constructor, so that
    /// the first open pays for a non-zero to non-zero write like every later one).
    uint256 private _nextChannelId;

    mapping(bytes32 => uint256) private _channels;
    mapping(bytes32 => uint256) private _closeInfo;
    mapping(bytes32 => bytes32[2]) private _balanceHashes;
    mapping(bytes32 => UnlockData) private _unlocks;

    /// @dev Locks of `sender` towards `receiver` still held after settlement.
    struct UnlockData {
        bytes32 locksroot;
        uint256 locked_amount;
    }

    uint256 private constant ID_MASK = (1 << 31) - 1;
    uint256 private constant CLOSED_BIT = 1 << 31;
    uint256 private constant DEPOSIT_SHIFT = 32; // + 112 * side
    uint256 private constant DEPOSIT_MASK = (1 << 112) - 1;
    uint256 private constant CLOSED_AT_MASK = (1 << 64) - 1;
    uint256 private constant CLOSER_SHIFT = 64;
    uint256 private constant HAS_PROOF_SHIFT = 65; // + side
    uint256 private constant NONCE_SHIFT = 128; // + 64 * side
    uint256 private constant NONCE_MASK = (1 << 64) - 1;
    uint256 private constant LOCK_SIZE = 96;

    /// @dev secp256k1n / 2: larger s values are rejected (EIP-2 malleability).
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @dev EIP-191 prefixes of the 212-byte balance proof and of the 277-byte counter-signed message.
    bytes32 private constant PREFIX_212 = "\x19Ethereum Signed Message:\n212";
    bytes32 private constant PREFIX_277 = "\x19Ethereum Signed Message:\n277";
    uint256 private constant PREFIX_LEN = 29;

    uint256 private constant MSG_BALANCE_PROOF = 1;
    uint256 private constant MSG_BALANCE_PROOF_UPDATE = 2;

    /// @notice A channel was opened.
    event ChannelOpened(
        uint256 indexed channel_identifier,
        address indexed participant1,
        address indexed participant2
    );

    /// @notice The total deposit of `participant` in a channel rose to `total_deposit`.
    event ChannelNewDeposit(uint256 indexed channel_identifier, address indexed participant, uint256 total_deposit);

    /// @notice A channel was closed; `nonce` and `balance_hash` are those of the partner's
    /// balance proof given at close (zero for an empty close).
    event ChannelClosed(
        uint256 indexed channel_identifier,
        address indexed closing_participant,
        uint256 indexed nonce,
        bytes32 balance_hash
    );

    /// @notice The non-closing participant stored a newer balance proof of the closer.
    event NonClosingBalanceProofUpdated(
        uint256 indexed channel_identifier,
        address indexed closing_participant,
        uint256 indexed nonce,
        bytes32 balance_hash
    );

    /// @notice A channel was settled and the amounts were paid out.
    event ChannelSettled(
        uint256 indexed channel_identifier,
        address participant1,
        uint256 participant1_amount,
        bytes32 participant1_locksroot,
        address participant2,
        uint256 participant2_amount,
        bytes32 participant2_locksroot
    );

    /// @notice Pending locks of `sender` were unlocked after settlement.
    event ChannelUnlocked(
        uint256 indexed channel_identifier,
        address indexed receiver,
        address indexed sender,
        bytes32 locksroot,
        uint256 unlocked_amount,
        uint256 returned_tokens
    );

    /// @notice Deploys a token network (normally done by TokenNetworkRegistry).
    /// @param _token The ERC20 token (a contract).
    /// @param _secret_registry A SecretRegistry (a contract).
    /// @param _settle_timeout Settle timeout in seconds (> 0).
    /// @param _channel_participant_deposit_limit Per participant and channel (> 0).
    /// @param _token_network_deposit_limit For the whole network (>= the participant limit).
    constructor(
        address _token,
        address _secret_registry,
        uint256 _settle_timeout,
        uint256 _channel_participant_deposit_limit,
        uint256 _token_network_deposit_limit
    ) {
        require(_token.code.length > 0, "TN: invalid token address");
        require(_secret_registry.code.length > 0, "TN: invalid SecretRegistry");
        require(_settle_timeout > 0, "TN: invalid settle timeout");
        require(_channel_participant_deposit_limit > 0, "TN: invalid participant deposit limit");
        require(
            _token_network_deposit_limit >= _channel_participant_deposit_limit,
            "TN: invalid network deposit limit"
        );
        token = _token;
        secret_registry = _secret_registry;
        settle_timeout = _settle_timeout;
        channel_participant_deposit_limit = _channel_participant_deposit_limit;
        token_network_deposit_limit = _token_network_deposit_limit;
        _maxDeposit = _channel_participant_deposit_limit < DEPOSIT_MASK
            ? _channel_participant_deposit_limit
            : DEPOSIT_MASK;
        _nextChannelId = 1;
    }

    // ---------------------------------------------------------------- views

    /// @notice The number of channels ever opened in this network (= the last identifier).
    /// @return The counter.
    function channel_counter() external view returns (uint256) {
        return _nextChannelId - 1;
    }

    /// @notice The identifier of the open or closed channel of a pair, 0 if there is none.
    /// @param participant One participant.
    /// @param partner The other participant (order does not matter).
    /// @return The channel identifier or 0.
    function getChannelIdentifier(address participant, address partner) external view returns (uint256) {
        (bytes32 pair, ) = _pair(participant, partner);
        return _channels[pair] & ID_MASK;
    }

    /// @notice Per-participant data of a channel. For a channel that is not open or closed
    /// (never existed, or settled) the first five values are zero; `locksroot` and
    /// `locked_amount` describe the pending locks of `participant` towards `partner` kept
    /// after settlement for `unlock`.
    /// @param channel_identifier The channel.
    /// @param participant The participant whose data is returned.
    /// @param partner The other participant.
    /// @return deposit Total deposit of `participant`.
    /// @return withdrawn_amount Always 0 (this contract has no withdraw).
    /// @return is_the_closer Whether `participant` closed the channel.
    /// @return balance_hash Stored balance hash of `participant`'s balance proof.
    /// @return nonce Stored nonce of that balance proof.
    /// @return locksroot Locksroot of the pending locks kept after settlement.
    /// @return locked_amount Amount of those pending locks.
    function getChannelParticipantInfo(uint256 channel_identifier, address participant, address partner)
        external
        view
        returns (
            uint256 deposit,
            uint256 withdrawn_amount,
            bool is_the_closer,
            bytes32 balance_hash,
            uint256 nonce,
            bytes32 locksroot,
            uint256 locked_amount
        )
    {
        withdrawn_amount = 0;
        (bytes32 pair, uint256 side) = _pair(participant, partner);
        uint256 ch = _channels[pair];
        if (ch != 0 && (ch & ID_MASK) == channel_identifier) {
            deposit = (ch >> (DEPOSIT_SHIFT + 112 * side)) & DEPOSIT_MASK;
            if (ch & CLOSED_BIT != 0) {
                uint256 info = _closeInfo[pair];
                is_the_closer = ((info >> CLOSER_SHIFT) & 1) == side;
                if ((info >> (HAS_PROOF_SHIFT + side)) & 1 != 0) {
                    balance_hash = _balanceHashes[pair][side];
                }
                nonce = (info >> (NONCE_SHIFT + 64 * side)) & NONCE_MASK;
            }
        }
        UnlockData storage u = _unlocks[_unlockKey(channel_identifier, participant, partner)];
        locksroot = u.locksroot;
        locked_amount = u.locked_amount;
    }

    /// @notice State of a channel, as in raiden-contracts: 0 non-existent, 1 opened,
    /// 2 closed, 3 settled with pending locks, 4 settled (removed). For an opened channel
    /// the first value is the settle timeout, for a closed one the timestamp after which it
    /// can be settled, otherwise 0. (Addition to the interface of SPEC.md section 5.2.)
    /// @param channel_identifier The channel.
    /// @param participant1 One participant.
    /// @param participant2 The other participant.
    /// @return settle_timestamp See above.
    /// @return state See above.
    function getChannelInfo(uint256 channel_identifier, address participant1, address participant2)
        external
        view
        returns (uint256 settle_timestamp, uint8 state)
    {
        (bytes32 pair, ) = _pair(participant1, participant2);
        uint256 ch = _channels[pair];
        if (ch != 0 && (ch & ID_MASK) == channel_identifier) {
            if (ch & CLOSED_BIT == 0) {
                return (settle_timeout, 1);
            }
            return ((_closeInfo[pair] & CLOSED_AT_MASK) + settle_timeout, 2);
        }
        if (channel_identifier == 0 || channel_identifier >= _nextChannelId) {
            return (0, 0);
        }
        if (
            _unlocks[_unlockKey(channel_identifier, participant1, participant2)].locked_amount != 0 ||
            _unlocks[_unlockKey(channel_identifier, participant2, participant1)].locked_amount != 0
        ) {
            return (0, 3);
        }
        return (0, 4);
    }

    // ---------------------------------------------------------------- open and deposit

    /// @notice Opens a channel between `participant1` and `participant2`. Anyone may call.
    /// Reverts on a zero or repeated address and when the pair already has an open or
    /// closed channel.
    /// @param participant1 One participant.
    /// @param participant2 The other participant.
    /// @return The new channel identifier.
    function openChannel(address participant1, address participant2) external returns (uint256) {
        (uint256 id, bytes32 pair, ) = _open(participant1, participant2);
        _channels[pair] = id;
        return id;
    }

    /// @notice Opens a channel and deposits `participant1_total_deposit` for `participant1`,
    /// pulled from msg.sender with transferFrom (approve this contract first).
    /// @param participant1 The participant who gets the deposit.
    /// @param participant2 The other participant.
    /// @param participant1_total_deposit The deposit (> 0, within the limits).
    /// @return The new channel identifier.
    function openChannelWithDeposit(address participant1, address participant2, uint256 participant1_total_deposit)
        external
        returns (uint256)
    {
        (uint256 id, bytes32 pair, uint256 side) = _open(participant1, participant2);
        _deposit(id, pair, side, participant1, participant1_total_deposit, id);
        return id;
    }

    /// @notice Raises the total deposit of `participant` to `total_deposit` and pulls the
    /// difference from msg.sender with transferFrom. Anyone may fund a participant.
    /// @param channel_identifier The channel (must be open).
    /// @param participant The participant whose deposit rises.
    /// @param total_deposit The new total (> current, within the limits).
    /// @param partner The other participant.
    function setTotalDeposit(uint256 channel_identifier, address participant, uint256 total_deposit, address partner)
        external
    {
        (bytes32 pair, uint256 side) = _pair(participant, partner);
        uint256 ch = _channels[pair];
        require(ch != 0 && (ch & ID_MASK) == channel_identifier, "TN/deposit: no such channel for participants");
        require(ch & CLOSED_BIT == 0, "TN/deposit: channel is not open");
        _deposit(channel_identifier, pair, side, participant, total_deposit, ch);
    }

    // ---------------------------------------------------------------- close and update

    /// @notice Closes an open channel. Anyone may call. The closer's signature over the
    /// 277-byte type-1 message (the partner's balance proof followed by the partner's
    /// signature) is always checked. The partner's balance proof is checked and stored
    /// only when `nonce` > 0; an empty close passes zero data and a 65-byte zero signature.
    /// @param channel_identifier The channel.
    /// @param non_closing_participant The partner of the closer.
    /// @param closing_participant The closer.
    /// @param balance_hash Balance hash of the partner's balance proof.
    /// @param nonce Nonce of the partner's balance proof (0 = none).
    /// @param additional_hash Additional hash of the partner's balance proof.
    /// @param non_closing_signature The partner's signature of its balance proof.
    /// @param closing_signature The closer's signature of the 277-byte message.
    function closeChannel(
        uint256 channel_identifier,
        address non_closing_participant,
        address closing_participant,
        bytes32 balance_hash,
        uint256 nonce,
        bytes32 additional_hash,
        bytes calldata non_closing_signature,
        bytes calldata closing_signature
    ) external {
        (bytes32 pair, uint256 closerSide) = _pair(closing_participant, non_closing_participant);
        uint256 ch = _channels[pair];
        require(ch != 0 && (ch & ID_MASK) == channel_identifier, "TN/close: no such channel for participants");
        require(ch & CLOSED_BIT == 0, "TN/close: channel is not open");

        uint256 info = block.timestamp | (closerSide << CLOSER_SHIFT);
        if (nonce > 0) {
            require(nonce <= NONCE_MASK, "TN/close: nonce too large");
            require(
                _recover(
                    _digest(MSG_BALANCE_PROOF, channel_identifier, balance_hash, nonce, additional_hash, false, non_closing_signature),
                    non_closing_signature
                ) == non_closing_participant,
                "TN/close: invalid non-closing signature"
            );
            uint256 partnerSide = closerSide ^ 1;
            _balanceHashes[pair][partnerSide] = balance_hash;
            info |= (1 << (HAS_PROOF_SHIFT + partnerSide)) | (nonce << (NONCE_SHIFT + 64 * partnerSide));
        }
        require(
            _recover(
                _digest(MSG_BALANCE_PROOF, channel_identifier, balance_hash, nonce, additional_hash, true, non_closing_signature),
                closing_signature
            ) == closing_participant,
            "TN/close: invalid closing signature"
        );

        _channels[pair] = ch | CLOSED_BIT;
        _closeInfo[pair] = info;
        emit ChannelClosed(channel_identifier, closing_participant, nonce, balance_hash);
    }

    /// @notice Stores a newer balance proof of the closer, counter-signed by the non-closing
    /// participant (277-byte type-2 message). Anyone may call, until the settle timeout is over.
    /// @param channel_identifier The closed channel.
    /// @param closing_participant The closer (signer of the balance proof).
    /// @param non_closing_participant Its partner (counter-signer).
    /// @param balance_hash Balance hash of the closer's balance proof (non-zero).
    /// @param nonce Its nonce (> the stored one).
    /// @param additional_hash Its additional hash.
    /// @param closing_signature The closer's signature of the 212-byte balance proof.
    /// @param non_closing_signature The partner's signature of the 277-byte type-2 message.
    function updateNonClosingBalanceProof(
        uint256 channel_identifier,
        address closing_participant,
        address non_closing_participant,
        bytes32 balance_hash,
        uint256 nonce,
        bytes32 additional_hash,
        bytes calldata closing_signature,
        bytes calldata non_closing_signature
    ) external {
        require(balance_hash != bytes32(0), "TN/update: balance hash is zero");
        require(nonce > 0, "TN/update: nonce is zero");
        require(nonce <= NONCE_MASK, "TN/update: nonce too large");
        (bytes32 pair, uint256 closerSide) = _pair(closing_participant, non_closing_participant);
        uint256 ch = _channels[pair];
        require(ch != 0 && (ch & ID_MASK) == channel_identifier, "TN/update: no such channel for participants");
        require(ch & CLOSED_BIT != 0, "TN/update: channel is not closed");
        uint256 info = _closeInfo[pair];
        require(block.timestamp - (info & CLOSED_AT_MASK) <= settle_timeout, "TN/update: settle timeout is over");
        require((info >> CLOSER_SHIFT) & 1 == closerSide, "TN/update: closing_participant did not close");
        uint256 nonceShift = NONCE_SHIFT + 64 * closerSide;
        require(nonce > (info >> nonceShift) & NONCE_MASK, "TN/update: nonce must increase");
        require(
            _recover(
                _digest(MSG_BALANCE_PROOF, channel_identifier, balance_hash, nonce, additional_hash, false, closing_signature),
                closing_signature
            ) == closing_participant,
            "TN/update: invalid closing signature"
        );
        require(
            _recover(
                _digest(MSG_BALANCE_PROOF_UPDATE, channel_identifier, balance_hash, nonce, additional_hash, true, closing_signature),
                non_closing_signature
            ) == non_closing_participant,
            "TN/update: invalid non-closing signature"
        );
        _balanceHashes[pair][closerSide] = balance_hash;
        _closeInfo[pair] =
            (info & ~(NONCE_MASK << nonceShift)) |
            (nonce << nonceShift) |
            (1 << (HAS_PROOF_SHIFT + closerSide));
        emit NonClosingBalanceProofUpdated(channel_identifier, closing_participant, nonce, balance_hash);
    }

    // ---------------------------------------------------------------- settle and unlock

    /// @notice Settles a closed channel once block.timestamp > close timestamp + settle_timeout.
    /// Anyone may call. Each side's data must match its stored balance hash (or be zero
    /// amounts when none is stored), and the participants must be ordered so that
    /// T2 + L2 >= T1 + L1. Pays each side its share; locked amounts that may still be
    /// claimed stay in the contract for `unlock`.
    /// @param channel_identifier The channel.
    /// @param participant1 First participant (smaller T + L).
    /// @param participant1_transferred_amount Its transferred amount.
    /// @param participant1_locked_amount Its locked amount.
    /// @param participant1_locksroot Its locksroot.
    /// @param participant2 Second participant.
    /// @param participant2_transferred_amount Its transferred amount.
    /// @param participant2_locked_amount Its locked amount.
    /// @param participant2_locksroot Its locksroot.
    function settleChannel(
        uint256 channel_identifier,
        address participant1,
        uint256 participant1_transferred_amount,
        uint256 participant1_locked_amount,
        bytes32 participant1_locksroot,
        address participant2,
        uint256 participant2_transferred_amount,
        uint256 participant2_locked_amount,
        bytes32 participant2_locksroot
    ) external {
        (bytes32 pair, uint256 side1) = _pair(participant1, participant2);
        uint256 ch = _channels[pair];
        require(ch != 0 && (ch & ID_MASK) == channel_identifier, "TN/settle: no such channel for participants");
        require(ch & CLOSED_BIT != 0, "TN/settle: channel is not closed");
        uint256 info = _closeInfo[pair];
        require(block.timestamp - (info & CLOSED_AT_MASK) > settle_timeout, "TN/settle: settle timeout not over");

        require(
            _balanceDataMatches(pair, info, side1, participant1_transferred_amount, participant1_locked_amount, participant1_locksroot),
            "TN/settle: invalid balance data of participant1"
        );
        require(
            _balanceDataMatches(pair, info, side1 ^ 1, participant2_transferred_amount, participant2_locked_amount, participant2_locksroot),
            "TN/settle: invalid balance data of participant2"
        );
        uint256 sum1 = _satAdd(participant1_transferred_amount, participant1_locked_amount);
        uint256 sum2 = _satAdd(participant2_transferred_amount, participant2_locked_amount);
        require(sum2 >= sum1, "TN/settle: participants in wrong order");

        // Remove the channel: the pair may open a new one, and the writes are refunded.
        delete _channels[pair];
        delete _closeInfo[pair];
        if ((info >> HAS_PROOF_SHIFT) & 1 != 0) delete _balanceHashes[pair][0];
        if ((info >> (HAS_PROOF_SHIFT + 1)) & 1 != 0) delete _balanceHashes[pair][1];

        // Settlement arithmetic (raiden-contracts issue #188), withdrawn amounts are 0.
        uint256 s1;
        uint256 s2;
        {
            uint256 d1 = (ch >> (DEPOSIT_SHIFT + 112 * side1)) & DEPOSIT_MASK;
            uint256 total = d1 + ((ch >> (DEPOSIT_SHIFT + 112 * (side1 ^ 1))) & DEPOSIT_MASK);
            uint256 r1 = _min(total, _satAdd(sum2 - sum1, d1));
            uint256 r2 = total - r1;
            uint256 kept2 = _min(r1, participant2_locked_amount);
            uint256 kept1 = _min(r2, participant1_locked_amount);
            s1 = r1 - kept2;
            s2 = r2 - kept1;
            if (kept1 > 0) {
                _unlocks[_unlockKey(channel_identifier, participant1, participant2)] =
                    UnlockData(participant1_locksroot, kept1);
            }
            if (kept2 > 0) {
                _unlocks[_unlockKey(channel_identifier, participant2, participant1)] =
                    UnlockData(participant2_locksroot, kept2);
            }
        }

        emit ChannelSettled(
            channel_identifier,
            participant1,
            s1,
            participant1_locksroot,
            participant2,
            s2,
            participant2_locksroot
        );
        if (s1 > 0) _send(participant1, s1);
        if (s2 > 0) _send(participant2, s2);
    }

    /// @notice After settlement, pays out the pending locks of `sender` towards `receiver`:
    /// a lock goes to `receiver` if its secret was registered in the SecretRegistry before
    /// its expiration block, otherwise back to `sender`. Anyone may call, once.
    /// @param channel_identifier The settled channel.
    /// @param receiver The receiver of the locked transfers.
    /// @param sender The sender of the locked transfers.
    /// @param locks The pending locks, each 96 bytes: expiration block, amount, secrethash;
    /// keccak256(locks) must be the locksroot given at settlement.
    function unlock(uint256 channel_identifier, address receiver, address sender, bytes calldata locks) external {
        require(locks.length % LOCK_SIZE == 0, "TN/unlock: locks length must be a multiple of 96");
        UnlockData storage u = _unlocks[_unlockKey(channel_identifier, sender, receiver)];
        uint256 locked = u.locked_amount;
        require(locked > 0, "TN/unlock: no locked tokens");
        bytes32 locksroot = keccak256(locks);
        require(locksroot == u.locksroot, "TN/unlock: locksroot mismatch");
        delete u.locksroot;
        delete u.locked_amount;

        uint256 unlocked = _min(_claimable(locks), locked);
        uint256 returned = locked - unlocked;
        emit ChannelUnlocked(channel_identifier, receiver, sender, locksroot, unlocked, returned);
        if (unlocked > 0) _send(receiver, unlocked);
        if (returned > 0) _send(sender, returned);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Checks the addresses, assigns the next identifier and emits ChannelOpened. The
    /// caller writes `_channels[pair]`.
    function _open(address participant1, address participant2)
        private
        returns (uint256 id, bytes32 pair, uint256 side1)
    {
        require(participant1 != address(0) && participant2 != address(0), "TN/open: participant address zero");
        require(participant1 != participant2, "TN/open: participants must differ");
        (pair, side1) = _pair(participant1, participant2);
        require(_channels[pair] == 0, "TN/open: channel exists for participants");
        id = _nextChannelId;
        require(id <= ID_MASK, "TN/open: channel identifiers exhausted");
        unchecked {
            _nextChannelId = id + 1;
        }
        emit ChannelOpened(id, participant1, participant2);
    }

    /// @dev Raises the deposit of `side` in the channel word `ch` to `total`, stores the
    /// word, emits ChannelNewDeposit and pulls the difference from msg.sender.
    function _deposit(uint256 id, bytes32 pair, uint256 side, address participant, uint256 total, uint256 ch)
        private
    {
        require(total > 0, "TN/deposit: total_deposit must be positive");
        require(total <= _maxDeposit, "TN/deposit: participant deposit limit exceeded");
        uint256 shift = DEPOSIT_SHIFT + 112 * side;
        uint256 previous = (ch >> shift) & DEPOSIT_MASK;
        require(total > previous, "TN/deposit: total_deposit must increase");
        uint256 added;
        unchecked {
            added = total - previous;
        }
        if (token_network_deposit_limit != type(uint256).max) {
            // An unlimited network needs no check: no token balance can exceed 2^256 - 1.
            uint256 held = _balanceOfThis();
            require(
                held <= token_network_deposit_limit && added <= token_network_deposit_limit - held,
                "TN/deposit: network deposit limit exceeded"
            );
        }
        _channels[pair] = (ch & ~(DEPOSIT_MASK << shift)) | (total << shift);
        emit ChannelNewDeposit(id, participant, total);
        _pull(added);
    }

    /// @dev Whether (transferred, locked, locksroot) matches the stored balance hash of `side`.
    function _balanceDataMatches(
        bytes32 pair,
        uint256 info,
        uint256 side,
        uint256 transferred,
        uint256 locked,
        bytes32 locksroot
    ) private view returns (bool) {
        bytes32 stored;
        if ((info >> (HAS_PROOF_SHIFT + side)) & 1 != 0) {
            stored = _balanceHashes[pair][side];
        }
        if (stored == bytes32(0) && transferred == 0 && locked == 0) {
            return true;
        }
        return stored == keccak256(abi.encodePacked(transferred, locked, locksroot));
    }

    /// @dev Sum of the amounts of the locks whose secret was registered before expiration.
    function _claimable(bytes calldata locks) private view returns (uint256 total) {
        ISecretRegistry registry = ISecretRegistry(secret_registry);
        uint256 n = locks.length;
        for (uint256 i = 0; i < n; i += LOCK_SIZE) {
            uint256 expiration = uint256(bytes32(locks[i:i + 32]));
            uint256 amount = uint256(bytes32(locks[i + 32:i + 64]));
            bytes32 secrethash = bytes32(locks[i + 64:i + 96]);
            uint256 revealed = registry.getSecretRevealBlockHeight(secrethash);
            if (revealed > 0 && revealed < expiration) {
                total = _satAdd(total, amount);
            }
        }
    }

    /// @dev keccak256(lower ++ higher) and the side (0 lower, 1 higher) of `a`.
    function _pair(address a, address b) private pure returns (bytes32 pair, uint256 sideA) {
        assembly ("memory-safe") {
            sideA := gt(a, b)
            let lo := a
            let hi := b
            if sideA {
                lo := b
                hi := a
            }
            mstore(0x00, shl(96, lo))
            mstore(0x14, shl(96, hi))
            pair := keccak256(0x00, 0x28)
        }
    }

    function _unlockKey(uint256 id, address sender, address receiver) private pure returns (bytes32) {
        return keccak256(abi.encode(id, sender, receiver));
    }

    /// @dev EIP-191 hash of the 212-byte balance proof of SPEC.md section 5.3, or of the
    /// 277-byte message that appends the 65-byte `sig` to it (`counter` = true).
    function _digest(
        uint256 messageType,
        uint256 channel_identifier,
        bytes32 balance_hash,
        uint256 nonce,
        bytes32 additional_hash,
        bool counter,
        bytes calldata sig
    ) private view returns (bytes32 digest) {
        bytes32 prefix = PREFIX_212;
        uint256 length = PREFIX_LEN + 212;
        if (counter) {
            require(sig.length == 65, "TN: signature must be 65 bytes");
            prefix = PREFIX_277;
            length = PREFIX_LEN + 277;
        }
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, prefix)
            mstore(add(p, 29), shl(96, address()))
            mstore(add(p, 49), chainid())
            mstore(add(p, 81), messageType)
            mstore(add(p, 113), channel_identifier)
            mstore(add(p, 145), balance_hash)
            mstore(add(p, 177), nonce)
            mstore(add(p, 209), additional_hash)
            if counter {
                calldatacopy(add(p, 241), sig.offset, 65)
            }
            digest := keccak256(p, length)
        }
    }

    /// @dev Signer of `digest` from a 65-byte r ++ s ++ v signature, v in {27, 28}, low s.
    /// Returns the zero address for an unrecoverable signature.
    function _recover(bytes32 digest, bytes calldata sig) private pure returns (address) {
        require(sig.length == 65, "TN: signature must be 65 bytes");
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := calldataload(sig.offset)
            s := calldataload(add(sig.offset, 32))
            v := byte(0, calldataload(add(sig.offset, 64)))
        }
        require(uint256(s) <= HALF_N, "TN: signature s is malleable");
        require(v == 27 || v == 28, "TN: signature v must be 27 or 28");
        return ecrecover(digest, v, r, s);
    }

    function _balanceOfThis() private view returns (uint256 held) {
        address t = token;
        bool ok;
        assembly ("memory-safe") {
            mstore(0x00, shl(224, 0x70a08231)) // balanceOf(address)
            mstore(0x04, address())
            ok := staticcall(gas(), t, 0x00, 0x24, 0x00, 0x20)
            ok := and(ok, gt(returndatasize(), 0x1f))
            held := mload(0x00)
        }
        require(ok, "TN: token balanceOf failed");
    }

    /// @dev transferFrom(msg.sender, this, amount); bubbles up the token's revert reason.
    function _pull(uint256 amount) private {
        address t = token;
        bool ok;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, shl(224, 0x23b872dd)) // transferFrom(address,address,uint256)
            mstore(add(p, 0x04), caller())
            mstore(add(p, 0x24), address())
            mstore(add(p, 0x44), amount)
            ok := call(gas(), t, 0, p, 0x64, 0x00, 0x20)
            if iszero(ok) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
            ok := or(iszero(returndatasize()), and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1)))
        }
        require(ok, "TN/deposit: token transferFrom failed");
    }

    /// @dev transfer(to, amount); bubbles up the token's revert reason.
    function _send(address to, uint256 amount) private {
        address t = token;
        bool ok;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            mstore(add(p, 0x04), to)
            mstore(add(p, 0x24), amount)
            ok := call(gas(), t, 0, p, 0x44, 0x00, 0x20)
            if iszero(ok) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
            ok := or(iszero(returndatasize()), and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1)))
        }
        require(ok, "TN: token transfer failed");
    }

    function _satAdd(uint256 a, uint256 b) private pure returns (uint256 c) {
        unchecked {
            c = a + b;
            if (c < a) c = type(uint256).max;
        }
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
