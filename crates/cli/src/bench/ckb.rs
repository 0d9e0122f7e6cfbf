//! `tollway bench ckb`: the CKB Spilman channel (docs/ckb.md) in figures.
//!
//! 1. **Commitments per second**: the buyer signing a commitment
//!    ([`ChannelTerms::commitment`], [`ChannelTerms::sign`],
//!    [`ChannelTerms::with_signatures`]) and the seller's full check of one
//!    ([`ChannelTerms::check_commitment`]: outputs decoded and compared, the
//!    canonical transaction rebuilt, the signature recovered), on one core,
//!    then the check on several threads. The commitments pay increasing
//!    cumulative amounts and are signed before the check is timed.
//! 2. **What a channel's whole life costs on chain** for a number of chunk
//!    payments: the funding and the settlement (or the refund), built by
//!    the crate's builders, signed with real keys and weighed at their
//!    signed size; beside it, paying every chunk with its own plain
//!    transfer, which a cell's 61 CKB minimum makes impossible for a chunk
//!    below 61 CKB.
//!
//! 3. **Receipts with commitments durably accepted per second**
//!    ([`ckb_accept`](super::ckb_accept)).
//!
//! No node is needed: the lock scripts are given the code hashes and
//! dep-group cell deps of a chain made from CKB's bundled specs, so every
//! transaction has the size it would have there, byte for byte.

use super::ckb_fixture::{chain_locks, commitment_fee, live_cell, plain_cell, size, Keys, EXPIRY_BLOCK};
use super::measure::pct_ms;
use ckb_types::bytes::Bytes;
use ckb_types::core::{Capacity, TransactionBuilder, TransactionView};
use ckb_types::packed::{CellInput, CellOutput};
use ckb_types::prelude::*;
use std::time::{Duration, Instant};
use tollway_chain::ckb::scripts::LockScripts;
use tollway_chain::ckb::signing::{placeholder_witness, sighash_placeholder};
use tollway_chain::ckb::spilman::{input_indices, sign_inputs, ChannelTerms, FundingPlan};
use tollway_core::channel::{KeyId, PayerKey};
use tollway_core::ckb::{fee_for_size, ChannelFunds, Shannons, Since, CKB, MIN_FEE_RATE};

/// What each side's input cell holds beyond what it puts in the channel,
/// so that each gets a change cell back.
const SPARE: Shannons = 100 * CKB;
/// Checks before the timed ones (caches, branch predictors, allocator).
const WARMUP: usize = 500;

/// What to run.
#[derive(clap::Args, Clone)]
pub struct CkbArgs {
    /// Buyer-signed commitments, paying 1, 2, … chunks, that are signed and
    /// then checked for the rates.
    #[arg(long, default_value_t = 20_000)]
    pub commitments: usize,
    /// Threads sharing the commitments for the aggregate check rate.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// The price of a chunk, shannons (100,000 = 0.001 CKB).
    #[arg(long, default_value_t = 100_000)]
    pub price: Shannons,
    /// The chunk counts of the on-chain cost rows.
    #[arg(long, value_delimiter = ',', default_values_t = vec![10u64, 1_000, 100_000])]
    pub chunks: Vec<u64>,
    /// Part 3: receipts with commitments durably accepted.
    #[command(flatten)]
    pub accept: super::ckb_accept::AcceptArgs,
}

/// The sum of the outputs of `tx`.
fn outputs_total(tx: &TransactionView) -> anyhow::Result<Shannons> {
    tx.outputs()
        .into_iter()
        .try_fold(0u64, |sum, o| sum.checked_add(o.capacity().unpack()))
        .ok_or_else(|| anyhow::anyhow!("outputs overflow"))
}

/// One signed transaction's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxCost {
    /// Its serialized size, bytes.
    pub bytes: u64,
    /// What it pays: its inputs less its outputs.
    pub fee: Shannons,
}

impl TxCost {
    /// The fee the node asks for this size at the minimum rate.
    pub fn fee_for_size(self) -> Option<Shannons> {
        fee_for_size(self.bytes, MIN_FEE_RATE)
    }
}

