//! The payer's durable state: one JSON file (mode 0600: it holds secret
//! keys) with every channel the payer opened, its key, and the latest
//! receipts signed and accepted. Every change is a read-modify-write under
//! an exclusive lock (so two processes never lose each other's updates),
//! written atomically: temporary file, fsync, rename, fsync of the folder.
//! A crash leaves either the old file or the new one, never a mix.

use crate::error::PayerError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use tollway_core::channel::wire::Commitment;
use tollway_core::channel::{ChannelId, KeyId, PayerKey, SignedSubRav, SubRav, DEFAULT_SLACK_TOKENS, SUBRAV_VERSION};
use tollway_core::pricing::{PriceRule, DEFAULT_RULE};
use tollway_core::Amount;

/// The state file's format version.
pub const STATE_VERSION: u32 = 1;
/// The state file's name inside the payer home.
pub const STATE_FILE: &str = "payer.json";
/// The environment variable naming the payer home.
pub const HOME_ENV: &str = "TOLLWAY_PAYER_HOME";

/// A secret string (a key or an API key): stored in the file, never shown
/// by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One channel as the payer keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// The payee's base URL (`http://host:port`).
    pub server: String,
    /// The API key of the channel's owner at the payee.
    pub api_key: Secret,
    /// The channel.
    pub channel: ChannelId,
    /// Its chain (ledger) id.
    pub chain_id: u64,
    /// Its epoch.
    pub epoch: u64,
    /// Its asset (`POINTS` on the ledger rail).
    #[serde(default)]
    pub asset: String,
    /// The payer key's secret, `0x` + 64 hex digits.
    pub secret_key: Secret,
    /// The payer key's sub-channel (its key id).
    pub sub_channel: KeyId,
    /// What was deposited as collateral.
    pub deposit: Amount,
    /// The most the sub-channel may owe in total: no receipt above it is
    /// ever signed.
    pub budget: Amount,
    /// The default most one request may add (when the caller gives none).
    #[serde(default)]
    pub max_amount: Option<Amount>,
    /// The latest receipt this payer signed. Written before the receipt is
    /// sent, so no other receipt is ever signed with its nonce.
    #[serde(default)]
    pub latest_signed: Option<SignedSubRav>,
    /// The latest receipt the payee confirmed it accepted (may lag behind
    /// the payee; `recover` catches up).
    #[serde(default)]
    pub latest_accepted: Option<SignedSubRav>,
    /// False once closed.
    pub open: bool,
    /// When it was opened, seconds since the Unix epoch.
    #[serde(default)]
    pub opened_at: i64,
    /// A CKB-backed channel's chain side (`None` on the ledger rail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ckb: Option<crate::ckb_record::CkbRecord>,
    /// The payee's prices when the channel opened (`GET /api/prices`), in
    /// the channel's asset: the payer signs no increase beyond what it
    /// received at these prices.
    #[serde(default)]
    pub prices: Vec<PriceRule>,
    /// Output tokens paid beyond what was received
    /// ([`DEFAULT_SLACK_TOKENS`] unless set at open).
    #[serde(default = "default_slack")]
    pub slack_tokens: u64,
}

fn default_slack() -> u64 {
    DEFAULT_SLACK_TOKENS
}

impl ChannelRecord {
    /// The payer key.
    pub fn key(&self) -> Result<PayerKey, PayerError> {
        PayerKey::from_hex(self.secret_key.expose()).map_err(|e| PayerError::Protocol(format!("the stored secret key: {e}")))
    }

    /// What the next proposal is reviewed against: the latest signed
    /// receipt, or before the first one, nonce 0 and nothing owed.
    pub fn base(&self) -> SubRav {
        match &self.latest_signed {
            Some(signed) => signed.rav,
            None => SubRav {
                version: SUBRAV_VERSION,
                chain_id: self.chain_id,
                channel_id: self.channel,
                epoch: self.epoch,
                sub_channel: self.sub_channel,
                nonce: 0,
                accumulated: Amount::ZERO,
            },
        }
    }

    /// The pinned price of `model`: the rule of that name (ignoring ASCII
    /// case, as the payee matches), else the default rule `*`;
    /// `unpriced_model` when the payee published neither when the channel
    /// opened.
    pub fn price_for(&self, model: &str) -> Result<PriceRule, PayerError> {
        let exact = self.prices.iter().find(|r| r.model == model);
        let any_case = || self.prices.iter().find(|r| r.model.eq_ignore_ascii_case(model));
        let default = || self.prices.iter().find(|r| r.model == DEFAULT_RULE);
        exact.or_else(any_case).or_else(default).cloned().ok_or_else(|| PayerError::UnpricedModel(model.to_owned()))
    }

