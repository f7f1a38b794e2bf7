//! Small pieces every bench binary needs: sizes from the environment, a
//! runtime, percentiles. (`common/` is the CRM data set some benches load.)

// Each bench binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

/// A size from the environment (`HUB_BENCH_CONTACTS=20000`), else `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs a bench on a current-thread runtime (the app's store calls are
/// sequential; timing them alone is the point).
pub fn block_on<F: Future>(bench: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}
