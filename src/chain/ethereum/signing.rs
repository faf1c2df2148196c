//! The signed messages of SPEC §5.3: the closer's counter-signature over an empty balance
//! proof, EIP-191 personal-sign hashed, r ‖ s ‖ v with v ∈ {27, 28}; and, for balance
//! proofs with payments, the balance hash, the 212-byte balance proof and its signature,
//! and the 277-byte counter-signatures of the closer (type 1) and of the updater (type 2).

use alloy::primitives::{keccak256, Bytes};
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

/// Length of the balance-proof message of SPEC §5.3 (before the EIP-191 prefix).
pub const BALANCE_PROOF_MESSAGE_LEN: usize = 212;
/// Length of the counter-signed message: the balance proof and a 65-byte signature.
pub const COUNTER_SIGNATURE_MESSAGE_LEN: usize = 277;

/// The balance hash of SPEC §5.3: `keccak256(transferred ‖ locked ‖ locksroot)` (two
/// 32-byte big-endian integers and the 32-byte locksroot), except that all-zero data
/// (nothing transferred, nothing locked, zero locksroot) maps to the zero hash.
pub fn balance_hash(transferred: U256, locked: U256, locksroot: B256) -> B256 {
    if transferred.is_zero() && locked.is_zero() && locksroot.is_zero() {
        return B256::ZERO;
    }
    let mut data = [0u8; 96];
    data[..32].copy_from_slice(&transferred.to_be_bytes::<32>());
    data[32..64].copy_from_slice(&locked.to_be_bytes::<32>());
    data[64..].copy_from_slice(locksroot.as_slice());
    keccak256(data)
}

/// The signed fields of a balance proof (SPEC §5.3), the message type aside: what the
/// sender of payments signs, and what its partner hands to `closeChannel` (the sender's
/// proof given by the closer) or to `updateNonClosingBalanceProof` (the closer's proof
/// given by its partner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalanceProof {
    /// The token network of the channel (`token_network_address`).
    pub token_network: Address,
    /// The chain id (`block.chainid` on chain).
    pub chain_id: u64,
    /// The channel.
    pub channel_id: ChannelId,
    /// See [`balance_hash`].
    pub balance_hash: B256,
    /// The proof's nonce: larger for a newer proof, 0 for none.
    pub nonce: U256,
    /// Hash of the off-chain message the proof came with (opaque to the contract).
    pub additional_hash: B256,
}

impl BalanceProof {
    /// The 212-byte balance-proof message: `token_network ‖ chain_id ‖ 1 ‖
    /// channel_identifier ‖ balance_hash ‖ nonce ‖ additional_hash`.
    pub fn message(&self) -> Vec<u8> {
        let mut message = self.counter_signature_message(MESSAGE_TYPE_BALANCE_PROOF, &[0u8; 65]);
        message.truncate(BALANCE_PROOF_MESSAGE_LEN);
        message
    }

    /// The sender's signature of [`Self::message`] (EIP-191, r ‖ s ‖ v, v ∈ {27, 28}).
    pub fn sign(&self, signer: &PrivateKeySigner) -> Result<Bytes, ChainError> {
        sign(signer, &self.message(), "the balance proof")
    }

    /// The 277-byte message counter-signing this proof: its seven fields with
    /// `message_type` ([`MESSAGE_TYPE_BALANCE_PROOF`] for the closer,
    /// [`MESSAGE_TYPE_BALANCE_PROOF_UPDATE`] for the updater), then `partner_signature`,
    /// the proof sender's signature (65 zero bytes for an empty close).
    pub fn counter_signature_message(
        &self,
        message_type: u64,
        partner_signature: &[u8; 65],
    ) -> Vec<u8> {
        balance_proof_counter_signature_message(
            self.token_network,
            self.chain_id,
            message_type,
            self.channel_id,
            self.balance_hash,
            self.nonce,
            self.additional_hash,
            partner_signature,
        )
    }

    /// The closer's `closing_signature` for `closeChannel` with this proof of its partner:
    /// the type-1 counter-signature over the proof and `partner_signature`.
    pub fn closing_signature(
        &self,
        closer: &PrivateKeySigner,
        partner_signature: &[u8],
    ) -> Result<Bytes, ChainError> {
        let message = self.counter_signature_message(
            MESSAGE_TYPE_BALANCE_PROOF,
            &signature_array(partner_signature)?,
        );
        sign(closer, &message, "the close")
    }

    /// The non-closing participant's `non_closing_signature` for
    /// `updateNonClosingBalanceProof` with this proof of the closer: the type-2
    /// counter-signature over the proof and the closer's signature `closer_signature`.
    pub fn update_signature(
        &self,
        non_closer: &PrivateKeySigner,
        closer_signature: &[u8],
    ) -> Result<Bytes, ChainError> {
        let message = self.counter_signature_message(
            MESSAGE_TYPE_BALANCE_PROOF_UPDATE,
            &signature_array(closer_signature)?,
        );
        sign(non_closer, &message, "the balance-proof update")
    }
}

fn signature_array(signature: &[u8]) -> Result<[u8; 65], ChainError> {
    signature.try_into().map_err(|_| {
        ChainError::Rpc(format!(
            "a signature is 65 bytes, this one has {}",
            signature.len()
        ))
    })
}