/// Several transactions' weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Total {
    /// Transactions.
    pub txs: u64,
    /// Serialized bytes.
    pub bytes: u64,
    /// Fees, shannons.
    pub fees: Shannons,
}

impl Total {
    /// The sum of `txs`.
    pub fn of(txs: &[TxCost]) -> Total {
        txs.iter().fold(Total::default(), |t, c| Total { txs: t.txs + 1, bytes: t.bytes + c.bytes, fees: t.fees + c.fee })
    }

    /// `n` times `tx`; `None` on overflow.
    pub fn times(tx: TxCost, n: u64) -> Option<Total> {
        Some(Total { txs: n, bytes: tx.bytes.checked_mul(n)?, fees: tx.fee.checked_mul(n)? })
    }
}

/// A channel's whole life for a number of chunk payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLife {
    /// Chunks paid.
    pub chunks: u64,
    /// What they pay the seller, shannons.
    pub paid: Shannons,
    /// The channel cell: the buyer's deposit and the seller's co-funding,
    /// held while the channel is open and all returned at its close.
    pub channel_cell: Shannons,
    /// The funding transaction.
    pub funding: TxCost,
    /// The commitment for all the chunks, with both signatures.
    pub settlement: TxCost,
    /// The refund, with both signatures.
    pub refund: TxCost,
}

impl ChannelLife {
    /// Funding and settlement.
    pub fn settled(&self) -> Total {
        Total::of(&[self.funding, self.settlement])
    }

    /// Funding and refund.
    pub fn refunded(&self) -> Total {
        Total::of(&[self.funding, self.refund])
    }
}

/// Builds, checks and signs the transactions of a channel that pays
/// `chunks` chunks of `price`: the buyer deposits exactly what they pay
/// plus its change cell's minimum and the closing fee, the seller co-funds
/// 61 CKB; each spends one cell and gets change back.
pub fn channel_life(scripts: &LockScripts, keys: &Keys, chunks: u64, price: Shannons) -> anyhow::Result<ChannelLife> {
    let paid = chunks.checked_mul(price).ok_or_else(|| anyhow::anyhow!("{chunks} chunks of {price} overflow"))?;
    let fee = commitment_fee(scripts, keys)?;
    let plain = plain_cell()?;
    let deposit = paid.checked_add(plain).and_then(|d| d.checked_add(fee)).ok_or_else(|| anyhow::anyhow!("deposit overflow"))?;
    let funds = ChannelFunds { buyer_deposit: deposit, seller_cofund: plain, fee }.validate()?;
    let buyer_cells = vec![live_cell(&format!("buyer {chunks}"), deposit + SPARE)];
    let seller_cells = vec![live_cell(&format!("seller {chunks}"), plain + SPARE)];
    let inputs_total = deposit + plain + 2 * SPARE;
    let plan = FundingPlan {
        buyer: keys.buyer.public(),
        seller: keys.seller.public(),
        funds,
        buyer_cells: buyer_cells.clone(),
        seller_cells: seller_cells.clone(),
        fee_rate: MIN_FEE_RATE,
    };
    let unsigned = plan.build(scripts)?;
    let cell = plan.check(scripts, &unsigned)?;
    let funding = sign_inputs(&unsigned, &input_indices(&unsigned, &seller_cells), &keys.seller);
    let funding = sign_inputs(&funding, &input_indices(&funding, &buyer_cells), &keys.buyer);
    anyhow::ensure!(funding.hash() == unsigned.hash(), "signing changed the funding transaction");
    anyhow::ensure!((funding.inputs().len(), funding.outputs().len()) == (2, 3), "the funding is not 2 inputs, 3 outputs");
    let funding = TxCost { bytes: size(&funding), fee: inputs_total - outputs_total(&funding)? };

    let terms = ChannelTerms { buyer: keys.buyer.public(), seller: keys.seller.public(), funds, expiry: Since::AbsoluteBlock(EXPIRY_BLOCK), cell };
    let channel_cell = funds.capacity().ok_or_else(|| anyhow::anyhow!("channel overflow"))?;

    let commitment = terms.commitment(scripts, paid)?;
    let half = terms.with_signatures(&commitment, Some(&terms.sign(&commitment, &keys.buyer)), None);
    let checked = terms.check_commitment(scripts, &half)?;
    anyhow::ensure!(checked.cumulative == paid, "the commitment pays {}, not {paid}", checked.cumulative);
    let settlement = terms.with_signatures(&half, Some(&checked.buyer_signature), Some(&terms.sign(&half, &keys.seller)));
    let to_seller: u64 = settlement.outputs().get(0).map(|o| o.capacity().unpack()).unwrap_or_default();
    anyhow::ensure!(to_seller == plain + paid, "the settlement pays the seller {to_seller}, not co-funding + {paid}");
    let settlement = TxCost { bytes: size(&settlement), fee: channel_cell - outputs_total(&settlement)? };

    let refund = terms.refund(scripts)?;
    let presigned = terms.sign(&refund, &keys.seller);
    anyhow::ensure!(terms.signed_by(&refund, &presigned, &terms.seller), "the seller's pre-signature does not check");
    let refund = terms.with_signatures(&refund, Some(&terms.sign(&refund, &keys.buyer)), Some(&presigned));
    let refund = TxCost { bytes: size(&refund), fee: channel_cell - outputs_total(&refund)? };
    Ok(ChannelLife { chunks, paid, channel_cell, funding, settlement, refund })
}

