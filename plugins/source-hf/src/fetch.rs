//! Getting one file of a repo at a revision (`generation_config.json`, the chat template): from the cache when that is final,
//! from the Hub otherwise, and from the cache again when the Hub cannot answer. The order of
//! steps is huggingface_hub 2.4.0's `file_download.py::_hf_hub_download_to_cache_dir`:
//!
//! 1. a full commit sha already cached is answered without a request (a commit never changes);
//! 2. offline, the cache answers or nothing does (zero requests);
//! 3. otherwise one `HEAD` says which commit the revision is at and which blob that file is; if
//!    the cache has that commit's file, or the blob, nothing is downloaded (a warm run costs
//!    exactly this one small request); else one `GET` downloads it into the cache;
//! 4. when the Hub cannot be reached or refuses, the cached copy for the revision is used with
//!    a warning (as huggingface_hub, without retrying first, so a cached run is never held up by
//!    backoff); with nothing cached the request is retried with backoff before giving up.
//!
//! Unlike huggingface_hub, a failed download of a branch that moved also falls back to the
//! revision's previous cached copy, with a warning, instead of failing.

use std::io;

use benchy_core::Diagnostic;

use crate::cache::{Cached, RepoCache, is_commit_sha};
use crate::client::{FileMetadata, HubClient, HubError};
use crate::settings::HubSettings;
use crate::urls::resolve_url;

/// The file the `hf` source reads its layer from.
pub const FILENAME: &str = "generation_config.json";

/// What the Hub (or the cache standing in for it) has of the file for the repo at the revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file's bytes at `commit`.
    File {
        commit: String,
        bytes: Vec<u8>,
        notes: Vec<Diagnostic>,
    },
    /// The repo has no such file at this revision.
    NoFile {
        commit: Option<String>,
        notes: Vec<Diagnostic>,
    },
}

/// Why there is no answer. The messages name the repo, the revision and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The request itself is wrong (a revision that cannot name a ref): exit code 2.
    Input(String),
    /// The Hub could not answer and the cache has nothing to offer.
    Unavailable(String),
}

/// `filename` of `repo_id` at `revision`; with `offline`, makes no request at all.
pub fn fetch(
    settings: &HubSettings,
    repo_id: &str,
    revision: &str,
    filename: &str,
    offline: bool,
) -> Result<Outcome, FetchError> {
    check_revision(revision)?;
    let cache = RepoCache::new(&settings.cache_dir, repo_id);
    let unreadable = |e: io::Error| {
        FetchError::Unavailable(format!(
            "cannot read the Hugging Face cache at {}: {e}",
            cache.dir().display()
        ))
    };
    let cached = cache.lookup(revision, filename).map_err(unreadable)?;
    if offline || (is_commit_sha(revision) && cached != Cached::Nothing) {
        return match cached {
            Cached::File { commit, bytes } => Ok(Outcome::File {
                commit,
                bytes,
                notes: Vec::new(),
            }),
            Cached::Missing { commit } => Ok(Outcome::NoFile {
                commit: Some(commit),
                notes: Vec::new(),
            }),
            Cached::Nothing => Err(FetchError::Unavailable(format!(
                "offline (--offline or HF_HUB_OFFLINE) and the Hugging Face cache has no \
                 {filename} for {repo_id}@{revision} (looked in {}); run once online or point \
                 HF_HUB_CACHE at a cache that has it",
                cache.dir().display()
            ))),
        };
    }

    let client = HubClient::new(settings);
    let url = resolve_url(&settings.endpoint, repo_id, revision, filename);
    let place = Place {
        settings,
        cache: &cache,
        client: &client,
        repo_id,
        revision,
        filename,
        url: &url,
    };
    // With a cached copy to fall back on, a single attempt; without one, retries.
    match client.metadata(&url, cached == Cached::Nothing) {
        Ok(metadata) => place.complete(metadata, cached),
        Err(HubError::EntryNotFound { commit }) => {
            let mut notes = Vec::new();
            if let Some(commit) = &commit {
                let written = cache
                    .mark_missing(commit, filename)
                    .and_then(|()| cache.write_ref(revision, commit));
                notes.extend(place.cache_write_warning(written));
            }
            Ok(Outcome::NoFile { commit, notes })
        }
        // The repo answered and the revision is not in it: a cached copy would be a guess.
        Err(HubError::RevisionNotFound) => Err(FetchError::Unavailable(format!(
            "{repo_id} has no revision `{revision}` on {}: check model.revision",
            settings.endpoint
        ))),
        Err(error) => place.fall_back(cached, &error),
    }
}

/// One resolution's context.
struct Place<'a> {
    settings: &'a HubSettings,
    cache: &'a RepoCache,
    client: &'a HubClient<'a>,
    repo_id: &'a str,
    revision: &'a str,
    filename: &'a str,
    url: &'a str,
}

