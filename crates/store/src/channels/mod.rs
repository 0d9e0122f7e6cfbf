//! Payment channels on the ledger rail (docs/channels.md): the channels and
//! sub-channels the payee tracks, and the ledger side of their collateral.
//! Opening moves the deposit from the payer's wallet into the channel's
//! escrow account ([`AccountId::channel_escrow`]); claims pay the latest
//! signed receipts out of escrow into revenue; closing claims what is left
//! owed and returns the rest of the escrow to the wallet. Each of these is
//! one database transaction. Accepted receipts are written by
//! [`ReceiptWriter`](crate::ReceiptWriter), many per transaction.
//!
//! CKB-backed channels ([`crate::ckb_channels`]) have rows here too, but no
//! escrow: claims skip them and closing them here is `ckb_channel`.
//!
//! Tables (migration 0003): `channels` and `sub_channels`. Ids, keys and
//! receipts are `0x` hex as on the wire; amounts, chain ids and epochs
//! decimal TEXT; nonces decimal TEXT zero-padded to 20 digits, so that text
//! order is numeric order and SQL can compare them.
//!
//! [`AccountId::channel_escrow`]: tollway_core::ledger::AccountId::channel_escrow

mod held;
mod lifecycle;
mod rows;
mod settle;

pub use held::HeldAnswer;
use secp256k1::PublicKey;
use std::collections::BTreeMap;
use tollway_core::channel::{Channel, ChannelId, KeyId, SignedSubRav, SubChannel, SubRav};
use tollway_core::{Amount, Asset};

pub(crate) use rows::{hex_of, insert_sub_channel, nonce_text};

/// A channel to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// Its id (random on the ledger rail).
    pub id: ChannelId,
    /// The payer: the user whose wallet funds it.
    pub user_id: i64,
    /// The asset of the collateral.
    pub asset: Asset,
    /// The chain id receipts must carry.
    pub chain_id: u64,
    /// The epoch receipts must carry.
    pub epoch: u64,
    /// The deposit moved from the wallet into escrow.
    pub collateral: Amount,
    /// The first sub-channel's key.
    pub key: PublicKey,
}

/// A sub-channel as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubChannel {
    /// Its id: the key's blake160.
    pub id: KeyId,
    /// The key that signs its receipts.
    pub key: PublicKey,
    /// Nonce of the latest accepted receipt (0: none yet).
    pub nonce: u64,
    /// Total of the latest accepted receipt.
    pub accumulated: Amount,
    /// What claims have paid out of escrow for it so far.
    pub claimed: Amount,
    /// The latest accepted signed receipt.
    pub latest: Option<SignedSubRav>,
    /// The latest proposal not yet signed.
    pub pending: Option<SubRav>,
}

/// A channel and its sub-channels as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannel {
    /// Its id.
    pub id: ChannelId,
    /// The payer.
    pub user_id: i64,
    /// The asset of the collateral.
    pub asset: Asset,
    /// The chain id receipts carry.
    pub chain_id: u64,
    /// The epoch receipts carry.
    pub epoch: u64,
    /// The deposit.
    pub collateral: Amount,
    /// False once closed.
    pub open: bool,
    /// When it was opened (Unix ms).
    pub created_at: i64,
    /// When it was closed (Unix ms).
    pub closed_at: Option<i64>,
    /// What closing returned to the wallet.
    pub refunded: Amount,
    /// Its sub-channels, by id.
    pub subs: Vec<StoredSubChannel>,
}

impl StoredChannel {
    /// The channel as the pure acceptance rules see it (pending proposals
    /// included).
    pub fn to_core(&self) -> Channel {
        let subs = self
            .subs
            .iter()
            .map(|s| (s.id, SubChannel { key: s.key, nonce: s.nonce, accumulated: s.accumulated, pending: s.pending }))
            .collect::<BTreeMap<_, _>>();
        Channel { chain_id: self.chain_id, id: self.id, epoch: self.epoch, collateral: self.collateral, open: self.open, subs }
    }

    /// Everything accepted on the channel: the sum of the sub-channels'
    /// latest receipts.
    pub fn owed(&self) -> Amount {
        sum(self.subs.iter().map(|s| s.accumulated))
    }

    /// Everything claims have paid out of escrow so far.
    pub fn claimed(&self) -> Amount {
        sum(self.subs.iter().map(|s| s.claimed))
    }
}

fn sum(amounts: impl Iterator<Item = Amount>) -> Amount {
    amounts.fold(Amount::ZERO, |total, a| total.checked_add(a).unwrap_or(Amount::MAX))
}

/// Which channels a claim run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// These channels only; `None` for every channel with anything
    /// accepted and not yet claimed.
    pub channels: Option<Vec<ChannelId>>,
    /// Skip channels with less than this unclaimed (zero claims all).
    pub min_unclaimed: Amount,
}

/// What a claim run paid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimReport {
    /// Sub-channels claimed.
    pub sub_channels: usize,
    /// Total moved from escrow to revenue.
    pub amount: Amount,
}
