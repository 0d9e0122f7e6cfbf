//! Part 3 of `tollway bench ckb`: receipts on CKB channels checked and
//! durably accepted per second, through the payee's own code path: the
//! SubRAV's signature, the commitment's full check
//! ([`check_receipt_commitment`]), then
//! [`Channels::accept_with`](tollway_server::channels::Channels::accept_with)
//! over the group-commit receipt writer, which writes the receipt and its
//! commitment in one transaction. Receipts and commitments are signed
//! before the clock starts (the payer's work). Ends with a check that every
//! channel kept its last receipt and its last commitment.

use super::measure::{api, backend, random_key, summary};
use super::ckb_fixture::{chain_locks, commitment_fee, Keys};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollway_chain::ckb::spilman::{out_point_text, ChannelTerms};
use tollway_chain::ckb::LockScripts;
use tollway_core::channel::wire::Commitment;
use tollway_core::channel::{ChannelId, PayerKey, SignedSubRav, SubRav, SUBRAV_VERSION};
use tollway_core::ckb::{ChannelFunds, SpilmanState, Since, CKB};
use tollway_core::{Amount, Asset};
use tollway_server::channels::Channels;
use tollway_server::ckb::check_receipt_commitment;
use tollway_server::config::CkbConfig;
use tollway_server::ops;
use tollway_store::channels::NewChannel;
use tollway_store::testing::fresh_database_url;
use tollway_store::{NewCkbChannel, ReceiptWriter, Store, WriterConfig};

