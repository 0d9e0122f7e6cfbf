//! A fake JSON-RPC node over HTTP/1.1 (keep-alive) for answers a real node
//! never gives: a JSON-RPC error, malformed logs. Test-side only; the
//! adapter itself talks through alloy.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the node answers a call: a result, or a JSON-RPC error (code, message).
pub type Handler = Arc<dyn Fn(&str, &Value) -> Result<Value, (i64, String)> + Send + Sync>;

/// A running fake node.
pub struct FakeNode {
    /// Its URL.
    pub url: String,
    /// How many calls it answered.
    pub calls: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl FakeNode {
    /// Listens on a free port and answers every call with `handler`.
    pub async fn start(handler: Handler) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let calls: Arc<AtomicU64> = Arc::default();
        let counter = calls.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, counter) = (handler.clone(), counter.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = BufReader::new(read);
                    loop {
                        let mut length = 0usize;
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some((name, value)) = line.split_once(':') {
                                if name.eq_ignore_ascii_case("content-length") {
                                    length = value.trim().parse().unwrap_or(0);
                                }
                            }
                        }
                        let mut body = vec![0u8; length];
                        if reader.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        counter.fetch_add(1, Ordering::SeqCst);
                        let method = request["method"].as_str().unwrap_or_default();
                        let answer = match handler(method, &request["params"]) {
                            Ok(result) => json!({"jsonrpc": "2.0", "id": request["id"], "result": result}),
                            Err((code, message)) => {
                                json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": message}})
                            }
                        };
                        let text = answer.to_string();
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", text.len());
                        if write.write_all(head.as_bytes()).await.is_err() || write.write_all(text.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeNode { url, calls, task }
    }

    /// Calls answered so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}
