//! Judge answers recorded and replayed: an opt-in JSON-lines file of `{key, model, answer}`,
//! keyed by the SHA-256 of the exact request body (model, messages, temperature, seed, JSON
//! mode). A hit answers without calling the judge; a miss is graded and appended; in strict
//! mode a miss is not sent at all and is listed, so a CI run is deterministic and free.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CheckError;

/// Misses listed in detail, at most (the rest are counted).
const MISSES_LISTED: usize = 1_000;
/// Characters of the prompt kept in a listed miss.
const PROMPT_EXCERPT: usize = 120;

/// One line of the cache file.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    key: String,
    model: String,
    answer: String,
}

/// A request the cache had no answer for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMiss {
    /// The request's key (SHA-256 of its body, hex).
    pub key: String,
    /// The judge model asked.
    pub model: String,
    /// The start of the prompt, to find the row.
    pub prompt: String,
}

/// Why a cache file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The file could not be read or created.
    #[error("judge cache {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line is not a cache entry.
    #[error("judge cache {path}, line {line}: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// The answers a judge gave, by request, shared by every evaluation of a [`JudgeEvaluator`]
/// built with [`JudgeBuilder::cache`](crate::JudgeBuilder::cache).
///
/// The whole file is read at [`open`](Self::open) (its size is the user's choice: one entry
/// per judge request ever cached).
///
/// ```
/// use uptrain_plugin::JudgeCache;
///
/// let dir = tempfile::tempdir()?;
/// let cache = JudgeCache::open(dir.path().join("judge-cache.jsonl"), false)?;
/// assert_eq!((cache.len(), cache.hits(), cache.stored()), (0, 0, 0));
/// assert!(cache.misses().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`JudgeEvaluator`]: crate::JudgeEvaluator
pub struct JudgeCache {
    path: PathBuf,
    strict: bool,
    answers: Mutex<HashMap<String, String>>,
    file: Mutex<Option<File>>,
    misses: Mutex<Vec<CacheMiss>>,
    miss_count: AtomicU64,
    hits: AtomicU64,
    stored: AtomicU64,
    write_errors: AtomicU64,
}

impl fmt::Debug for JudgeCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JudgeCache")
            .field("path", &self.path)
            .field("strict", &self.strict)
            .field("entries", &self.len())
            .field("hits", &self.hits())
            .finish_non_exhaustive()
    }
}

/// What the cache says about one request.
pub(super) enum Lookup {
    /// The recorded answer.
    Hit(String),
    /// Not recorded: ask the judge, then [`JudgeCache::store`] under this key.
    Miss(String),
}

impl JudgeCache {
    /// Opens (or, when absent, will create on the first stored answer) the cache file at
    /// `path`. With `strict`, a request not in the file is not sent: its check fails with
    /// [`CheckError::CacheMiss`] and it is listed in [`misses`](Self::misses).
    pub fn open(path: impl AsRef<Path>, strict: bool) -> Result<Self, CacheError> {
        let path = path.as_ref().to_path_buf();
        let mut answers = HashMap::new();
        match File::open(&path) {
            Ok(file) => {
                for (i, line) in BufReader::new(file).lines().enumerate() {
                    let line = line.map_err(|source| CacheError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let entry: Entry =
                        serde_json::from_str(&line).map_err(|e| CacheError::Line {
                            path: path.clone(),
                            line: i + 1,
                            reason: e.to_string(),
                        })?;
                    answers.insert(entry.key, entry.answer);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(CacheError::Io { path, source }),
        }
        Ok(Self {
            path,
            strict,
            answers: Mutex::new(answers),
            file: Mutex::new(None),
            misses: Mutex::new(Vec::new()),
            miss_count: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether misses fail instead of calling the judge.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Answers known.
    pub fn len(&self) -> usize {
        lock(&self.answers).len()
    }

    /// Whether no answer is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Requests answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Requests the cache had no answer for.
    pub fn miss_count(&self) -> u64 {
        self.miss_count.load(Ordering::Relaxed)
    }

    /// Answers appended to the file.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// Answers that could not be appended (each logged as a warning).
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }

    /// The misses (the first 1,000; [`miss_count`](Self::miss_count) counts them all).
    pub fn misses(&self) -> Vec<CacheMiss> {
        lock(&self.misses).clone()
    }

    /// Looks a request body up. In strict mode a miss is an error naming the request.
    pub(super) fn lookup(
        &self,
        body: &[u8],
        model: &str,
        prompt: &str,
    ) -> Result<Lookup, CheckError> {
        let key = key(body);
        if let Some(answer) = lock(&self.answers).get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Lookup::Hit(answer.clone()));
        }
        self.miss_count.fetch_add(1, Ordering::Relaxed);
        {
            let mut misses = lock(&self.misses);
            if misses.len() < MISSES_LISTED {
                misses.push(CacheMiss {
                    key: key.clone(),
                    model: model.to_owned(),
                    prompt: prompt.chars().take(PROMPT_EXCERPT).collect(),
                });
            }
        }
        if self.strict {
            return Err(CheckError::CacheMiss { key });
        }
        Ok(Lookup::Miss(key))
    }

    /// Records the judge's answer to the request with `key`, in memory and in the file.
    pub(super) fn store(&self, key: String, model: &str, answer: &str) {
        {
            let mut answers = lock(&self.answers);
            if answers.contains_key(&key) {
                return;
            }
            answers.insert(key.clone(), answer.to_owned());
        }
        let entry = Entry {
            key,
            model: model.to_owned(),
            answer: answer.to_owned(),
        };
        let written = serde_json::to_string(&entry)
            .map_err(io::Error::other)
            .and_then(|line| self.append(&line));
        match written {
            Ok(()) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %self.path.display(), error = %e, "judge cache: cannot append an answer");
            }
        }
    }

    fn append(&self, line: &str) -> io::Result<()> {
        let mut file = lock(&self.file);
        if file.is_none() {
            *file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        match file.as_mut() {
            // One write per line, so a line is never interleaved with another.
            Some(f) => f.write_all(format!("{line}\n").as_bytes()),
            None => Err(io::Error::other("the cache file is not open")),
        }
    }
}

/// The key of a request body: SHA-256, lower-case hex.
fn key(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_answers_are_found_again_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let cache = JudgeCache::open(&path, false).unwrap();
        let Ok(Lookup::Miss(key)) = cache.lookup(b"{\"a\":1}", "m", "prompt") else {
            panic!("expected a miss")
        };
        cache.store(key.clone(), "m", "answer one");
        cache.store(key, "m", "answer two");
        assert_eq!(cache.stored(), 1, "one line per key");
        let again = JudgeCache::open(&path, true).unwrap();
        assert!(
            matches!(again.lookup(b"{\"a\":1}", "m", "p"), Ok(Lookup::Hit(a)) if a == "answer one")
        );
        let err = again
            .lookup(b"{\"a\":2}", "m", "other prompt")
            .err()
            .unwrap();
        assert!(matches!(err, CheckError::CacheMiss { .. }));
        assert_eq!(again.misses()[0].prompt, "other prompt");
        assert_eq!((again.hits(), again.miss_count()), (1, 1));
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        std::fs::write(
            &path,
            "{\"key\":\"k\",\"model\":\"m\",\"answer\":\"a\"}\n\nnot json\n",
        )
        .unwrap();
        let err = JudgeCache::open(&path, false).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn keys_are_sha256_hex() {
        assert_eq!(
            key(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