    /// The total of the latest signed receipt.
    pub fn signed_total(&self) -> Amount {
        self.latest_signed.map_or(Amount::ZERO, |s| s.rav.accumulated)
    }

    /// The total of the latest receipt the payee confirmed.
    pub fn accepted_total(&self) -> Amount {
        self.latest_accepted.map_or(Amount::ZERO, |s| s.rav.accumulated)
    }

    /// The latest signed receipt, if the payee has not confirmed it yet.
    pub fn unconfirmed(&self) -> Option<SignedSubRav> {
        let signed = self.latest_signed?;
        match self.latest_accepted {
            Some(accepted) if accepted.rav.nonce >= signed.rav.nonce => None,
            _ => Some(signed),
        }
    }

    /// Records that the payee accepted `receipt` (kept only if newer).
    pub fn note_accepted(&mut self, receipt: SignedSubRav) {
        if self.latest_accepted.is_none_or(|a| a.rav.nonce < receipt.rav.nonce) {
            self.latest_accepted = Some(receipt);
        }
    }
}

/// The commitment a receipt on `record`'s channel carries (`None` on the
/// ledger rail): see [`crate::CkbRecord::commitment`].
pub fn commitment_for(record: &ChannelRecord, receipt: &SignedSubRav) -> Result<Option<Commitment>, PayerError> {
    match &record.ckb {
        Some(ckb) => ckb.commitment(&record.key()?, receipt).map(Some),
        None => Ok(None),
    }
}

/// Everything in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerState {
    /// Format version ([`STATE_VERSION`]).
    pub version: u32,
    /// The channel used when none is named.
    #[serde(default)]
    pub default: Option<ChannelId>,
    /// Every channel, oldest first.
    #[serde(default)]
    pub channels: Vec<ChannelRecord>,
}

impl Default for PayerState {
    fn default() -> Self {
        PayerState { version: STATE_VERSION, default: None, channels: Vec::new() }
    }
}

impl PayerState {
    /// The channel `id`.
    pub fn get(&self, id: &ChannelId) -> Result<&ChannelRecord, PayerError> {
        self.channels.iter().find(|c| c.channel == *id).ok_or_else(|| PayerError::UnknownChannel(id.to_string()))
    }

    /// The channel `id`, to change.
    pub fn get_mut(&mut self, id: &ChannelId) -> Result<&mut ChannelRecord, PayerError> {
        self.channels.iter_mut().find(|c| c.channel == *id).ok_or_else(|| PayerError::UnknownChannel(id.to_string()))
    }

    /// The channel `selector` names: a full id, or a unique prefix of one
    /// (with or without `0x`); `None` is the default channel.
    pub fn resolve(&self, selector: Option<&str>) -> Result<ChannelId, PayerError> {
        let Some(selector) = selector.map(str::trim) else {
            return self.default.ok_or(PayerError::NoDefaultChannel);
        };
        let wanted = selector.strip_prefix("0x").unwrap_or(selector).to_ascii_lowercase();
        if wanted.is_empty() || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PayerError::InvalidArgument(format!("{selector:?} is not a channel id")));
        }
        let mut found = self.channels.iter().filter(|c| hex::encode(c.channel.0).starts_with(&wanted));
        match (found.next(), found.next()) {
            (Some(c), None) => Ok(c.channel),
            (None, _) => Err(PayerError::UnknownChannel(selector.to_owned())),
            (Some(_), Some(_)) => Err(PayerError::AmbiguousChannel(selector.to_owned())),
        }
    }
}

