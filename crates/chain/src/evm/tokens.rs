//! The devnet's fixed parts: anvil's default accounts, the three test
//! tokens and their committed build (`contracts/TollwayToken.json`), and
//! making sure the tokens exist at their deterministic addresses.

use super::types::{to_alloy_address, to_core_address};
use super::EvmError;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Bytes, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolConstructor;
use std::time::Duration;
use tollway_core::evm::Address;

mod abi {
    alloy::sol! {
        /// The parts of contracts/TollwayToken.sol the devnet calls.
        contract TollwayToken {
            constructor(string name_, string symbol_, uint256 initialSupply, address holder);
            function transfer(address to, uint256 value) external returns (bool);
            function balanceOf(address owner) external view returns (uint256);
        }
    }
}
pub(crate) use abi::TollwayToken;

/// The committed build of `contracts/TollwayToken.sol`.
const ARTIFACT: &str = include_str!("../../../../contracts/TollwayToken.json");
/// Decimals of every devnet token.
pub const DEV_TOKEN_DECIMALS: u8 = 18;
/// What each devnet token mints to account 0: 1,000,000 tokens of 18 decimals.
pub const DEV_TOKEN_SUPPLY: u128 = 1_000_000 * 10u128.pow(DEV_TOKEN_DECIMALS as u32);
/// How long to wait for a devnet transaction's receipt.
pub(crate) const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// anvil's default accounts (mnemonic `test test … junk`, the same on every
/// anvil): public test keys, worth nothing anywhere else. Devnet only.
const DEFAULT_KEYS: [&str; 5] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

/// One of anvil's default accounts, with its secret key (devnet only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevAccount {
    /// Its index in anvil's default list (0 deploys the tokens and holds them).
    pub index: u32,
    /// Its address.
    pub address: Address,
    /// Its secp256k1 secret key: public knowledge, never use it off the devnet.
    pub secret_key: [u8; 32],
}

/// A token the devnet deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevToken {
    /// Ticker, e.g. `USDT`.
    pub symbol: &'static str,
    /// Full name, e.g. `Tether USD`.
    pub name: &'static str,
    /// Where it is deployed (account 0's nonce 0, 1, 2).
    pub address: Address,
    /// Its decimals (18).
    pub decimals: u8,
}

/// (symbol, name, address) of the tokens, in deployment order.
const TOKENS: [(&str, &str, &str); 3] = [
    ("USDT", "Tether USD", "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    ("USDC", "USD Coin", "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
    ("BUSD", "BUSD Token", "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"),
];

/// anvil's first five default accounts.
pub(crate) fn dev_accounts() -> Vec<DevAccount> {
    DEFAULT_KEYS
        .iter()
        .zip(0u32..)
        .filter_map(|(key, index)| {
            let mut secret_key = [0u8; 32];
            hex::decode_to_slice(key, &mut secret_key).ok()?;
            let signer = PrivateKeySigner::from_bytes(&B256::from(secret_key)).ok()?;
            Some(DevAccount { index, address: to_core_address(signer.address()), secret_key })
        })
        .collect()
}

/// The three tokens, in deployment order.
pub(crate) fn dev_tokens() -> Vec<DevToken> {
    TOKENS
        .iter()
        .filter_map(|(symbol, name, address)| Some(DevToken { symbol, name, address: address.parse().ok()?, decimals: DEV_TOKEN_DECIMALS }))
        .collect()
}

/// The creation code and the runtime code of the committed build.
fn artifact_code() -> Result<(Bytes, Bytes), EvmError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Artifact {
        bytecode: Bytes,
        deployed_bytecode: Bytes,
    }
    let artifact: Artifact = serde_json::from_str(ARTIFACT).map_err(|e| EvmError::Deploy(format!("contracts/TollwayToken.json: {e}")))?;
    Ok((artifact.bytecode, artifact.deployed_bytecode))
}

pub(crate) fn signer(secret_key: &[u8; 32]) -> Result<PrivateKeySigner, EvmError> {
    PrivateKeySigner::from_bytes(&B256::from(*secret_key)).map_err(|e| EvmError::InvalidKey(e.to_string()))
}

