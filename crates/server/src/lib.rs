//! Tollway's HTTP server: the points API, the Dify webhook, admin
//! endpoints, health, metrics and the OpenAPI document. Only this crate
//! maps domain and storage errors to HTTP.

pub mod config;
mod auth;
pub mod channels;
pub mod ckb;
mod error;
pub mod evm;
pub mod hub;
pub mod gateway;
mod jobs;
mod metrics;
pub mod openapi;
pub mod ops;
pub mod routes;
mod spend_cap;
mod state;

pub use config::Config;
pub use error::ApiError;
pub use routes::signature;
pub use state::AppState;

use std::net::SocketAddr;
use tokio::net::TcpListener;
use tollway_store::{LedgerWriter, ReceiptWriter, Store, WriterConfig};

/// A running server.
pub struct Running {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    /// Completes when the server stops.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Connects, migrates, starts the ledger writer and background jobs, and
/// serves on `config.listen` until the process stops.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let writer = LedgerWriter::spawn(store.clone(), WriterConfig::default());
    let engine = load_engine(&config)?;
    let models = gateway::route::Models::new(engine, &config.upstreams)?;
    let receipts = ReceiptWriter::spawn(store.clone(), WriterConfig::default());
    let ckb = ckb::Ckb::connect(&config.ckb, store.clone()).await?;
    let evm = evm::Evm::start(&config.evm, config.evm_devnet, &store).await?;
    let rail = hub::RailSettings {
        rpc_url: config.ckb.rpc_url.clone(),
        seller_secret: config.ckb.seller_secret.clone(),
        fee_rate: config.ckb.fee_rate,
        shannons_per_point: config.ckb.shannons_per_point,
    };
    let hub = hub::Hub::connect(&rail, &config.hub, store.clone()).await?;
    let state = AppState::new(store, writer, receipts, config.clone(), models).with_ckb(ckb).with_evm(evm).with_hub(hub);
    jobs::spawn(state.clone());
    ckb::jobs::spawn(state.clone());
    evm::watcher::spawn(state.clone());
    evm::webhooks::spawn(state.clone());
    hub::jobs::spawn(state.clone());
    let listener = TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    // Streamed chunks go out at once: without this, Nagle's algorithm holds
    // a small chunk until the client's delayed ACK (~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let app = routes::router(state);
    tracing::info!(%addr, "tollway listening");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running { addr, task })
}

/// Loads the embedded model if its file exists (a broken file is an error).
fn load_engine(config: &Config) -> Result<Option<gateway::engine::Engine>, StartError> {
    let path = std::path::Path::new(&config.model_path);
    if !path.exists() {
        tracing::warn!(path = %path.display(), "model file not found: /v1 answers 503 model_unavailable");
        return Ok(None);
    }
    let engine = gateway::engine::Engine::start(path, &config.model_name, config.engine_queue)?;
    tracing::info!(model = %config.model_name, "embedded model loaded");
    Ok(Some(engine))
}

/// Why the server could not start (database, migration or listen failure).
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Installs the tracing subscriber (plain or JSON lines, filter from
/// `RUST_LOG`, default `info`).
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