impl Place<'_> {
    /// The Hub named the commit and blob: use what the cache has, download the rest.
    fn complete(&self, metadata: FileMetadata, cached: Cached) -> Result<Outcome, FetchError> {
        let FileMetadata { commit, etag, .. } = &metadata;
        if let Ok(Cached::File { bytes, .. }) = self.cache.at_commit(commit, self.filename) {
            let notes = self.cache_write_warning(self.cache.write_ref(self.revision, commit));
            return Ok(self.file(commit, bytes, notes));
        }
        if self.cache.has_blob(etag) {
            let linked = self
                .cache
                .link_snapshot(commit, self.filename, etag)
                .and_then(|()| self.cache.write_ref(self.revision, commit));
            if linked.is_ok()
                && let Ok(Cached::File { bytes, .. }) = self.cache.at_commit(commit, self.filename)
            {
                return Ok(self.file(commit, bytes, Vec::new()));
            }
        }
        let bytes = match self.client.download(self.url, &metadata) {
            Ok(bytes) => bytes,
            Err(error) => return self.fall_back(cached, &error),
        };
        let stored = self
            .cache
            .store_blob(etag, &bytes)
            .and_then(|()| self.cache.link_snapshot(commit, self.filename, etag))
            .and_then(|()| self.cache.write_ref(self.revision, commit));
        let notes = self.cache_write_warning(stored);
        Ok(self.file(commit, bytes, notes))
    }

    fn file(&self, commit: &str, bytes: Vec<u8>, notes: Vec<Diagnostic>) -> Outcome {
        Outcome::File {
            commit: commit.to_owned(),
            bytes,
            notes,
        }
    }

    /// The Hub could not be used: the cached copy, with a warning, or a message saying why
    /// there is none and what to do.
    fn fall_back(&self, cached: Cached, error: &HubError) -> Result<Outcome, FetchError> {
        let Place {
            repo_id,
            revision,
            filename,
            ..
        } = *self;
        let endpoint = &self.settings.endpoint;
        let because = format!("could not check {repo_id}@{revision} on {endpoint}: {error}");
        match cached {
            Cached::File { commit, bytes } => Ok(Outcome::File {
                notes: vec![Diagnostic::warning(format!(
                    "hf: {because}; using the cached copy at commit {commit}"
                ))],
                commit,
                bytes,
            }),
            Cached::Missing { commit } => Ok(Outcome::NoFile {
                notes: vec![Diagnostic::warning(format!(
                    "hf: {because}; the cache says it has no {filename} at commit {commit}"
                ))],
                commit: Some(commit),
            }),
            Cached::Nothing => Err(FetchError::Unavailable(self.advice(error))),
        }
    }

    /// What to tell a user who has no cached copy, by what the Hub said.
    fn advice(&self, error: &HubError) -> String {
        let Place {
            repo_id, revision, ..
        } = *self;
        let endpoint = &self.settings.endpoint;
        let token = &self.settings.token;
        match error {
            HubError::Gated { .. } if !self.client.has_token() => format!(
                "{repo_id} is a gated repo and no token was found: set HF_TOKEN (or HF_TOKEN_PATH, \
                 or log in so that {} holds one) to a token of an account that accepted the \
                 model's terms at {endpoint}/{repo_id}",
                token.describe()
            ),
            HubError::Gated { .. } => format!(
                "{repo_id} is a gated repo and the token from {} has no access to it: accept the \
                 model's terms at {endpoint}/{repo_id} with that account, or use another token",
                token.describe()
            ),
            HubError::RepoNotFound => format!(
                "{repo_id} was not found on {endpoint}: check model.name (a private repo also \
                 needs HF_TOKEN set to a token with access{})",
                if self.client.has_token() {
                    format!("; a token from {} was sent", token.describe())
                } else {
                    String::new()
                }
            ),
            HubError::Refused {
                status: 401 | 403, ..
            } => format!("{endpoint} refused {repo_id}@{revision} ({error}): check HF_TOKEN"),
            _ => format!(
                "could not fetch {} of {repo_id}@{revision} from {endpoint} ({error}) \
                 and the Hugging Face cache at {} has no copy",
                self.filename,
                self.cache.dir().display()
            ),
        }
    }

    /// A read-only or full cache does not stop the run: the file was fetched, it just will not
    /// be there next time.
    fn cache_write_warning(&self, written: io::Result<()>) -> Vec<Diagnostic> {
        match written {
            Ok(()) => Vec::new(),
            Err(e) => vec![Diagnostic::warning(format!(
                "hf: could not write {} of {} to the Hugging Face cache at {}: {e}",
                self.filename,
                self.repo_id,
                self.cache.dir().display()
            ))],
        }
    }
}

/// A revision names a file under `refs/` in the cache and a path segment in the URL: it must
/// not be empty or climb out of its folder.
fn check_revision(revision: &str) -> Result<(), FetchError> {
    let invalid = revision.is_empty()
        || revision.starts_with('/')
        || revision.contains(['\\', '\0'])
        || revision.chars().any(char::is_control)
        || revision
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if invalid {
        return Err(FetchError::Input(format!(
            "model.revision `{revision}` is not a Hub revision: expected a branch, tag or commit \
             sha such as `main`, `v1.0` or `refs/pr/1`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_that_would_leave_the_refs_folder_are_refused() {
        for bad in ["", "/etc", "../x", "a/../../b", "a//b", "a\\b", "x\0"] {
            assert!(
                matches!(check_revision(bad), Err(FetchError::Input(_))),
                "{bad:?}"
            );
        }
        for good in [
            "main",
            "v1.0",
            "refs/pr/1",
            "1111111111111111111111111111111111111111",
        ] {
            assert_eq!(check_revision(good), Ok(()));
        }
    }
}
