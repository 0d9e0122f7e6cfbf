//! Wakes WebSocket connections when a session may have changed, keeps the
//! latest head of each network (for confirmation counts), and admits
//! connections within the limits. A wake-up is only a hint: a connection
//! re-reads its session from the store (and also every few seconds, so a
//! change made by another server process reaches it too).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;

/// See the module doc.
#[derive(Clone)]
pub struct Hub {
    wake: broadcast::Sender<String>,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    heads: HashMap<String, u64>,
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { wake: broadcast::channel(1_024).0, inner: Arc::default() }
    }
}

/// A connection's place within the limits; given back when dropped.
pub struct Admission {
    inner: Arc<Mutex<Inner>>,
    ip: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.total = inner.total.saturating_sub(1);
        if let Some(n) = inner.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inner.per_ip.remove(&self.ip);
            }
        }
    }
}

impl Hub {
    /// Says session `id` may have changed.
    pub fn notify(&self, id: &str) {
        // No receiver is fine: nobody is watching.
        let _ = self.wake.send(id.to_owned());
    }

    /// Wake-ups, for one connection.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.wake.subscribe()
    }

    /// Records the latest head of `network`.
    pub fn set_head(&self, network: &str, number: u64) {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).heads.insert(network.to_owned(), number);
    }

    /// The latest head of `network` this process has seen.
    pub fn head(&self, network: &str) -> Option<u64> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).heads.get(network).copied()
    }

    /// A place for a connection from `ip`, or `None` at a limit.
    pub fn admit(&self, ip: IpAddr, max_total: usize, max_per_ip: usize) -> Option<Admission> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let from_ip = inner.per_ip.get(&ip).copied().unwrap_or(0);
        if inner.total >= max_total || from_ip >= max_per_ip {
            return None;
        }
        inner.total += 1;
        inner.per_ip.insert(ip, from_ip + 1);
        Some(Admission { inner: self.inner.clone(), ip })
    }

    /// Open connections.
    pub fn active(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admissions_respect_both_limits_and_are_given_back() {
        let hub = Hub::default();
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let first = hub.admit(a, 3, 2).expect("first");
        let _second = hub.admit(a, 3, 2).expect("second");
        assert!(hub.admit(a, 3, 2).is_none(), "per-IP limit");
        let _third = hub.admit(b, 3, 2).expect("other ip");
        assert!(hub.admit(b, 3, 2).is_none(), "total limit");
        assert_eq!(hub.active(), 3);
        drop(first);
        assert_eq!(hub.active(), 2);
        assert!(hub.admit(a, 3, 2).is_some());
    }
}