/// Where the state lives, and the only way to change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The state file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> StateFile {
        StateFile { path: path.into() }
    }

    /// `payer.json` in the payer home `home`.
    pub fn in_home(home: impl AsRef<Path>) -> StateFile {
        StateFile::at(home.as_ref().join(STATE_FILE))
    }

    /// The default payer home: `$TOLLWAY_PAYER_HOME`, else `~/.tollway`.
    pub fn default_home() -> Result<PathBuf, PayerError> {
        if let Some(home) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
            return Ok(PathBuf::from(home));
        }
        std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".tollway")).ok_or(PayerError::NoHome)
    }

    /// The state file in the default payer home.
    pub fn default_location() -> Result<StateFile, PayerError> {
        StateFile::default_home().map(StateFile::in_home)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Reads the state (empty if there is no file yet).
    pub fn load(&self) -> Result<PayerState, PayerError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(PayerState::default()),
            Err(e) => return Err(PayerError::io(&self.path, e)),
        };
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|e| PayerError::io(&self.path, e))?;
        let state: PayerState = serde_json::from_str(&text).map_err(|e| PayerError::Corrupt { path: self.path.clone(), message: e.to_string() })?;
        if state.version != STATE_VERSION {
            return Err(PayerError::Corrupt {
                path: self.path.clone(),
                message: format!("format version {} (this SDK reads {STATE_VERSION})", state.version),
            });
        }
        Ok(state)
    }

    /// Changes the state: under an exclusive lock, reads it, applies `f`,
    /// and (if `f` succeeded) writes it back atomically before returning.
    /// If `f` fails nothing is written.
    pub fn update<R>(&self, f: impl FnOnce(&mut PayerState) -> Result<R, PayerError>) -> Result<R, PayerError> {
        let dir = self.dir();
        create_private_dir(&dir)?;
        let lock_path = self.lock_path();
        let lock = private_options().read(true).write(true).create(true).truncate(false).open(&lock_path);
        let lock = lock.map_err(|e| PayerError::io(&lock_path, e))?;
        lock.lock().map_err(|e| PayerError::io(&lock_path, e))?;
        let mut state = self.load()?;
        let out = f(&mut state)?;
        self.write(&state)?;
        // Dropping the file releases the lock.
        drop(lock);
        Ok(out)
    }

    /// [`StateFile::update`] on a blocking thread (file I/O and fsync must
    /// not stall the async runtime).
    pub async fn update_async<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut PayerState) -> Result<R, PayerError> + Send + 'static,
    ) -> Result<R, PayerError> {
        let file = self.clone();
        tokio::task::spawn_blocking(move || file.update(f))
            .await
            .map_err(|e| PayerError::io(self.path.clone(), format!("state update task failed: {e}")))?
    }

    /// Records that the payee accepted `receipt` on `channel` (kept only
    /// if newer than the accepted receipt on record).
    pub async fn note_accepted(&self, channel: ChannelId, receipt: SignedSubRav) -> Result<(), PayerError> {
        self.update_async(move |s| {
            s.get_mut(&channel)?.note_accepted(receipt);
            Ok(())
        })
        .await
    }

    /// [`StateFile::load`] on a blocking thread.
    pub async fn load_async(&self) -> Result<PayerState, PayerError> {
        let file = self.clone();
        tokio::task::spawn_blocking(move || file.load())
            .await
            .map_err(|e| PayerError::io(self.path.clone(), format!("state load task failed: {e}")))?
    }

    /// Writes `state`: temporary file (0600), fsync, rename over the file,
    /// fsync the folder.
    fn write(&self, state: &PayerState) -> Result<(), PayerError> {
        let json = serde_json::to_vec_pretty(state).map_err(|e| PayerError::io(&self.path, e))?;
        let mut tmp_name = self.path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        tmp_name.push(format!(".tmp.{}", std::process::id()));
        let tmp = self.path.with_file_name(tmp_name);
        let result = (|| {
            let mut file = private_options().write(true).create(true).truncate(true).open(&tmp)?;
            set_private(&file)?;
            file.write_all(&json)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &self.path)?;
            sync_dir(&self.dir())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| PayerError::io(&self.path, e))
    }
}

#[cfg(unix)]
fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

#[cfg(not(unix))]
fn private_options() -> OpenOptions {
    OpenOptions::new()
}

