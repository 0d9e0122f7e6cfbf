//! What the system locks sign: for an input group (the inputs sharing one
//! lock), `ckb_hash(tx hash ‖ each witness of the group ‖ each witness
//! past the inputs)`, every witness as its length (u64 little-endian) and
//! bytes, the group's first witness with its lock placeholder in place of
//! the signatures. For `secp256k1_blake160_sighash_all` the placeholder is
//! 65 zero bytes; for `secp256k1_blake160_multisig_all` it is the multisig
//! script followed by 65 zero bytes per required signature (the script
//! stays, only the signatures are zeroed).

use ckb_types::bytes::Bytes;
use ckb_types::core::TransactionView;
use ckb_types::packed::WitnessArgs;
use ckb_types::prelude::*;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SECP256K1};
use tollway_core::channel::ckb_hash;
use tollway_core::ckb::multisig::SIGNATURE_LEN;
use tollway_core::ckb::MultisigScript;

/// A 65-byte recoverable signature, `r ‖ s ‖ recovery id`.
pub type Signature = [u8; SIGNATURE_LEN];

/// The witness of a group's first input before signing: its lock is
/// `lock_placeholder` (what [`sighash_placeholder`] or
/// [`multisig_placeholder`] give).
pub fn placeholder_witness(lock_placeholder: Vec<u8>) -> WitnessArgs {
    WitnessArgs::new_builder().lock(Some(Bytes::from(lock_placeholder)).pack()).build()
}

/// The lock placeholder of a sighash input: 65 zero bytes.
pub fn sighash_placeholder() -> Vec<u8> {
    vec![0; SIGNATURE_LEN]
}

/// The lock placeholder of a multisig input: the script, then zeros for
/// every required signature.
pub fn multisig_placeholder(script: &MultisigScript) -> Vec<u8> {
    let mut lock = script.to_bytes();
    lock.resize(script.witness_lock_len(), 0);
    lock
}

/// The message the lock of the input group `group` (input indices,
/// ascending) signs; `first` is the group's first witness with its lock
/// placeholder. The transaction's other witnesses are read as they are.
pub fn group_message(tx: &TransactionView, group: &[usize], first: &WitnessArgs) -> [u8; 32] {
    let mut bytes = tx.hash().raw_data().to_vec();
    let mut push = |witness: &[u8]| {
        bytes.extend_from_slice(&(witness.len() as u64).to_le_bytes());
        bytes.extend_from_slice(witness);
    };
    push(first.as_slice());
    let witnesses = tx.witnesses();
    for &index in group.iter().skip(1) {
        push(&witnesses.get(index).map(|w| w.raw_data()).unwrap_or_default());
    }
    for index in tx.inputs().len()..witnesses.len() {
        push(&witnesses.get(index).map(|w| w.raw_data()).unwrap_or_default());
    }
    ckb_hash(&[&bytes])
}

/// Reads a 65-byte signature.
fn recoverable(signature: &Signature) -> Option<RecoverableSignature> {
    let id = RecoveryId::try_from(i32::from(signature[64])).ok()?;
    RecoverableSignature::from_compact(&signature[..64], id).ok()
}

/// The key that made `signature` over `message`, if it is a valid
/// signature of some key.
pub fn signer_of(message: [u8; 32], signature: &Signature) -> Option<PublicKey> {
    let signature = recoverable(signature)?;
    SECP256K1.recover_ecdsa(&Message::from_digest(message), &signature).ok()
}
