//! The devnet's funded test accounts: secret keys derived from a fixed,
//! public seed, so every devnet has the same ones. Never use them
//! anywhere but a local devnet.

use tollway_core::channel::{ckb_hash, KeyId, PayerKey};

/// The type hash of `secp256k1_blake160_sighash_all` in every genesis
/// made from CKB's bundled specs (a type id, the same on mainnet, testnet
/// and dev chains): the lock of a plain CKB address.
pub const SIGHASH_TYPE_HASH: &str = "0x9bd7e06f3ecf4be0f2fcd2188b23f1b9fcc88e5d4b65a8637b17723bbda3cce8";

/// What each test account holds at genesis, CKB.
pub const TEST_ACCOUNT_CKB: u64 = 1_000_000;

/// A funded account of the devnet.
pub struct TestAccount {
    /// Its position (0 is also the block assembler's, the miner reward's).
    pub index: u32,
    /// The secret key (public: devnet only).
    pub secret: [u8; 32],
    /// The key.
    pub key: PayerKey,
}

impl TestAccount {
    /// Account `index`: secret = ckb_hash("tollway-devnet-account-" + index),
    /// re-hashed in the (astronomically unlikely) case it is not a valid key.
    pub fn nth(index: u32) -> TestAccount {
        let mut secret = ckb_hash(&[b"tollway-devnet-account-", index.to_string().as_bytes()]);
        loop {
            if let Ok(key) = PayerKey::from_bytes(secret) {
                return TestAccount { index, secret, key };
            }
            secret = ckb_hash(&[&secret]);
        }
    }

    /// The first `n` accounts.
    pub fn first(n: u32) -> Vec<TestAccount> {
        (0..n).map(TestAccount::nth).collect()
    }

    /// The sighash lock args: blake160 of the compressed public key.
    pub fn lock_args(&self) -> KeyId {
        self.key.id()
    }

    /// The secret key as `0x` hex.
    pub fn secret_hex(&self) -> String {
        format!("0x{}", hex::encode(self.secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_fixed_and_distinct() {
        let a = TestAccount::first(3);
        assert_eq!(a[0].secret, TestAccount::nth(0).secret, "derived, not random");
        assert_ne!(a[0].lock_args(), a[1].lock_args());
        assert_ne!(a[1].lock_args(), a[2].lock_args());
        assert_eq!(a[0].lock_args(), KeyId::of(&a[0].key.public()));
    }
}