/// Makes sure the file is 0600 even if it existed with other permissions.
#[cfg(unix)]
fn set_private(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// Creates the payer home (0700 on Unix) if it is missing.
fn create_private_dir(dir: &Path) -> Result<(), PayerError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| PayerError::io(dir, e))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DIRS: AtomicUsize = AtomicUsize::new(0);

    /// A fresh empty folder, removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new() -> TempDir {
            let dir = std::env::temp_dir().join(format!("tollway-payer-{}-{}", std::process::id(), DIRS.fetch_add(1, Ordering::Relaxed)));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub fn key(byte: u8) -> PayerKey {
        PayerKey::from_bytes([byte; 32]).expect("valid key")
    }

    /// A channel record for key `0x<byte>…`, budget 1000, nothing signed.
    pub fn record(byte: u8) -> ChannelRecord {
        ChannelRecord {
            server: "http://127.0.0.1:1".into(),
            api_key: Secret::new("tw_test"),
            channel: ChannelId([byte.wrapping_add(0x40); 32]),
            chain_id: 7,
            epoch: 1,
            asset: "POINTS".into(),
            secret_key: Secret::new(format!("0x{}", hex::encode([byte; 32]))),
            sub_channel: key(byte).id(),
            deposit: Amount::new(5000),
            budget: Amount::new(1000),
            max_amount: Some(Amount::new(100)),
            latest_signed: None,
            latest_accepted: None,
            open: true,
            opened_at: 1,
            ckb: None,
            prices: Vec::new(),
            slack_tokens: DEFAULT_SLACK_TOKENS,
        }
    }

    /// An allowance of `max` per request that does not limit by what was
    /// received (a price too large to compute saturates the entitlement).
    pub fn generous(max: u128) -> crate::review::Allowance {
        let rule = PriceRule {
            model: "m".into(),
            version: 1,
            input_per_1k: tollway_core::pricing::Price(u128::MAX),
            output_per_1k: tollway_core::pricing::Price(u128::MAX),
            effective_from: 0,
            active: true,
        };
        crate::review::Allowance::new(Amount::new(max), tollway_core::channel::Entitlement::new(rule, 1, 1))
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = TempDir::new();
        let file = StateFile::in_home(dir.0.join("nested"));
        assert_eq!(file.load().expect("no file yet"), PayerState::default());
        let mut one = record(1);
        let signed = one.base();
        let signed = SubRav { nonce: 1, accumulated: Amount::new(42), ..signed }.sign(&key(1));
        one.latest_signed = Some(signed);
        one.latest_accepted = Some(signed);
        let two = record(2);
        file.update(|s| {
            s.channels.push(one.clone());
            s.channels.push(two.clone());
            s.default = Some(two.channel);
            Ok(())
        })
        .expect("write");
        let back = file.load().expect("read");
        assert_eq!(back.channels, vec![one.clone(), two.clone()]);
        assert_eq!(back.default, Some(two.channel));
        assert_eq!(back.resolve(None).expect("default"), two.channel);
        assert_eq!(back.resolve(Some(&format!("0x{}", hex::encode([0x41u8; 4])))).expect("prefix"), one.channel);
        assert_eq!(back.resolve(Some("03")).map_err(|e| e.code().to_owned()), Err("unknown_channel".to_owned()));
        assert_eq!(back.resolve(Some("zz")).map_err(|e| e.code().to_owned()), Err("invalid_argument".to_owned()));
        assert_eq!(one.key().expect("key").id(), one.sub_channel);
        let text = std::fs::read_to_string(file.path()).expect("text");
        assert!(text.contains(&format!("0x{}", hex::encode(signed.encode()))), "receipts are 0x hex on disk");
        assert!(!format!("{one:?}").contains(one.secret_key.expose()), "Debug hides the secret key");
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_replaced_atomically() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new();
        let file = StateFile::in_home(&dir.0);
        file.update(|s| {
            s.channels.push(record(1));
            Ok(())
        })
        .expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(mode(&dir.0), 0o700);
        // Widened permissions are narrowed again on the next write.
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("metadata"));
        let before = inode(file.path());
        // A failing change writes nothing.
        let failed = file.update(|s| {
            s.channels.clear();
            Err::<(), _>(PayerError::NoDefaultChannel)
        });
        assert!(failed.is_err());
        assert_eq!(file.load().expect("read").channels.len(), 1);
        assert_eq!(inode(file.path()), before, "a failed change leaves the file alone");
        file.update(|s| {
            s.channels.push(record(2));
            Ok(())
        })
        .expect("write");
        assert_ne!(inode(file.path()), before, "a new file was renamed over the old one");
        assert_eq!(mode(file.path()), 0o600);
        let names: Vec<String> =
            std::fs::read_dir(&dir.0).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.contains(".tmp")), "no temporary file left: {names:?}");
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = TempDir::new();
        let file = StateFile::in_home(&dir.0);
        file.update(|s| {
            s.channels.push(record(1));
            Ok(())
        })
        .expect("write");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let file = file.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        file.update(|s| {
                            let c = s.get_mut(&record(1).channel)?;
                            c.opened_at += 1;
                            Ok(())
                        })
                        .expect("update");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(file.load().expect("read").channels[0].opened_at, 81, "every increment kept");
    }

    #[test]
    fn unreadable_files_are_reported_not_overwritten() {
        let dir = TempDir::new();
        let file = StateFile::in_home(&dir.0);
        std::fs::create_dir_all(&dir.0).expect("dir");
        std::fs::write(file.path(), b"{not json").expect("write");
        assert_eq!(file.load().map_err(|e| e.code().to_owned()), Err("state_corrupt".to_owned()));
        assert!(file.update(|_| Ok(())).is_err());
        assert_eq!(std::fs::read(file.path()).expect("read"), b"{not json", "left as it was");
        std::fs::write(file.path(), br#"{"version": 9, "channels": []}"#).expect("write");
        assert_eq!(file.load().map_err(|e| e.code().to_owned()), Err("state_corrupt".to_owned()));
    }
}