/// A plain sighash transfer paying `amount` to `payee` from one cell of
/// `payer` (1 input; outputs: the payee's cell, the payer's change), its
/// fee set for its signed size at the minimum rate, signed.
pub fn transfer(scripts: &LockScripts, payer: &PayerKey, payee: &PayerKey, amount: Shannons) -> anyhow::Result<TransactionView> {
    let input = live_cell("payer", 10_000 * CKB);
    let lock = |key: &PayerKey| scripts.sighash.script(&key.id().0);
    let build = |fee: Shannons| -> anyhow::Result<TransactionView> {
        let change = input.capacity.checked_sub(amount).and_then(|c| c.checked_sub(fee)).ok_or_else(|| anyhow::anyhow!("the payer's cell is too small"))?;
        Ok(TransactionBuilder::default()
            .cell_deps(scripts.sighash.cell_deps.clone())
            .input(CellInput::new(input.out_point.clone(), 0))
            .output(CellOutput::new_builder().capacity(amount).lock(lock(payee)).build())
            .output_data(Bytes::new().pack())
            .output(CellOutput::new_builder().capacity(change).lock(lock(payer)).build())
            .output_data(Bytes::new().pack())
            .witness(placeholder_witness(sighash_placeholder()).as_bytes().pack())
            .build())
    };
    let fee = fee_for_size(size(&build(0)?), MIN_FEE_RATE).ok_or_else(|| anyhow::anyhow!("fee overflow"))?;
    Ok(sign_inputs(&build(fee)?, &[0], payer))
}

/// Whether some output of `tx` holds less than its own bytes need (the
/// node refuses such a transaction), by ckb-types' own rule.
fn lacks_capacity(tx: &TransactionView) -> anyhow::Result<bool> {
    for output in tx.outputs() {
        if output.is_lack_of_capacity(Capacity::zero()).map_err(|e| anyhow::anyhow!("{e}"))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Paying each chunk with its own plain transfer of the least a cell may
/// hold.
pub struct OnChain {
    /// One transfer of 61 CKB (payee + change), signed.
    pub transfer: TxCost,
    /// What each chunk must then send: 61 CKB.
    pub per_chunk: Shannons,
}

/// The transfer of the least a plain cell may hold, after checking that
/// one of `price` would be refused.
pub fn on_chain(scripts: &LockScripts, keys: &Keys, price: Shannons) -> anyhow::Result<OnChain> {
    let plain = plain_cell()?;
    if price < plain {
        let tiny = transfer(scripts, &keys.buyer, &keys.seller, price)?;
        anyhow::ensure!(lacks_capacity(&tiny)?, "a transfer of {price} shannons should lack capacity");
    }
    let per_chunk = price.max(plain);
    let tx = transfer(scripts, &keys.buyer, &keys.seller, per_chunk)?;
    anyhow::ensure!(!lacks_capacity(&tx)?, "a transfer of {per_chunk} shannons lacks capacity");
    let paid = 10_000 * CKB - outputs_total(&tx)?;
    Ok(OnChain { transfer: TxCost { bytes: size(&tx), fee: paid }, per_chunk })
}

/// `1234567` → `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<_> = digits.as_bytes().rchunks(3).rev().map(String::from_utf8_lossy).collect();
    groups.join(",")
}

/// Shannons as CKB, exact: `100000` → `0.001 CKB`.
fn ckb(shannons: Shannons) -> String {
    let fraction = format!("{:08}", shannons % CKB);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{} CKB", grouped(shannons / CKB))
    } else {
        format!("{}.{fraction} CKB", grouped(shannons / CKB))
    }
}

