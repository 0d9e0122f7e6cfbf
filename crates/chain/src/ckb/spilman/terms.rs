//! A channel's terms and the transactions that spend its cell: the
//! commitment for each cumulative payment and the timelocked refund. Each
//! is a pure function of the terms, so both sides build the same bytes,
//! and the seller can check what the buyer signed exactly as the chain
//! will.

use super::TxError;
use crate::ckb::scripts::LockScripts;
use crate::ckb::signing::{group_message, multisig_placeholder, placeholder_witness, signer_of, Signature};
use ckb_types::bytes::Bytes;
use ckb_types::core::{TransactionBuilder, TransactionView};
use ckb_types::packed::{CellInput, CellOutput, OutPoint, WitnessArgs};
use ckb_types::prelude::*;
use secp256k1::PublicKey;
use tollway_core::channel::{KeyId, PayerKey};
use tollway_core::ckb::multisig::SIGNATURE_LEN;
use tollway_core::ckb::{ChannelFunds, MultisigScript, Shannons, Since, Split};

/// What both sides agreed at open. Every channel transaction follows
/// from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTerms {
    /// The payer.
    pub buyer: PublicKey,
    /// The payee.
    pub seller: PublicKey,
    /// The money in the channel cell and the fee each closing pays.
    pub funds: ChannelFunds,
    /// From when the buyer may take its refund: the refund input's
    /// `since`. Tollway uses an absolute block number: the multisig lock in
    /// the genesis of CKB's chains refuses any other `since` on its inputs
    /// (error -23, seen on the node; docs/ckb.md).
    pub expiry: Since,
    /// The channel cell: output 0 of the funding transaction.
    pub cell: OutPoint,
}

/// A commitment as the seller accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedCommitment {
    /// What it pays the seller.
    pub cumulative: Shannons,
    /// The buyer's signature over it.
    pub buyer_signature: Signature,
}

/// The offset of the first signature in a 2-of-2 witness lock.
const FIRST_SIGNATURE: usize = 4 + 2 * 20;

impl ChannelTerms {
    /// The 2-of-2 multisig script of the channel cell: buyer, then seller.
    pub fn multisig(&self) -> MultisigScript {
        MultisigScript::two_of_two(KeyId::of(&self.buyer), KeyId::of(&self.seller))
    }

    /// The refund input's `since`: the expiry.
    pub fn refund_since(&self) -> Result<u64, TxError> {
        self.expiry.encode().map_err(|e| TxError::Malformed(e.to_string()))
    }

    fn spend(&self, scripts: &LockScripts, split: Split, since: u64) -> TransactionView {
        let output = |capacity: Shannons, key: &PublicKey| {
            CellOutput::new_builder().capacity(capacity).lock(scripts.sighash.script(&KeyId::of(key).0)).build()
        };
        TransactionBuilder::default()
            .cell_deps(scripts.multisig.cell_deps.clone())
            .input(CellInput::new(self.cell.clone(), since))
            .output(output(split.seller, &self.seller))
            .output_data(Bytes::new().pack())
            .output(output(split.buyer, &self.buyer))
            .output_data(Bytes::new().pack())
            .witness(placeholder_witness(multisig_placeholder(&self.multisig())).as_bytes().pack())
            .build()
    }

    /// The commitment paying the seller `cumulative`: the channel cell to
    /// the seller (co-funding + cumulative) and the buyer (the rest less
    /// the fee), spendable at once.
    pub fn commitment(&self, scripts: &LockScripts, cumulative: Shannons) -> Result<TransactionView, TxError> {
        Ok(self.spend(scripts, self.funds.commitment(cumulative)?, 0))
    }

    /// The refund: the commitment for 0, valid only from the expiry on.
    pub fn refund(&self, scripts: &LockScripts) -> Result<TransactionView, TxError> {
        Ok(self.spend(scripts, self.funds.refund()?, self.refund_since()?))
    }

    /// What both keys sign for a commitment or the refund.
    pub fn message(&self, tx: &TransactionView) -> [u8; 32] {
        group_message(tx, &[0], &placeholder_witness(multisig_placeholder(&self.multisig())))
    }

    /// `key`'s signature over a commitment or the refund.
    pub fn sign(&self, tx: &TransactionView, key: &PayerKey) -> Signature {
        key.sign_digest(self.message(tx))
    }

    /// Whether `signature` over `tx` is `key`'s.
    pub fn signed_by(&self, tx: &TransactionView, signature: &Signature, key: &PublicKey) -> bool {
        signer_of(self.message(tx), signature).is_some_and(|k| &k == key)
    }

    /// `tx` with its witness lock holding the given signatures, buyer's
    /// first (the multisig lock takes either order; Tollway always writes
    /// this one); a missing one stays zero.
    pub fn with_signatures(&self, tx: &TransactionView, buyer: Option<&Signature>, seller: Option<&Signature>) -> TransactionView {
        let mut lock = multisig_placeholder(&self.multisig());
        if let Some(signature) = buyer {
            lock[FIRST_SIGNATURE..FIRST_SIGNATURE + SIGNATURE_LEN].copy_from_slice(signature);
        }
        if let Some(signature) = seller {
            lock[FIRST_SIGNATURE + SIGNATURE_LEN..].copy_from_slice(signature);
        }
        tx.as_advanced_builder().set_witnesses(vec![placeholder_witness(lock).as_bytes().pack()]).build()
    }

