//! `networks` and `tokens`: written from the configuration at start,
//! listed by the API.

use crate::transaction::{begin_write, finish};
use crate::{now_ms, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;
use tollway_core::evm::Address;

/// A network payments are accepted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRow {
    /// Its id in the API (`bsc-local`, `bsc`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// JSON-RPC endpoints, in order of preference (the first is `rpc_url`).
    pub rpc_urls: Vec<String>,
    /// A WebSocket endpoint, if any (a hint to look sooner).
    pub websocket_url: Option<String>,
    /// Where buyers pay.
    pub deposit_address: Address,
    /// Blocks a transfer needs, its own included, before it counts.
    pub confirmations: u64,
    /// Whether new sessions may use it.
    pub is_active: bool,
}

/// A token accepted on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// The network's id.
    pub network_id: String,
    /// `USDT`, `USDC`, `BUSD`.
    pub symbol: String,
    /// Its name.
    pub name: String,
    /// The ERC-20 contract.
    pub contract_address: Address,
    /// Its decimals (checked against the contract at start).
    pub decimals: u8,
    /// Whether new sessions may use it.
    pub is_active: bool,
}

pub(crate) fn parse_address(text: &str, what: &str) -> Result<Address, StoreError> {
    text.parse().map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn network_from(row: &AnyRow) -> Result<NetworkRow, StoreError> {
    let urls: String = row.try_get("rpc_urls")?;
    Ok(NetworkRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        chain_id: u64::try_from(row.try_get::<i64, _>("chain_id")?).map_err(|_| StoreError::Corrupt("networks.chain_id".into()))?,
        rpc_urls: serde_json::from_str(&urls).map_err(|e| StoreError::Corrupt(format!("networks.rpc_urls: {e}")))?,
        websocket_url: row.try_get("websocket_url")?,
        deposit_address: parse_address(&row.try_get::<String, _>("deposit_address")?, "networks.deposit_address")?,
        confirmations: u64::try_from(row.try_get::<i64, _>("confirmations")?).unwrap_or(0),
        is_active: row.try_get::<i64, _>("is_active")? != 0,
    })
}

fn token_from(row: &AnyRow) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        network_id: row.try_get("network_id")?,
        symbol: row.try_get("symbol")?,
        name: row.try_get("name")?,
        contract_address: parse_address(&row.try_get::<String, _>("contract_address")?, "tokens.contract_address")?,
        decimals: u8::try_from(row.try_get::<i64, _>("decimals")?).map_err(|_| StoreError::Corrupt("tokens.decimals".into()))?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
    })
}

fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what.into()))
}

impl Store {
    /// Makes `networks` and `tokens` what the configuration says: each
    /// given network and token is written (active), every other one is
    /// kept but marked inactive (old sessions still name it).
    pub async fn sync_networks(&self, networks: &[(NetworkRow, Vec<TokenRow>)]) -> Result<(), StoreError> {
        let mut conn = begin_write(self).await?;
        let result = async {
            let now = now_ms();
            sqlx::query("UPDATE networks SET is_active = 0").execute(&mut *conn).await?;
            sqlx::query("UPDATE tokens SET is_active = 0").execute(&mut *conn).await?;
            for (n, tokens) in networks {
                let urls = serde_json::to_string(&n.rpc_urls).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO networks (id, name, chain_id, rpc_url, rpc_urls, websocket_url, deposit_address, confirmations, is_active, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET name = $2, chain_id = $3, rpc_url = $4, \
                     rpc_urls = $5, websocket_url = $6, deposit_address = $7, confirmations = $8, is_active = $9, updated_at = $10",
                )
                .bind(&n.id)
                .bind(&n.name)
                .bind(to_i64(n.chain_id, "chain_id")?)
                .bind(n.rpc_urls.first().cloned().unwrap_or_default())
                .bind(urls)
                .bind(&n.websocket_url)
                .bind(n.deposit_address.to_string())
                .bind(to_i64(n.confirmations, "confirmations")?)
                .bind(i64::from(n.is_active))
                .bind(now)
                .execute(&mut *conn)
                .await?;
                for t in tokens {
                    sqlx::query(
                        "INSERT INTO tokens (network_id, symbol, name, contract_address, decimals, is_active) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (network_id, symbol) DO UPDATE SET name = $3, contract_address = $4, decimals = $5, is_active = $6",
                    )
                    .bind(&n.id)
                    .bind(&t.symbol)
                    .bind(&t.name)
                    .bind(t.contract_address.to_string())
                    .bind(i64::from(t.decimals))
                    .bind(i64::from(t.is_active))
                    .execute(&mut *conn)
                    .await?;
                }
            }
            Ok(())
        }
        .await;
        finish(conn, result).await
    }

    /// Every network, by id.
    pub async fn networks(&self) -> Result<Vec<NetworkRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM networks ORDER BY id").fetch_all(self.pool()).await?;
        rows.iter().map(network_from).collect()
    }

    /// Every token, by network and symbol.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM tokens ORDER BY network_id, symbol").fetch_all(self.pool()).await?;
        rows.iter().map(token_from).collect()
    }
}