/// What to run.
#[derive(clap::Args, Clone)]
pub struct AcceptArgs {
    /// `sqlite` (a new temp file) or `postgres` (a new database on TOLLWAY_TEST_PG_URL).
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// CKB channels, each with its own user and buyer key.
    #[arg(long, default_value_t = 200)]
    pub channels: usize,
    /// Receipts per channel, each paying one more chunk.
    #[arg(long, default_value_t = 100)]
    pub receipts: usize,
    /// Concurrent submitters, each owning every `concurrency`-th channel.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

/// One buyer: its channel's terms and what it signed ahead.
struct Buyer {
    terms: ChannelTerms,
    key: PayerKey,
    channel: ChannelId,
    paid: Vec<(SignedSubRav, Commitment)>,
}

/// Opens `count` active CKB channels through the store (as the server's
/// offer, funding and jobs would leave them) and signs their receipts.
async fn buyers(store: &Store, scripts: &LockScripts, args: &AcceptArgs, price: u64) -> anyhow::Result<Vec<Buyer>> {
    let fee = commitment_fee(scripts, &Keys::test_accounts())?;
    let seller = Keys::test_accounts().seller;
    let deposit = price * args.receipts as u64 + 61 * CKB + fee;
    let funds = ChannelFunds { buyer_deposit: deposit, seller_cofund: 61 * CKB, fee }.validate()?;
    let chain_id = CkbConfig::default().chain_id;
    let opened: Vec<anyhow::Result<Buyer>> = futures::stream::iter(0..args.channels)
        .map(|i| {
            let (store, seller_key) = (store.clone(), seller.public());
            async move {
                let (user, _) = ops::create_user(&store, &format!("buyer{i}"), false).await.map_err(api)?;
                let key: PayerKey = random_key()?;
                let channel = ChannelId(rand::random());
                let cell = ckb_types::packed::OutPoint::new(ckb_types::prelude::Pack::pack(&channel.0), 0);
                let new = NewCkbChannel {
                    channel: NewChannel { id: channel, user_id: user.id, asset: Asset::CKB, chain_id, epoch: 1, collateral: Amount::new(u128::from(funds.max_payment())), key: key.public() },
                    seller_key,
                    buyer_deposit: funds.buyer_deposit,
                    seller_cofund: funds.seller_cofund,
                    fee: funds.fee,
                    expiry_block: 1_000_000,
                    seller_cells: Vec::new(),
                    pay_until: i64::MAX,
                };
                store.open_ckb_channel(&new).await?;
                store.set_ckb_funding(&channel, &[0], channel.0, &out_point_text(&cell), [0; 65]).await?;
                store.set_ckb_state(&channel, SpilmanState::RefundSigned, SpilmanState::Funding, None).await?;
                store.set_ckb_state(&channel, SpilmanState::Funding, SpilmanState::Active, None).await?;
                let terms = ChannelTerms { buyer: key.public(), seller: seller_key, funds, expiry: Since::AbsoluteBlock(1_000_000), cell };
                Ok(Buyer { terms, key, channel, paid: Vec::new() })
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut buyers = opened.into_iter().collect::<anyhow::Result<Vec<Buyer>>>()?;
    for b in &mut buyers {
        let key = &b.key;
        for n in 1..=args.receipts as u64 {
            let rav = SubRav { version: SUBRAV_VERSION, chain_id, channel_id: b.channel, epoch: 1, sub_channel: key.id(), nonce: n, accumulated: Amount::new(u128::from(n * price)) };
            let tx = b.terms.commitment(scripts, n * price)?;
            let half = b.terms.with_signatures(&tx, Some(&b.terms.sign(&tx, key)), None);
            b.paid.push((rav.sign(key), Commitment(ckb_types::prelude::Entity::as_slice(&half.data()).to_vec())));
        }
    }
    Ok(buyers)
}

/// Runs part 3.
pub async fn run(args: &AcceptArgs, price: u64) -> anyhow::Result<()> {
    let url = fresh_database_url(backend(&args.backend)?).await?;
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let scripts = Arc::new(chain_locks()?);
    let buyers = buyers(&store, &scripts, args, price).await?;
    let writer = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let channels = Arc::new(Channels::new(store.clone(), writer.clone()));
    let buyers: Vec<Arc<Buyer>> = buyers.into_iter().map(Arc::new).collect();
    // Warm the channel cache (the first receipt of a channel loads it).
    for b in &buyers {
        channels.pending(&b.channel, &b.key.id()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let total = buyers.len() * args.receipts;
    let concurrency = args.concurrency.clamp(1, buyers.len().max(1));
    let start = Instant::now();
    let lanes: Vec<anyhow::Result<Vec<Duration>>> = futures::stream::iter(0..concurrency)
        .map(|lane| {
            let (buyers, channels, scripts) = (buyers.clone(), channels.clone(), scripts.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for b in buyers.iter().skip(lane).step_by(concurrency) {
                    for (receipt, commitment) in &b.paid {
                        let t = Instant::now();
                        let kept = check_receipt_commitment(&b.terms, &scripts, receipt, Some(commitment)).map_err(|e| anyhow::anyhow!("{e}"))?;
                        let acceptance = channels.accept_with(receipt, Some(kept)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                        anyhow::ensure!(!acceptance.replay && acceptance.nonce == receipt.rav.nonce, "receipt {} not accepted as new", receipt.rav.nonce);
                        latencies.push(t.elapsed());
                    }
                }
                Ok(latencies)
            })
        })
        .buffer_unordered(concurrency)
        .map(|joined| joined.map_err(anyhow::Error::from).and_then(|r| r))
        .collect()
        .await;
    let took = start.elapsed();
    let mut latencies = Vec::with_capacity(total);
    for lane in lanes {
        latencies.extend(lane?);
    }
    let stats = writer.stats();
    for b in &buyers {
        let stored = store.ckb_channel(&b.channel).await?.ok_or_else(|| anyhow::anyhow!("channel {} vanished", b.channel))?;
        let (last, commitment) = b.paid.last().ok_or_else(|| anyhow::anyhow!("no receipts"))?;
        anyhow::ensure!(u128::from(stored.latest_cumulative) == last.rav.accumulated.units(), "channel {} kept {}", b.channel, stored.latest_cumulative);
        anyhow::ensure!(stored.latest_commitment.as_deref() == Some(&commitment.0[..]), "channel {} kept another commitment", b.channel);
    }
    println!(
        "accept ({}, {} channels x {} receipts, {concurrency} submitters): {total} receipts with commitments checked and durably accepted in {:.3} s: {:.0}/s; {} commits ({:.1} receipts each); latency {}; every channel kept its last receipt and commitment",
        args.backend,
        buyers.len(),
        args.receipts,
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64().max(1e-9),
        stats.batches,
        stats.commands as f64 / stats.batches.max(1) as f64,
        summary(&mut latencies),
    );
    Ok(())
}
