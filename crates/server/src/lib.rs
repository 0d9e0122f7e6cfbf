//! Tollway's HTTP server: the points API, the Dify webhook, admin
//! endpoints, health, metrics and the OpenAPI document. Only this crate
//! maps domain and storage errors to HTTP.

pub mod config;
mod auth;
mod error;
mod jobs;
mod metrics;
mod openapi;
pub mod ops;
pub mod routes;
mod state;

pub use config::Config;
pub use error::ApiError;
pub use routes::signature;
pub use state::AppState;

use std::net::SocketAddr;
use tokio::net::TcpListener;
use tollway_store::{LedgerWriter, Store, WriterConfig};

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
    let state = AppState::new(store, writer, config.clone());
    jobs::spawn(state.clone());
    let listener = TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    let app = routes::router(state);
    tracing::info!(%addr, "tollway listening");
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running { addr, task })
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
