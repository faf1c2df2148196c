//! Bindings to the contracts, written from their ABI (SPEC §5.2): the functions and events
//! of raiden-contracts 0.50 that the node uses, so that the node works against our
//! contracts and against a Raiden 0.50 deployment alike. Deployment bytecode comes from
//! the artifacts that `contracts/build.js` writes.

#![allow(missing_docs)] // the sol! macro generates items named after the ABI
#![allow(clippy::too_many_arguments)] // the ABI has the arguments it has

use alloy::sol;

sol! {
    #[sol(rpc)]
    interface ITokenNetworkRegistry {
        event TokenNetworkCreated(address indexed token_address, address indexed token_network_address, uint256 settle_timeout);

        function createERC20TokenNetwork(address _token_address, uint256 _channel_participant_deposit_limit, uint256 _token_network_deposit_limit) external returns (address token_network_address);
        function token_to_token_networks(address) external view returns (address);
        function settle_timeout() external view returns (uint256);
        function secret_registry_address() external view returns (address);
        function max_token_networks() external view returns (uint256);
        function token_network_created() external view returns (uint256);
    }

    #[sol(rpc)]
    interface ITokenNetwork {
        event ChannelOpened(uint256 indexed channel_identifier, address indexed participant1, address indexed participant2);
        event ChannelNewDeposit(uint256 indexed channel_identifier, address indexed participant, uint256 total_deposit);
        event ChannelClosed(uint256 indexed channel_identifier, address indexed closing_participant, uint256 indexed nonce, bytes32 balance_hash);
        event NonClosingBalanceProofUpdated(uint256 indexed channel_identifier, address indexed closing_participant, uint256 indexed nonce, bytes32 balance_hash);
        event ChannelSettled(uint256 indexed channel_identifier, address participant1, uint256 participant1_amount, bytes32 participant1_locksroot, address participant2, uint256 participant2_amount, bytes32 participant2_locksroot);

        function openChannel(address participant1, address participant2) external returns (uint256);
        function openChannelWithDeposit(address participant1, address participant2, uint256 participant1_total_deposit) external returns (uint256);
        function setTotalDeposit(uint256 channel_identifier, address participant, uint256 total_deposit, address partner) external;
        function closeChannel(uint256 channel_identifier, address non_closing_participant, address closing_participant, bytes32 balance_hash, uint256 nonce, bytes32 additional_hash, bytes non_closing_signature, bytes closing_signature) external;
        function updateNonClosingBalanceProof(uint256 channel_identifier, address closing_participant, address non_closing_participant, bytes32 balance_hash, uint256 nonce, bytes32 additional_hash, bytes closing_signature, bytes non_closing_signature) external;
        function settleChannel(uint256 channel_identifier, address participant1, uint256 participant1_transferred_amount, uint256 participant1_locked_amount, bytes32 participant1_locksroot, address participant2, uint256 participant2_transferred_amount, uint256 participant2_locked_amount, bytes32 participant2_locksroot) external;
        function getChannelIdentifier(address participant, address partner) external view returns (uint256);
        function getChannelParticipantInfo(uint256 channel_identifier, address participant, address partner) external view returns (uint256, uint256, bool, bytes32, uint256, bytes32, uint256);
        function token() external view returns (address);
        function settle_timeout() external view returns (uint256);
        function channel_counter() external view returns (uint256);
        function channel_participant_deposit_limit() external view returns (uint256);
        function token_network_deposit_limit() external view returns (uint256);
    }

    #[sol(rpc)]
    interface IERC20 {
        function balanceOf(address owner) external view returns (uint256);
        function approve(address spender, uint256 value) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function totalSupply() external view returns (uint256);
    }

    #[sol(rpc)]
    interface ICustomToken {
        function mint(uint256 num) external;
        function mintFor(uint256 num, address target) external;
    }
}