/// A rate in thousands-grouped operations per second.
fn per_second(ops: usize, took: Duration) -> String {
    grouped((ops as f64 / took.as_secs_f64().max(1e-9)).round() as u64)
}

/// The p50 and p99 of a sample (sorted here), microseconds.
fn percentiles_us(sample: &mut [Duration]) -> (f64, f64) {
    sample.sort();
    (pct_ms(sample, 0.50) * 1000.0, pct_ms(sample, 0.99) * 1000.0)
}

/// Part 1: the buyer's signing and the seller's check, per second.
fn rates(args: &CkbArgs, scripts: &LockScripts, keys: &Keys) -> anyhow::Result<()> {
    let n = args.commitments;
    anyhow::ensure!(n > 0 && args.threads > 0, "commitments and threads must be above 0");
    let fee = commitment_fee(scripts, keys)?;
    let most = u64::try_from(n)?.checked_mul(args.price).ok_or_else(|| anyhow::anyhow!("{n} chunks of {} overflow", args.price))?;
    let funds = ChannelFunds { buyer_deposit: most + plain_cell()? + fee, seller_cofund: plain_cell()?, fee }.validate()?;
    let terms = ChannelTerms {
        buyer: keys.buyer.public(),
        seller: keys.seller.public(),
        funds,
        expiry: Since::AbsoluteBlock(EXPIRY_BLOCK),
        cell: live_cell("rates channel", 0).out_point,
    };
    let amount = |i: usize| (i as u64 + 1) * args.price;

    let mut signed = Vec::with_capacity(n);
    let mut sign_lat = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let tx = terms.commitment(scripts, amount(i))?;
        let signature = terms.sign(&tx, &keys.buyer);
        signed.push(terms.with_signatures(&tx, Some(&signature), None));
        sign_lat.push(t.elapsed());
    }
    let signing = start.elapsed();

    for half in signed.iter().take(WARMUP) {
        terms.check_commitment(scripts, half)?;
    }
    let mut check_lat = Vec::with_capacity(n);
    let start = Instant::now();
    for (i, half) in signed.iter().enumerate() {
        let t = Instant::now();
        let checked = terms.check_commitment(scripts, half)?;
        check_lat.push(t.elapsed());
        anyhow::ensure!(checked.cumulative == amount(i), "commitment {i} pays {}, not {}", checked.cumulative, amount(i));
    }
    let checking = start.elapsed();

    let per_thread = n.div_ceil(args.threads);
    let shared = &terms;
    let start = Instant::now();
    let failures: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = signed
            .chunks(per_thread)
            .map(|part| scope.spawn(move || part.iter().filter(|half| shared.check_commitment(scripts, half).is_err()).count()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(usize::MAX)).fold(0, usize::saturating_add)
    });
    let parallel = start.elapsed();
    anyhow::ensure!(failures == 0, "{failures} commitments failed the check on {} threads", args.threads);

    let (sign50, sign99) = percentiles_us(&mut sign_lat);
    let (check50, check99) = percentiles_us(&mut check_lat);
    println!(
        "sign (one core): {n} commitments (commitment + sign + with_signatures), cumulative {} to {} in {:.3} s: {}/s, p50 {sign50:.1} us, p99 {sign99:.1} us",
        ckb(amount(0)),
        ckb(most),
        signing.as_secs_f64(),
        per_second(n, signing),
    );
    println!(
        "check (one core): {n} check_commitment in {:.3} s: {}/s, p50 {check50:.1} us, p99 {check99:.1} us, all accepted with the right amount",
        checking.as_secs_f64(),
        per_second(n, checking),
    );
    println!(
        "check ({} threads): {n} check_commitment in {:.3} s: {}/s aggregate, 0 refused",
        args.threads,
        parallel.as_secs_f64(),
        per_second(n, parallel),
    );
    println!();
    println!("| operation | commitments | threads | per second | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    println!("| buyer signs (`commitment` + `sign` + `with_signatures`) | {} | 1 | {} | {sign50:.1} µs | {sign99:.1} µs |", grouped(n as u64), per_second(n, signing));
    println!("| seller checks (`check_commitment`) | {} | 1 | {} | {check50:.1} µs | {check99:.1} µs |", grouped(n as u64), per_second(n, checking));
    println!("| seller checks (`check_commitment`) | {} | {} | {} | | |", grouped(n as u64), args.threads, per_second(n, parallel));
    println!();
    Ok(())
}