/// Makes sure the three tokens exist at their addresses on the node at
/// `url`: a token whose code is the committed runtime code is left alone;
/// one whose address is empty is deployed from account 0 if account 0's
/// nonce is the one that creates that address; anything else is an error.
/// Returns the symbols deployed now.
pub(crate) async fn ensure_tokens(url: &str) -> Result<Vec<&'static str>, EvmError> {
    let (creation, runtime) = artifact_code()?;
    let deployer = dev_accounts().into_iter().next().ok_or_else(|| EvmError::Deploy("no default account".into()))?;
    let url = url.parse().map_err(|e| EvmError::InvalidUrl { url: url.to_owned(), message: format!("{e}") })?;
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer(&deployer.secret_key)?)).connect_http(url);
    let from = to_alloy_address(&deployer.address);
    let mut nonce = provider.get_transaction_count(from).pending().await.map_err(|e| EvmError::transport("eth_getTransactionCount", e))?;
    let mut sent = Vec::new();
    for (i, token) in dev_tokens().into_iter().enumerate() {
        let address = to_alloy_address(&token.address);
        if address != from.create(i as u64) {
            return Err(EvmError::Deploy(format!("{} is not account 0's nonce-{i} contract address", token.address)));
        }
        let code = provider.get_code_at(address).await.map_err(|e| EvmError::transport("eth_getCode", e))?;
        if code == runtime {
            continue;
        }
        if !code.is_empty() {
            return Err(EvmError::Deploy(format!(
                "{} ({}) holds other code than contracts/TollwayToken.json's",
                token.address, token.symbol
            )));
        }
        if nonce != i as u64 {
            return Err(EvmError::Deploy(format!(
                "{} ({}) has no code and account 0's nonce is {nonce}, not {i}: it can no longer be deployed there (start a fresh anvil)",
                token.address, token.symbol
            )));
        }
        let args = TollwayToken::constructorCall {
            name_: token.name.into(),
            symbol_: token.symbol.into(),
            initialSupply: U256::from(DEV_TOKEN_SUPPLY),
            holder: from,
        };
        let mut input = creation.to_vec();
        input.extend_from_slice(&args.abi_encode());
        let tx = TransactionRequest::default().with_from(from).with_deploy_code(input).with_nonce(nonce);
        let pending = provider.send_transaction(tx).await.map_err(|e| EvmError::transport("eth_sendRawTransaction", e))?;
        sent.push((token, *pending.tx_hash(), pending));
        nonce += 1;
    }
    let mut deployed = Vec::new();
    for (token, hash, pending) in sent {
        let receipt = pending
            .with_timeout(Some(RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| EvmError::NotMined { hash: hash.to_string(), message: e.to_string() })?;
        if !receipt.status() || receipt.contract_address != Some(to_alloy_address(&token.address)) {
            return Err(EvmError::Deploy(format!("deploying {} failed: {receipt:?}", token.symbol)));
        }
        let code =
            provider.get_code_at(receipt.contract_address.unwrap_or_default()).await.map_err(|e| EvmError::transport("eth_getCode", e))?;
        if code != runtime {
            return Err(EvmError::Deploy(format!("{} deployed but its code is not the committed deployedBytecode", token.symbol)));
        }
        tracing::info!(symbol = token.symbol, address = %token.address, "evm devnet: token deployed");
        deployed.push(token.symbol);
    }
    Ok(deployed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_accounts_are_anvils() {
        let accounts = dev_accounts();
        assert_eq!(accounts.len(), 5);
        assert_eq!(accounts[0].address.to_string(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(accounts[1].address.to_string(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert_eq!(accounts[2].address.to_string(), "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
    }

    #[test]
    fn the_tokens_are_at_account_0s_first_contract_addresses() {
        let deployer = to_alloy_address(&dev_accounts()[0].address);
        let tokens = dev_tokens();
        assert_eq!(tokens.len(), 3);
        for (i, token) in tokens.iter().enumerate() {
            assert_eq!(to_alloy_address(&token.address), deployer.create(i as u64), "{}", token.symbol);
        }
    }

    #[test]
    fn the_artifact_is_the_committed_build() {
        let (creation, runtime) = artifact_code().expect("artifact");
        assert_eq!(runtime.len(), 1710, "docs/evm.md: the deployed code is 1,710 bytes");
        assert!(creation.len() > runtime.len());
        let args = TollwayToken::constructorCall {
            name_: "Tether USD".into(),
            symbol_: "USDT".into(),
            initialSupply: U256::from(DEV_TOKEN_SUPPLY),
            holder: alloy::primitives::Address::ZERO,
        };
        // 4 head words, then each string's length word and one data word.
        assert_eq!(args.abi_encode().len(), 8 * 32);
    }
}