fn sign(signer: &PrivateKeySigner, message: &[u8], what: &str) -> Result<Bytes, ChainError> {
    let signature = signer
        .sign_message_sync(message)
        .map_err(|e| ChainError::Rpc(format!("signing {what}: {e}")))?;
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

    fn proof() -> BalanceProof {
        BalanceProof {
            token_network: Address::repeat_byte(0xaa),
            chain_id: 31337,
            channel_id: ChannelId(5),
            balance_hash: B256::repeat_byte(0xbb),
            nonce: U256::from(9u64),
            additional_hash: B256::repeat_byte(0xcc),
        }
    }

    /// keccak256 of the EIP-191 personal message, built by hand.
    fn eip191(message: &[u8]) -> B256 {
        let mut data = format!("\x19Ethereum Signed Message:\n{}", message.len()).into_bytes();
        data.extend_from_slice(message);
        keccak256(data)
    }

    fn signer_of(signature: &[u8], digest: B256) -> Address {
        alloy::primitives::Signature::try_from(signature)
            .unwrap()
            .recover_address_from_prehash(&digest)
            .unwrap()
    }

    #[test]
    fn balance_hash_maps_all_zero_to_zero_and_hashes_the_packed_fields_otherwise() {
        assert_eq!(balance_hash(U256::ZERO, U256::ZERO, B256::ZERO), B256::ZERO);
        let (t, l, root) = (U256::from(7u64), U256::from(3u64), B256::repeat_byte(1));
        let mut packed = Vec::new();
        packed.extend_from_slice(&t.to_be_bytes::<32>());
        packed.extend_from_slice(&l.to_be_bytes::<32>());
        packed.extend_from_slice(root.as_slice());
        assert_eq!(packed.len(), 96);
        assert_eq!(balance_hash(t, l, root), keccak256(&packed));
        // Any one non-zero field gives a real hash, as the contract computes it.
        for (t, l, root) in [
            (U256::from(1u64), U256::ZERO, B256::ZERO),
            (U256::ZERO, U256::from(1u64), B256::ZERO),
            (U256::ZERO, U256::ZERO, B256::repeat_byte(2)),
        ] {
            let mut packed = t.to_be_bytes::<32>().to_vec();
            packed.extend_from_slice(&l.to_be_bytes::<32>());
            packed.extend_from_slice(root.as_slice());
            assert_eq!(balance_hash(t, l, root), keccak256(&packed));
            assert_ne!(balance_hash(t, l, root), B256::ZERO);
        }
    }

    #[test]
    fn the_balance_proof_message_is_212_bytes_in_field_order() {
        let proof = proof();
        let message = proof.message();
        assert_eq!(message.len(), BALANCE_PROOF_MESSAGE_LEN);
        assert_eq!(&message[..20], proof.token_network.as_slice());
        assert_eq!(&message[20..52], &U256::from(31337u64).to_be_bytes::<32>());
        assert_eq!(&message[52..84], &U256::from(1u64).to_be_bytes::<32>());
        assert_eq!(&message[84..116], &U256::from(5u64).to_be_bytes::<32>());
        assert_eq!(&message[116..148], proof.balance_hash.as_slice());
        assert_eq!(&message[148..180], &U256::from(9u64).to_be_bytes::<32>());
        assert_eq!(&message[180..212], proof.additional_hash.as_slice());
    }

    #[test]
    fn the_balance_proof_signature_is_eip191_over_212_bytes() {
        let signer = PrivateKeySigner::random();
        let proof = proof();
        let signature = proof.sign(&signer).unwrap();
        assert_eq!(signature.len(), 65);
        assert!(signature[64] == 27 || signature[64] == 28);
        assert_eq!(
            signer_of(&signature, eip191(&proof.message())),
            signer.address()
        );
    }

    #[test]
    fn counter_signatures_are_type_1_for_the_closer_and_type_2_for_the_updater() {
        let sender = PrivateKeySigner::random();
        let counter = PrivateKeySigner::random();
        let proof = proof();
        let partner: [u8; 65] = proof.sign(&sender).unwrap().as_ref().try_into().unwrap();
        for (message_type, signature) in [
            (1u8, proof.closing_signature(&counter, &partner).unwrap()),
            (2u8, proof.update_signature(&counter, &partner).unwrap()),
        ] {
            let message = proof.counter_signature_message(u64::from(message_type), &partner);
            assert_eq!(message.len(), COUNTER_SIGNATURE_MESSAGE_LEN);
            assert_eq!(message[83], message_type);
            assert_eq!(&message[..52], &proof.message()[..52]);
            assert_eq!(&message[84..212], &proof.message()[84..]);
            assert_eq!(&message[212..], &partner);
            assert!(signature[64] == 27 || signature[64] == 28);
            assert_eq!(signer_of(&signature, eip191(&message)), counter.address());
        }
    }

    #[test]
    fn an_empty_closing_signature_is_the_counter_signature_of_the_zero_proof() {
        let signer = PrivateKeySigner::random();
        let network = Address::repeat_byte(3);
        let empty = BalanceProof {
            token_network: network,
            chain_id: 1,
            channel_id: ChannelId(8),
            balance_hash: B256::ZERO,
            nonce: U256::ZERO,
            additional_hash: B256::ZERO,
        };
        // RFC 6979 signatures are deterministic: both ways give the same bytes.
        assert_eq!(
            empty.closing_signature(&signer, &[0u8; 65]).unwrap(),
            closing_signature(&signer, network, 1, ChannelId(8)).unwrap()
        );
    }

    #[test]
    fn a_partner_signature_of_the_wrong_length_is_refused() {
        let signer = PrivateKeySigner::random();
        assert!(proof().closing_signature(&signer, &[0u8; 64]).is_err());
        assert!(proof().update_signature(&signer, &[0u8; 66]).is_err());
    }
}