/// `txs, bytes, fee` of a total, for a table cell.
fn cell(t: Total) -> String {
    format!("{} tx, {} B, {} shannons ({})", grouped(t.txs), grouped(t.bytes), grouped(t.fees), ckb(t.fees))
}

/// Part 2 and 3: the table of on-chain costs.
fn costs(args: &CkbArgs, scripts: &LockScripts, keys: &Keys) -> anyhow::Result<()> {
    let lives = args.chunks.iter().map(|&n| channel_life(scripts, keys, n, args.price)).collect::<anyhow::Result<Vec<_>>>()?;
    let chain = on_chain(scripts, keys, args.price)?;
    let Some(first) = lives.first() else { anyhow::bail!("no chunk counts given") };
    for life in &lives {
        for (what, tx) in [("funding", life.funding), ("settlement", life.settlement), ("refund", life.refund)] {
            anyhow::ensure!(Some(tx.fee) == tx.fee_for_size(), "{} chunks: the {what} pays {} for {} bytes", life.chunks, tx.fee, tx.bytes);
        }
    }
    anyhow::ensure!(Some(chain.transfer.fee) == chain.transfer.fee_for_size(), "the transfer's fee is not fee_for_size");
    let plain = plain_cell()?;

    println!(
        "on chain: fee rate {MIN_FEE_RATE} shannons per 1,000 bytes (fee_for_size: bytes + 4, rounded up); price {} ({} shannons) per chunk; a plain cell needs {}",
        ckb(args.price),
        grouped(args.price),
        ckb(plain),
    );
    println!();
    println!("| transaction | inputs → outputs | signed bytes | fee |");
    println!("| --- | --- | ---: | ---: |");
    let row = |what: &str, shape: &str, tx: TxCost| println!("| {what} | {shape} | {} | {} shannons |", grouped(tx.bytes), grouped(tx.fee));
    row("funding (buyer's cell + seller's co-funding cell)", "2 → 3 (channel cell, buyer change, seller change)", first.funding);
    row("settlement (the commitment, both signatures)", "1 → 2 (seller, buyer)", first.settlement);
    row("refund (after expiry, both signatures)", "1 → 2 (seller, buyer)", first.refund);
    row(&format!("plain sighash transfer of {}", ckb(chain.per_chunk)), "1 → 2 (payee, change)", chain.transfer);
    println!();
    println!("| chunks | paid | channel cell (returned at close) | channel: funding + settlement | refund path: funding + refund | each chunk on chain: one transfer per chunk | capacity sent to the payee instead |");
    println!("| ---: | ---: | ---: | --- | --- | --- | ---: |");
    for life in &lives {
        let each = Total::times(chain.transfer, life.chunks).ok_or_else(|| anyhow::anyhow!("overflow"))?;
        let sent = chain.per_chunk.checked_mul(life.chunks).ok_or_else(|| anyhow::anyhow!("overflow"))?;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            grouped(life.chunks),
            ckb(life.paid),
            ckb(life.channel_cell),
            cell(life.settled()),
            cell(life.refunded()),
            cell(each),
            ckb(sent),
        );
    }
    println!();
    let same = lives.iter().all(|l| l.settled() == first.settled() && l.refunded() == first.refunded());
    println!(
        "channel life: {} on chain for every chunk count ({}); fees {} = {} (funding) + {} (settlement)",
        cell(first.settled()),
        if same { "identical bytes and fees in every row" } else { "ROWS DIFFER" },
        grouped(first.settled().fees),
        grouped(first.funding.fee),
        grouped(first.settlement.fee),
    );
    if args.price < plain {
        println!(
            "each chunk on chain: impossible at {} a chunk: every output needs at least {} (a plain cell's occupied capacity), so a transfer of {} is refused (checked: is_lack_of_capacity); paying a chunk on chain means sending {} into a new cell for the payee, {}x the price",
            ckb(args.price),
            ckb(plain),
            ckb(args.price),
            ckb(chain.per_chunk),
            grouped(chain.per_chunk / args.price.max(1)),
        );
    }
    anyhow::ensure!(same, "the channel's on-chain cost differs between chunk counts");
    Ok(())
}

