//! The endpoints of one network: which one serves, and what each has done
//! (requests, failures, switches away from it), for failover and for an
//! admin's view.

use alloy::network::AnyNetwork;
use alloy::providers::RootProvider;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One RPC endpoint's state as the client sees it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EndpointStatus {
    /// The URL as configured.
    pub url: String,
    /// True for the endpoint requests go to now.
    pub is_current: bool,
    /// False when its last request failed (transport error, timeout, lag,
    /// wrong chain); true before its first request and after a success.
    pub healthy: bool,
    /// Requests sent to it.
    pub requests: u64,
    /// Requests that failed on it (and were retried elsewhere).
    pub failures: u64,
    /// How many times the client stopped using it because it failed.
    pub switches_away: u64,
    /// Its last failure's message.
    pub last_error: Option<String>,
    /// When it last answered (ms since the Unix epoch).
    pub last_ok_ms: Option<u64>,
    /// When it last failed (ms since the Unix epoch).
    pub last_failure_ms: Option<u64>,
}

#[derive(Debug)]
struct Counters {
    healthy: bool,
    requests: u64,
    failures: u64,
    switches_away: u64,
    last_error: Option<String>,
    last_ok_ms: Option<u64>,
    last_failure_ms: Option<u64>,
}

#[derive(Debug)]
struct State {
    counters: Vec<Counters>,
    current: usize,
    best_head: Option<u64>,
    last_survey: Option<Instant>,
}

/// The endpoints, their providers, and the shared mutable state.
#[derive(Debug)]
pub(crate) struct Endpoints {
    urls: Vec<String>,
    providers: Vec<RootProvider<AnyNetwork>>,
    state: Mutex<State>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Endpoints {
    pub(crate) fn new(urls: Vec<String>, providers: Vec<RootProvider<AnyNetwork>>) -> Endpoints {
        let counters = urls
            .iter()
            .map(|_| Counters {
                healthy: true,
                requests: 0,
                failures: 0,
                switches_away: 0,
                last_error: None,
                last_ok_ms: None,
                last_failure_ms: None,
            })
            .collect();
        Endpoints { urls, providers, state: Mutex::new(State { counters, current: 0, best_head: None, last_survey: None }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves only counters behind: keep going.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.urls.len()
    }

    pub(crate) fn url(&self, index: usize) -> &str {
        &self.urls[index]
    }

    pub(crate) fn provider(&self, index: usize) -> RootProvider<AnyNetwork> {
        self.providers[index].clone()
    }

    pub(crate) fn current(&self) -> usize {
        self.state().current
    }

    pub(crate) fn note_request(&self, index: usize) {
        self.state().counters[index].requests += 1;
    }

    pub(crate) fn note_ok(&self, index: usize) {
        let mut state = self.state();
        let c = &mut state.counters[index];
        c.healthy = true;
        c.last_ok_ms = Some(now_ms());
    }

    /// Records a failure; when `switch` and the endpoint is the current one,
    /// the next one (round robin) becomes current.
    pub(crate) fn note_failure(&self, index: usize, message: &str, switch: bool) {
        let n = self.urls.len();
        let mut state = self.state();
        let c = &mut state.counters[index];
        c.healthy = false;
        c.failures += 1;
        c.last_error = Some(message.to_owned());
        c.last_failure_ms = Some(now_ms());
        if switch && n > 1 && state.current == index {
            state.counters[index].switches_away += 1;
            state.current = (index + 1) % n;
            tracing::warn!(from = %self.urls[index], to = %self.urls[state.current], error = message, "evm rpc: switching endpoint");
        }
    }

    pub(crate) fn best_head(&self) -> Option<u64> {
        self.state().best_head
    }

    /// Raises the best head seen to `number` (never lowers it).
    pub(crate) fn raise_best_head(&self, number: u64) {
        let mut state = self.state();
        state.best_head = Some(state.best_head.map_or(number, |best| best.max(number)));
    }

    /// Sets the best head seen to `number`, even lower (the chain went back).
    pub(crate) fn reset_best_head(&self, number: u64) {
        self.state().best_head = Some(number);
    }

    /// True (and the survey time set to now) when a survey of every
    /// endpoint's head is due: never done, or older than `every`.
    pub(crate) fn survey_due(&self, every: std::time::Duration) -> bool {
        let mut state = self.state();
        let due = state.last_survey.is_none_or(|at| at.elapsed() >= every);
        if due {
            state.last_survey = Some(Instant::now());
        }
        due
    }

    pub(crate) fn statuses(&self) -> Vec<EndpointStatus> {
        let state = self.state();
        self.urls
            .iter()
            .zip(&state.counters)
            .enumerate()
            .map(|(i, (url, c))| EndpointStatus {
                url: url.clone(),
                is_current: i == state.current,
                healthy: c.healthy,
                requests: c.requests,
                failures: c.failures,
                switches_away: c.switches_away,
                last_error: c.last_error.clone(),
                last_ok_ms: c.last_ok_ms,
                last_failure_ms: c.last_failure_ms,
            })
            .collect()
    }
}
