//! The signed messages of SPEC §5.3: the closer's counter-signature over an empty balance
//! proof, EIP-191 personal-sign hashed, r ‖ s ‖ v with v ∈ {27, 28}.

use alloy::primitives::Bytes;
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;

use crate::chain::ChainError;
use crate::types::{Address, ChannelId, B256, U256};

/// Message type of a balance proof (the closer counter-signs with it).
pub const MESSAGE_TYPE_BALANCE_PROOF: u64 = 1;
/// Message type of a balance-proof update.
pub const MESSAGE_TYPE_BALANCE_PROOF_UPDATE: u64 = 2;

/// The 277-byte message a closer or updater signs: the seven balance-proof fields with
/// `message_type`, then the partner's 65-byte signature.
#[allow(clippy::too_many_arguments)] // the fields of the message, in its order
pub fn balance_proof_counter_signature_message(
    token_network: Address,
    chain_id: u64,
    message_type: u64,
    channel_id: ChannelId,
    balance_hash: B256,
    nonce: U256,
    additional_hash: B256,
    partner_signature: &[u8; 65],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(277);
    message.extend_from_slice(token_network.as_slice());
    message.extend_from_slice(&U256::from(chain_id).to_be_bytes::<32>());
    message.extend_from_slice(&U256::from(message_type).to_be_bytes::<32>());
    message.extend_from_slice(&U256::from(channel_id.0).to_be_bytes::<32>());
    message.extend_from_slice(balance_hash.as_slice());
    message.extend_from_slice(&nonce.to_be_bytes::<32>());
    message.extend_from_slice(additional_hash.as_slice());
    message.extend_from_slice(partner_signature);
    message
}

/// The closer's signature for closing `channel_id` with an empty balance proof (no
/// payments): zero balance hash, nonce and additional hash, a zero partner signature.
pub fn closing_signature(
    signer: &PrivateKeySigner,
    token_network: Address,
    chain_id: u64,
    channel_id: ChannelId,
) -> Result<Bytes, ChainError> {
    let message = balance_proof_counter_signature_message(
        token_network,
        chain_id,
        MESSAGE_TYPE_BALANCE_PROOF,
        channel_id,
        B256::ZERO,
        U256::ZERO,
        B256::ZERO,
        &[0u8; 65],
    );
    let signature = signer
        .sign_message_sync(&message)
        .map_err(|e| ChainError::Rpc(format!("signing the close: {e}")))?;
    Ok(Bytes::from(signature.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_close_message_is_277_bytes_and_the_signature_recovers_the_closer() {
        let signer = PrivateKeySigner::random();
        let network = Address::repeat_byte(7);
        let message = balance_proof_counter_signature_message(
            network,
            31337,
            1,
            ChannelId(3),
            B256::ZERO,
            U256::ZERO,
            B256::ZERO,
            &[0u8; 65],
        );
        assert_eq!(message.len(), 277);
        let signature = closing_signature(&signer, network, 31337, ChannelId(3)).unwrap();
        assert_eq!(signature.len(), 65);
        assert!(signature[64] == 27 || signature[64] == 28);
        let parsed = alloy::primitives::Signature::try_from(signature.as_ref()).unwrap();
        let recovered = parsed.recover_address_from_msg(&message).unwrap();
        assert_eq!(recovered, signer.address());
    }
}
