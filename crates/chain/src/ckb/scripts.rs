//! Where the lock scripts a channel uses live on a chain: their code hash,
//! hash type and the cell deps a transaction spending or creating them
//! must carry. On a chain made from CKB's bundled specs (dev, testnet,
//! mainnet) they are read from the genesis block; an in-process test
//! deploys the same binaries itself.

use super::ChainError;
use ckb_types::core::{BlockView, DepType, ScriptHashType};
use ckb_types::packed::{Byte32, CellDep, OutPoint, OutPointVec, Script};
use ckb_types::prelude::*;

/// The type hash of `secp256k1_blake160_multisig_all` in every genesis
/// made from CKB's bundled specs (a type id, the same on every chain).
pub const MULTISIG_TYPE_HASH: &str = "0x5c5069eb0857efc65e1bca0c07df34c31663b3622fd3876c876320fc9634e2a8";

/// A lock script's code and what a transaction needs to run it. As JSON:
/// `{"code_hash", "hash_type", "cell_deps"}` in the node's RPC format.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "ScriptRefJson", from = "ScriptRefJson")]
pub struct ScriptRef {
    /// The code hash a script names.
    pub code_hash: Byte32,
    /// How the code hash is matched.
    pub hash_type: ScriptHashType,
    /// The cell deps that bring the code (and what it loads) into a
    /// transaction.
    pub cell_deps: Vec<CellDep>,
}

impl ScriptRef {
    /// The script with `args`.
    pub fn script(&self, args: &[u8]) -> Script {
        Script::new_builder().code_hash(self.code_hash.clone()).hash_type(self.hash_type).args(args.to_vec().pack()).build()
    }

    /// Whether `script` runs this code (whatever its args).
    pub fn runs(&self, script: &Script) -> bool {
        script.code_hash() == self.code_hash && script.hash_type() == self.hash_type.into()
    }
}

/// [`ScriptRef`] in the node's JSON format.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct ScriptRefJson {
    code_hash: ckb_types::H256,
    hash_type: ckb_jsonrpc_types::ScriptHashType,
    cell_deps: Vec<ckb_jsonrpc_types::CellDep>,
}

impl From<ScriptRef> for ScriptRefJson {
    fn from(r: ScriptRef) -> Self {
        ScriptRefJson { code_hash: r.code_hash.unpack(), hash_type: r.hash_type.into(), cell_deps: r.cell_deps.into_iter().map(Into::into).collect() }
    }
}

impl From<ScriptRefJson> for ScriptRef {
    fn from(j: ScriptRefJson) -> Self {
        ScriptRef { code_hash: j.code_hash.pack(), hash_type: j.hash_type.into(), cell_deps: j.cell_deps.into_iter().map(Into::into).collect() }
    }
}

/// The two locks of the CKB rail: a plain key's and the channel's 2-of-2.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockScripts {
    /// `secp256k1_blake160_sighash_all`.
    pub sighash: ScriptRef,
    /// `secp256k1_blake160_multisig_all`.
    pub multisig: ScriptRef,
}

fn hash_of(hex: &str) -> Byte32 {
    let mut bytes = [0u8; 32];
    // The constants are valid hex of 32 bytes.
    if let Some(raw) = hex.strip_prefix("0x") {
        let _ = hex::decode_to_slice(raw, &mut bytes);
    }
    bytes.pack()
}

impl LockScripts {
    /// The system locks of a genesis block made from CKB's bundled specs:
    /// the code cells are found in the first transaction by their type
    /// hash, the dep groups (code plus secp256k1 data) in the second.
    pub fn from_genesis(genesis: &BlockView) -> Result<LockScripts, ChainError> {
        let missing = |what: &str| ChainError::Genesis(format!("the genesis block has no {what}"));
        let txs = genesis.transactions();
        let (cells, groups) = match (txs.first(), txs.get(1)) {
            (Some(cells), Some(groups)) => (cells, groups),
            _ => return Err(missing("system cells")),
        };
        let code_index = |type_hash: &Byte32| {
            cells.outputs().into_iter().position(|output| output.type_().to_opt().is_some_and(|t| &t.calc_script_hash() == type_hash))
        };
        let group_of = |index: usize| -> Option<CellDep> {
            let code = OutPoint::new(cells.hash(), u32::try_from(index).ok()?);
            groups.outputs_data().into_iter().enumerate().find_map(|(i, data)| {
                let points = OutPointVec::from_slice(&data.raw_data()).ok()?;
                points.into_iter().any(|p| p == code).then(|| {
                    CellDep::new_builder().out_point(OutPoint::new(groups.hash(), i as u32)).dep_type(DepType::DepGroup).build()
                })
            })
        };
        let locate = |type_hash: Byte32, name: &str| -> Result<ScriptRef, ChainError> {
            let index = code_index(&type_hash).ok_or_else(|| missing(name))?;
            let dep = group_of(index).ok_or_else(|| missing(&format!("dep group for {name}")))?;
            Ok(ScriptRef { code_hash: type_hash, hash_type: ScriptHashType::Type, cell_deps: vec![dep] })
        };
        Ok(LockScripts {
            sighash: locate(hash_of(super::SIGHASH_TYPE_HASH), "secp256k1_blake160_sighash_all")?,
            multisig: locate(hash_of(MULTISIG_TYPE_HASH), "secp256k1_blake160_multisig_all")?,
        })
    }
}