    /// Checks a commitment the buyer signed, as the chain will: it spends
    /// this channel's cell at once, pays exactly the seller's and the
    /// buyer's plain cells with the channel's fee, is otherwise the
    /// canonical commitment for the amount it pays, and carries the
    /// buyer's signature over it (the seller's slot empty). The first
    /// failing check names the error.
    pub fn check_commitment(&self, scripts: &LockScripts, tx: &TransactionView) -> Result<CheckedCommitment, TxError> {
        let inputs = tx.inputs();
        let input = match (inputs.len(), inputs.get(0)) {
            (1, Some(input)) => input,
            (n, _) => return Err(TxError::NotCanonical(format!("{n} inputs, a commitment has 1"))),
        };
        if input.previous_output() != self.cell {
            return Err(TxError::WrongChannel { expected: out_point_text(&self.cell), found: out_point_text(&input.previous_output()) });
        }
        let since: u64 = input.since().unpack();
        if since != 0 {
            return Err(TxError::SinceChanged { expected: 0, found: since });
        }
        let cumulative = self.paid_by(scripts, tx)?;
        let canonical = self.commitment(scripts, cumulative)?;
        if canonical.hash() != tx.hash() {
            return Err(TxError::NotCanonical("cell deps, header deps, version or output data differ".into()));
        }
        let buyer_signature = self.buyer_signature(tx)?;
        if !self.signed_by(&canonical, &buyer_signature, &self.buyer) {
            return Err(TxError::WrongSigner { role: "buyer" });
        }
        Ok(CheckedCommitment { cumulative, buyer_signature })
    }

    /// What the outputs of `tx` pay the seller, once they are the two
    /// plain cells of the channel with its fee.
    fn paid_by(&self, scripts: &LockScripts, tx: &TransactionView) -> Result<Shannons, TxError> {
        let outputs = tx.outputs();
        let (seller, buyer) = match (outputs.len(), outputs.get(0), outputs.get(1)) {
            (2, Some(seller), Some(buyer)) => (seller, buyer),
            (n, _, _) => return Err(TxError::OutputsChanged(format!("{n} outputs, a commitment has 2"))),
        };
        let plain_to = |cell: &CellOutput, key: &PublicKey| cell.type_().is_none() && cell.lock() == scripts.sighash.script(&KeyId::of(key).0);
        if !plain_to(&seller, &self.seller) {
            return Err(TxError::OutputsChanged("output 0 is not the seller's plain cell".into()));
        }
        if !plain_to(&buyer, &self.buyer) {
            return Err(TxError::OutputsChanged("output 1 is not the buyer's plain cell".into()));
        }
        let (to_seller, to_buyer): (u64, u64) = (seller.capacity().unpack(), buyer.capacity().unpack());
        let capacity = self.funds.capacity().ok_or(TxError::Funds(tollway_core::ckb::SplitError::ExceedsChannel))?;
        let paid_out = to_seller.checked_add(to_buyer).filter(|sum| *sum <= capacity);
        match paid_out {
            Some(sum) if capacity - sum == self.funds.fee => {}
            Some(sum) => return Err(TxError::FeeChanged { expected: self.funds.fee, found: capacity - sum }),
            None => return Err(TxError::OutputsChanged("the outputs hold more than the channel cell".into())),
        }
        to_seller
            .checked_sub(self.funds.seller_cofund)
            .ok_or_else(|| TxError::OutputsChanged("the seller's output is below its co-funding".into()))
    }

    /// The buyer's signature from a half-signed witness (the seller's
    /// slot zero).
    fn buyer_signature(&self, tx: &TransactionView) -> Result<Signature, TxError> {
        let witnesses = tx.witnesses();
        let missing = || TxError::WrongSigner { role: "buyer" };
        if witnesses.len() != 1 {
            return Err(TxError::NotCanonical(format!("{} witnesses, a commitment has 1", witnesses.len())));
        }
        let witness = witnesses.get(0).ok_or_else(missing)?;
        let args = WitnessArgs::from_slice(&witness.raw_data()).map_err(|_| missing())?;
        let lock: Vec<u8> = args.lock().to_opt().map(|l| l.raw_data().to_vec()).ok_or_else(missing)?;
        let script = self.multisig().to_bytes();
        if lock.len() != self.multisig().witness_lock_len() || !lock.starts_with(&script) {
            return Err(missing());
        }
        if args.input_type().is_some() || args.output_type().is_some() || lock[FIRST_SIGNATURE + SIGNATURE_LEN..].iter().any(|b| *b != 0) {
            return Err(TxError::NotCanonical("the witness carries more than the buyer's signature".into()));
        }
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(&lock[FIRST_SIGNATURE..FIRST_SIGNATURE + SIGNATURE_LEN]);
        Ok(signature)
    }
}

/// `0x<tx hash>:<index>`.
pub fn out_point_text(point: &OutPoint) -> String {
    let index: u32 = point.index().unpack();
    format!("0x{}:{index}", hex::encode(point.tx_hash().raw_data()))
}

/// Reads `0x<tx hash>:<index>` (what [`out_point_text`] writes).
pub fn parse_out_point(text: &str) -> Option<OutPoint> {
    let (hash, index) = text.strip_prefix("0x")?.split_once(':')?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hash, &mut bytes).ok()?;
    Some(OutPoint::new(bytes.pack(), index.parse().ok()?))
}
