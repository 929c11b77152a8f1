//! The cache as a job's proxy sees it: each completions request looked up by its key, answered
//! from the database when it was answered before (the audit still sees it, and its answer), and
//! each answer the server gives filed as it ends. Counts what came from where.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use super::Cache;
use super::key::Scope;
use super::store::{Filed, Stored};
use crate::proxy::{Answer, Inspect, Outcome, Payload, Seen};

/// The most of one answer filed: a larger one is passed on and not kept.
const MAX_FILED_BYTES: usize = 64 << 20;

/// How often (in answers filed) the database is brought back under its size limit.
const EVICT_EVERY: u64 = 256;

/// What a job's cache did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheCounts {
    /// Requests answered from the cache, not reaching the server.
    pub hits: u64,
    /// Requests the cache had no answer for (cacheable ones only).
    pub misses: u64,
    /// Answers filed for later.
    pub filed: u64,
    /// Requests never cached: sampling without a seed.
    pub uncacheable: u64,
    /// Answers that could not be kept (a full disk), and why, the last time.
    pub unfiled: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfiled_why: Option<String>,
    /// The runs the hits were first answered in.
    pub from_runs: BTreeSet<String>,
}

/// One job's cache.
pub struct JobCache {
    cache: Arc<Cache>,
    scope: Scope,
    /// What new answers are filed under: the model's name and this run.
    model: String,
    run: String,
    pending: Mutex<HashMap<u64, Pending>>,
    counts: Mutex<CacheCounts>,
}

impl std::fmt::Debug for JobCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobCache")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// A request the cache has a key for, and its answer as it arrives.
struct Pending {
    key: Vec<u8>,
    status: Option<u16>,
    body: Option<Vec<u8>>,
}

impl JobCache {
    pub fn new(cache: Arc<Cache>, scope: Scope, model: &str, run: &str) -> JobCache {
        JobCache {
            cache,
            scope,
            model: model.to_owned(),
            run: run.to_owned(),
            pending: Mutex::new(HashMap::new()),
            counts: Mutex::new(CacheCounts::default()),
        }
    }

    pub fn counts(&self) -> CacheCounts {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, f: impl FnOnce(&mut CacheCounts)) {
        f(&mut self.counts.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Files a whole answer, and now and then brings the database under its limit. A write
    /// that fails (a full disk) costs the answer its place in the cache, nothing more.
    fn file(&self, pending: Pending) {
        let (Some(status), Some(body)) = (pending.status, pending.body) else {
            return;
        };
        let content_type = if body.starts_with(b"data:") {
            "text/event-stream"
        } else {
            "application/json"
        };
        let answer = Stored {
            status,
            content_type: Some(content_type.to_owned()),
            body,
            run: self.run.clone(),
        };
        let filed = Filed {
            model: &self.model,
            run: &self.run,
        };
        if let Err(why) = self.cache.store.put(&pending.key, filed, &answer) {
            self.count(|c| {
                c.unfiled += 1;
                c.unfiled_why = Some(why.to_string());
            });
            return;
        }
        let mut filed_so_far = 0;
        self.count(|c| {
            c.filed += 1;
            filed_so_far = c.filed;
        });
        if filed_so_far % EVICT_EVERY == 0 {
            let _ = self.cache.store.evict(self.cache.limit);
        }
    }
}

impl Inspect for JobCache {
    fn request(&self, seen: &Seen<'_>) {
        let Payload::Body(body) = seen.payload else {
            return;
        };
        match self.scope.key(seen.path, body) {
            Some(key) => {
                let pending = Pending {
                    key,
                    status: None,
                    body: Some(Vec::new()),
                };
                self.pending().insert(seen.seq, pending);
            }
            None => self.count(|c| c.uncacheable += 1),
        }
    }

    fn answer(&self, seq: u64) -> Option<Answer> {
        if !self.cache.mode.reads() {
            return None;
        }
        let key = self.pending().get(&seq)?.key.clone();
        let Ok(Some(stored)) = self.cache.store.get(&key) else {
            self.count(|c| c.misses += 1);
            return None;
        };
        self.pending().remove(&seq);
        self.count(|c| {
            c.hits += 1;
            c.from_runs.insert(stored.run.clone());
        });
        Some(Answer {
            status: stored.status,
            content_type: stored.content_type,
            body: stored.body,
        })
    }

    fn response(&self, seq: u64, outcome: Outcome) {
        match outcome {
            Outcome::Answered(status) if status.is_success() => {
                if let Some(p) = self.pending().get_mut(&seq) {
                    p.status = Some(status.as_u16());
                }
            }
            _ => {
                self.pending().remove(&seq);
            }
        }
    }

    fn response_data(&self, seq: u64, data: &[u8]) {
        let mut pending = self.pending();
        let Some(p) = pending.get_mut(&seq) else {
            return;
        };
        match &mut p.body {
            Some(body) if body.len() + data.len() <= MAX_FILED_BYTES => {
                body.extend_from_slice(data)
            }
            _ => p.body = None,
        }
    }

    fn response_end(&self, seq: u64, whole: bool) {
        let Some(pending) = self.pending().remove(&seq) else {
            return;
        };
        if whole && self.cache.mode.writes() {
            self.file(pending);
        }
    }
}
