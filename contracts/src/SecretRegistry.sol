// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title SecretRegistry
/// @notice Records the block at which the secret of a hash time lock was first revealed
/// on chain, so that TokenNetwork.unlock can tell which pending locks were claimed in time.
/// ABI-compatible with the SecretRegistry of raiden-contracts 0.50 (secrethash = sha256).
contract SecretRegistry {
    /// @dev sha256(secret) => block number at which the secret was registered (0 = never).
    mapping(bytes32 => uint256) private _revealBlock;

    /// @notice Emitted once per secret, when it is first registered.
    /// @param secrethash sha256 of the secret
    /// @param secret the 32-byte secret
    event SecretRevealed(bytes32 indexed secrethash, bytes32 secret);

    /// @notice Registers `secret` and records the current block number for sha256(secret).
    /// @param secret The secret of a hash time lock (must not be zero).
    /// @return true if the secret was registered now, false if it was zero or already known.
    function registerSecret(bytes32 secret) external returns (bool) {
        return _register(secret);
    }

    /// @notice Registers several secrets in one transaction.
    /// @param secrets The secrets to register.
    /// @return true if every secret was registered now, false if any was zero or already known.
    function registerSecretBatch(bytes32[] calldata secrets) external returns (bool) {
        bool all = true;
        uint256 n = secrets.length;
        for (uint256 i = 0; i < n; ) {
            if (!_register(secrets[i])) {
                all = false;
            }
            unchecked {
                ++i;
            }
        }
        return all;
    }

    /// @notice The block number at which the secret of `secrethash` was registered.
    /// @param secrethash sha256 of the secret.
    /// @return The block number, or 0 if the secret was never registered.
    function getSecretRevealBlockHeight(bytes32 secrethash) external view returns (uint256) {
        return _revealBlock[secrethash];
    }

    function _register(bytes32 secret) private returns (bool) {
        if (secret == bytes32(0)) {
            return false;
        }
        bytes32 secrethash = sha256(abi.encodePacked(secret));
        if (_revealBlock[secrethash] != 0) {
            return false;
        }
        _revealBlock[secrethash] = block.number;
        emit SecretRevealed(secrethash, secret);
        return true;
    }
}