/// Runs the benchmark (blocking: call it off the async runtime).
pub fn run(args: &CkbArgs) -> anyhow::Result<()> {
    let scripts = chain_locks()?;
    let keys = Keys::test_accounts();
    println!(
        "ckb: buyer = test account 1 ({}), seller = test account 2 ({}); locks: sighash and 2-of-2 multisig by type hash, one dep-group cell dep each",
        KeyId::of(&keys.buyer.public()),
        KeyId::of(&keys.seller.public()),
    );
    rates(args, &scripts, &keys)?;
    costs(args, &scripts, &keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_costs_the_same_on_chain_whatever_it_pays() {
        let (scripts, keys) = (chain_locks().expect("locks"), Keys::test_accounts());
        let ten = channel_life(&scripts, &keys, 10, 100_000).expect("10 chunks");
        let many = channel_life(&scripts, &keys, 100_000, 100_000).expect("100,000 chunks");
        assert_eq!(many.paid, 100 * CKB);
        assert_eq!((ten.settled(), ten.refunded()), (many.settled(), many.refunded()), "bytes and fees do not grow with the chunks");
        for life in [&ten, &many] {
            let settled = life.settled();
            assert_eq!(settled.txs, 2);
            let by_size: u64 = [life.funding, life.settlement].iter().map(|tx| tx.fee_for_size().expect("fee")).sum();
            assert_eq!(settled.fees, by_size, "the fees are fee_for_size of each signed transaction");
            assert_eq!(life.refund.fee, life.refund.fee_for_size().expect("fee"));
            assert_eq!(life.settlement.bytes, life.refund.bytes, "the refund is the commitment for 0 with a since");
        }
    }

    #[test]
    fn a_chunk_below_a_cell_cannot_be_paid_on_chain() {
        let (scripts, keys) = (chain_locks().expect("locks"), Keys::test_accounts());
        let tiny = transfer(&scripts, &keys.buyer, &keys.seller, 100_000).expect("builds");
        assert!(lacks_capacity(&tiny).expect("capacity"), "0.001 CKB cannot make a cell");
        let chain = on_chain(&scripts, &keys, 100_000).expect("61 CKB transfer");
        assert_eq!(chain.per_chunk, 61 * CKB);
        assert_eq!(Some(chain.transfer.fee), chain.transfer.fee_for_size());
    }

    #[test]
    fn amounts_print_exactly() {
        assert_eq!(ckb(100_000), "0.001 CKB");
        assert_eq!(ckb(6_100_000 * CKB), "6,100,000 CKB");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
    }
}
