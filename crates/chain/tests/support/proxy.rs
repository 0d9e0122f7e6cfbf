//! A TCP proxy in front of a node: forwards every connection until it is
//! killed (listener closed, open connections cut), or holds new ones
//! without an answer while it is stalled.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A running proxy.
pub struct Proxy {
    /// Its URL, `http://127.0.0.1:port`.
    pub url: String,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    stalled: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let stalled: Arc<AtomicBool> = Arc::default();
        let (conns, stall) = (tasks.clone(), stalled.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let stall = stall.load(Ordering::SeqCst);
                let conn = tokio::spawn(async move {
                    if stall {
                        // Read and never answer.
                        let mut sink = tokio::io::sink();
                        let _ = tokio::io::copy(&mut inbound, &mut sink).await;
                        return;
                    }
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                conns.lock().expect("lock").push(conn.abort_handle());
            }
        });
        tasks.lock().expect("lock").push(accept.abort_handle());
        Proxy { url, tasks, stalled }
    }

    /// Starts holding new connections without answering (or stops).
    pub fn stall(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Closes the listener and cuts every open connection, as a crash would.
    pub fn kill(&self) {
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The socket address of `http://host:port`.
pub fn socket_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().expect("host:port")
}
