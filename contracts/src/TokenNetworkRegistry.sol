// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {TokenNetwork} from "./TokenNetwork.sol";

/// @title TokenNetworkRegistry
/// @notice Creates one TokenNetwork per ERC20 token and remembers it. Every token network
/// it creates uses the registry's settle timeout (in seconds).
/// ABI-compatible with the TokenNetworkRegistry of raiden-contracts 0.50.
contract TokenNetworkRegistry {
    /// @notice The SecretRegistry handed to every token network.
    address public immutable secret_registry_address;
    /// @notice Settle timeout in seconds of every token network created here.
    uint256 public immutable settle_timeout;
    /// @notice How many token networks this registry may create.
    uint256 public immutable max_token_networks;
    /// @notice How many token networks this registry has created.
    uint256 public token_network_created;
    /// @notice token address => its token network (zero address = none).
    mapping(address => address) public token_to_token_networks;

    /// @notice Emitted when a token network is created.
    /// @param token_address The ERC20 token.
    /// @param token_network_address The new TokenNetwork.
    /// @param settle_timeout Its settle timeout in seconds.
    event TokenNetworkCreated(
        address indexed token_address,
        address indexed token_network_address,
        uint256 settle_timeout
    );

    /// @notice Deploys the registry.
    /// @param _secret_registry_address A deployed SecretRegistry.
    /// @param _settle_timeout Settle timeout in seconds (> 0) for every token network.
    /// @param _max_token_networks Upper bound (> 0) on the number of token networks.
    constructor(address _secret_registry_address, uint256 _settle_timeout, uint256 _max_token_networks) {
        require(_secret_registry_address.code.length > 0, "TNR: invalid SecretRegistry");
        require(_settle_timeout > 0, "TNR: invalid settle timeout");
        require(_max_token_networks > 0, "TNR: invalid max_token_networks");
        secret_registry_address = _secret_registry_address;
        settle_timeout = _settle_timeout;
        max_token_networks = _max_token_networks;
    }

    /// @notice Creates the token network of `token`. Anyone may call; one network per token,
    /// at most `max_token_networks` in total.
    /// @param token The ERC20 token (must be a contract).
    /// @param channel_participant_deposit_limit Max total deposit of one participant in one channel (> 0).
    /// @param token_network_deposit_limit Max tokens the network may hold (>= the participant limit).
    /// @return The address of the new TokenNetwork.
    function createERC20TokenNetwork(
        address token,
        uint256 channel_participant_deposit_limit,
        uint256 token_network_deposit_limit
    ) external returns (address) {
        uint256 created = token_network_created;
        require(created < max_token_networks, "TNR: registry full");
        require(token_to_token_networks[token] == address(0), "TNR: token already registered");
        address token_network_address = address(
            new TokenNetwork(
                token,
                secret_registry_address,
                settle_timeout,
                channel_participant_deposit_limit,
                token_network_deposit_limit
            )
        );
        unchecked {
            token_network_created = created + 1;
        }
        token_to_token_networks[token] = token_network_address;
        emit TokenNetworkCreated(token, token_network_address, settle_timeout);
        return token_network_address;
    }
}
