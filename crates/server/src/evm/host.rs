//! The host's figures for `/api/v1/stats/system`, read from `/proc` and
//! `df` (Linux), as percentages with one decimal computed in integers.
//! Unreadable figures are reported as null, never made up.

use super::stats::percent;
use serde_json::Value;

/// Clock ticks per second of `/proc` CPU times (Linux's USER_HZ, 100 on
/// every mainstream architecture).
const TICKS_PER_SEC: u128 = 100;

/// This process's CPU time over its life, percent of one core.
pub fn cpu_percent(uptime_secs: u64) -> Value {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Value::Null };
    // Fields after the command name (which may hold spaces) start after ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return Value::Null };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u128>().ok());
    // utime and stime are fields 14 and 15; here 11 and 12 (0-based after the state field at 0).
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => percent(user + system, TICKS_PER_SEC * u128::from(uptime_secs.max(1))),
        _ => Value::Null,
    }
}

fn kib(text: &str, key: &str) -> Option<u128> {
    text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// This process's resident memory, percent of the host's.
pub fn memory_percent() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    match (status.as_deref().and_then(|s| kib(s, "VmRSS:")), meminfo.as_deref().and_then(|m| kib(m, "MemTotal:"))) {
        (Some(rss), Some(total)) => percent(rss, total),
        _ => Value::Null,
    }
}

/// Use of the file system holding the working directory (where SQLite
/// keeps its file by default), percent.
pub fn disk_percent() -> Value {
    let Ok(out) = std::process::Command::new("df").args(["-Pk", "."]).output() else { return Value::Null };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(line) = text.lines().nth(1) else { return Value::Null };
    let fields: Vec<&str> = line.split_whitespace().collect();
    match (fields.get(2).and_then(|f| f.parse::<u128>().ok()), fields.get(3).and_then(|f| f.parse::<u128>().ok())) {
        (Some(used), Some(available)) => percent(used, used + available),
        _ => Value::Null,
    }
}
