//! What the buyer keeps of a CKB channel, and the commitment each of its
//! receipts carries: pure functions of the saved terms (never of what the
//! payee sends), so the signer can build them without the network.

use crate::error::PayerError;
use serde::{Deserialize, Serialize};
use tollway_chain::ckb::spilman::{parse_out_point, ChannelTerms, TxError};
use tollway_chain::ckb::LockScripts;
use tollway_core::channel::wire::{parse_public_key, Commitment};
use tollway_core::channel::{PayerKey, SignedSubRav};
use tollway_core::ckb::{ChannelFunds, Since};
use ckb_types::prelude::*;

/// What the buyer keeps of a CKB channel: everything to rebuild every
/// commitment and the refund without the seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CkbRecord {
    /// The buyer's node (JSON-RPC with the indexer).
    pub rpc_url: String,
    /// The chain's system locks, as read from that node's genesis.
    pub scripts: LockScripts,
    /// The seller's public key, `0x` hex.
    pub seller_key: String,
    /// What the buyer put in, shannons.
    pub buyer_deposit: u64,
    /// What the seller put in, shannons.
    pub seller_cofund: u64,
    /// The fee of a commitment or the refund, shannons.
    pub fee: u64,
    /// The block from which the refund is valid.
    pub expiry_block: u64,
    /// The channel cell, `0x<tx hash>:<index>`.
    pub cell: String,
    /// The seller's signature over the refund, `0x` hex.
    pub refund_seller_signature: String,
    /// The refund's hash once sent.
    #[serde(default)]
    pub refund_tx_hash: Option<String>,
}

impl CkbRecord {
    /// The commitment a receipt on this channel carries: the buyer-signed
    /// commitment paying the receipt's total, built from the saved terms.
    pub fn commitment(&self, buyer: &PayerKey, receipt: &SignedSubRav) -> Result<Commitment, PayerError> {
        let terms = self.terms(buyer)?;
        let total = u64::try_from(receipt.rav.accumulated.units()).map_err(|_| TxError::Funds(tollway_core::ckb::SplitError::ExceedsChannel))?;
        let tx = terms.commitment(&self.scripts, total)?;
        let half = terms.with_signatures(&tx, Some(&terms.sign(&tx, buyer)), None);
        Ok(Commitment(half.data().as_slice().to_vec()))
    }

    /// The channel's terms, with the buyer's key.
    pub fn terms(&self, buyer: &PayerKey) -> Result<ChannelTerms, PayerError> {
        let seller = parse_public_key(&self.seller_key).map_err(PayerError::Protocol)?;
        let cell = parse_out_point(&self.cell).ok_or_else(|| PayerError::Protocol(format!("stored cell {}", self.cell)))?;
        let funds = ChannelFunds { buyer_deposit: self.buyer_deposit, seller_cofund: self.seller_cofund, fee: self.fee };
        Ok(ChannelTerms { buyer: buyer.public(), seller, funds, expiry: Since::AbsoluteBlock(self.expiry_block), cell })
    }
}
