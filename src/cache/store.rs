//! The cache's database: one SQLite file in WAL mode, so several benchy processes (a suite's
//! jobs, two users on one shared home) read and write it at once, and an answer written is on
//! disk before the next one arrives (a SIGKILL loses at most those in flight). A file that is
//! not this cache (not a database, truncated, another program's) is set aside and a new one
//! started; one from a newer format is left alone and the run goes on uncached.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

/// The format of the database and of its keys; a change makes every old answer a miss.
pub const FORMAT: i64 = 1;

/// How long a writer waits for another process's transaction.
const BUSY: Duration = Duration::from_secs(10);

/// An answer as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The run that first got it from a server.
    pub run: String,
}

/// What a new answer is filed under.
#[derive(Clone, Copy, Debug)]
pub struct Filed<'a> {
    pub model: &'a str,
    pub run: &'a str,
}

/// The open database.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    connection: Mutex<Connection>,
}

/// Why the database cannot be used, for the warning.
#[derive(Debug)]
pub enum Unusable {
    /// Written by a newer benchy: left as it is.
    Newer(i64),
    /// Cannot be opened or written (permissions, a full disk).
    Failed(String),
}

impl Store {
    /// Opens (or creates) the database at `path`. A file that is not one is moved aside to
    /// `<file>.corrupt-<unix time>` and `set_aside` says where.
    pub fn open(path: &Path) -> Result<(Store, Option<PathBuf>), Unusable> {
        let failed =
            |e: &dyn std::fmt::Display| Unusable::Failed(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
        }
        match Self::try_open(path) {
            Ok(store) => Ok((store, None)),
            Err(Opened::Newer(format)) => Err(Unusable::Newer(format)),
            Err(Opened::Foreign(_)) => {
                let aside = set_aside(path).map_err(|e| failed(&e))?;
                let store = Self::try_open(path).map_err(|e| failed(&e))?;
                Ok((store, Some(aside)))
            }
            Err(Opened::Io(e)) => Err(failed(&e)),
        }
    }

    fn try_open(path: &Path) -> Result<Store, Opened> {
        let connection = Connection::open(path).map_err(Opened::classify)?;
        connection.busy_timeout(BUSY).map_err(Opened::classify)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(Opened::classify)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(Opened::classify)?;
        connection
            .execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS answers (
                     key BLOB PRIMARY KEY, model TEXT NOT NULL, run TEXT NOT NULL,
                     status INTEGER NOT NULL, content_type TEXT, body BLOB NOT NULL,
                     size INTEGER NOT NULL, created INTEGER NOT NULL, used INTEGER NOT NULL,
                     hits INTEGER NOT NULL DEFAULT 0);
                 CREATE INDEX IF NOT EXISTS answers_used ON answers (used);
                 INSERT OR IGNORE INTO meta (name, value) VALUES ('format', {FORMAT});"
            ))
            .map_err(Opened::classify)?;
        let format: i64 = connection
            .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
                r.get(0)
            })
            .map_err(Opened::classify)?;
        if format > FORMAT {
            return Err(Opened::Newer(format));
        }
        Ok(Store {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer filed under `key`, counted as used now.
    pub fn get(&self, key: &[u8]) -> rusqlite::Result<Option<Stored>> {
        let connection = self.connection();
        let found = connection
            .query_row(
                "SELECT status, content_type, body, run FROM answers WHERE key = ?1",
                params![key],
                |r| {
                    Ok(Stored {
                        status: r.get(0)?,
                        content_type: r.get(1)?,
                        body: r.get(2)?,
                        run: r.get(3)?,
                    })
                },
            )
            .optional()?;
        if found.is_some() {
            connection.execute(
                "UPDATE answers SET used = ?2, hits = hits + 1 WHERE key = ?1",
                params![key, now()],
            )?;
        }
        Ok(found)
    }

    /// Files `answer` under `key` (an answer already there is kept: the first one is the one
    /// every later request gets).
    pub fn put(&self, key: &[u8], filed: Filed<'_>, answer: &Stored) -> rusqlite::Result<()> {
        let now = now();
        self.connection().execute(
            "INSERT OR IGNORE INTO answers
                 (key, model, run, status, content_type, body, size, created, used)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                key,
                filed.model,
                filed.run,
                answer.status,
                answer.content_type,
                answer.body,
                answer.body.len() as i64,
                now
            ],
        )?;
        Ok(())
    }

    /// Removes the least recently used answers until at most `limit` bytes of bodies remain;
    /// how many were removed.
    pub fn evict(&self, limit: u64) -> rusqlite::Result<u64> {
        let connection = self.connection();
        let total: i64 =
            connection.query_row("SELECT COALESCE(SUM(size), 0) FROM answers", [], |r| {
                r.get(0)
            })?;
        let mut over = total - i64::try_from(limit).unwrap_or(i64::MAX);
        if over <= 0 {
            return Ok(0);
        }
        let oldest: Vec<(Vec<u8>, i64)> = connection
            .prepare("SELECT key, size FROM answers ORDER BY used ASC")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut removed = 0;
        for (key, size) in oldest {
            if over <= 0 {
                break;
            }
            connection.execute("DELETE FROM answers WHERE key = ?1", params![key])?;
            over -= size;
            removed += 1;
        }
        Ok(removed)
    }

    /// Entries, bytes of bodies and hits, by model.
    pub fn stats(&self) -> rusqlite::Result<Vec<(String, u64, u64, u64)>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT model, COUNT(*), SUM(size), SUM(hits) FROM answers GROUP BY model ORDER BY model",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
            ))
        })?;
        rows.collect()
    }

    /// Removes the answers not used since `before` (seconds since the epoch), of `model` when
    /// given; how many.
    pub fn prune(&self, before: Option<i64>, model: Option<&str>) -> rusqlite::Result<usize> {
        self.connection().execute(
            "DELETE FROM answers WHERE (?1 IS NULL OR used < ?1) AND (?2 IS NULL OR model = ?2)",
            params![before, model],
        )
    }
}

/// Why opening failed.
enum Opened {
    Newer(i64),
    /// Not this cache's database: set it aside.
    Foreign(rusqlite::Error),
    Io(rusqlite::Error),
}

impl Opened {
    fn classify(error: rusqlite::Error) -> Opened {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match error.sqlite_error_code() {
            Some(NotADatabase | DatabaseCorrupt) => Opened::Foreign(error),
            // a table of the same name with other columns: another program's file
            _ if matches!(error, rusqlite::Error::SqlInputError { .. })
                || error.to_string().contains("no such column") =>
            {
                Opened::Foreign(error)
            }
            _ => Opened::Io(error),
        }
    }
}

impl std::fmt::Display for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Opened::Newer(format) => write!(f, "format {format}, newer than this benchy's"),
            Opened::Foreign(e) | Opened::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Moves `path` (and its WAL files) to `<path>.corrupt-<unix time>`; the new name.
fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let aside = path.with_extension(format!("db.corrupt-{}", now()));
    std::fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        let _ = std::fs::remove_file(side);
    }
    Ok(aside)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Stored {
        Stored {
            status: 200,
            content_type: Some("application/json".into()),
            body: text.as_bytes().to_vec(),
            run: "r1".into(),
        }
    }

    #[test]
    fn an_answer_is_kept_and_the_least_recently_used_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let (store, aside) = Store::open(&dir.path().join("answers.db")).unwrap();
        assert_eq!(aside, None);
        let filed = Filed {
            model: "m",
            run: "r1",
        };
        store.put(b"a", filed, &answer("aaaa")).unwrap();
        store.put(b"b", filed, &answer("bbbb")).unwrap();
        store.put(b"a", filed, &answer("other")).unwrap();
        assert_eq!(store.get(b"a").unwrap(), Some(answer("aaaa")));
        assert_eq!(store.get(b"c").unwrap(), None);
        assert_eq!(store.stats().unwrap(), [("m".to_owned(), 2, 8, 1)]);
        // `b` was used least recently (never): it goes first
        store
            .connection()
            .execute("UPDATE answers SET used = used - 100 WHERE key = x'62'", [])
            .unwrap();
        assert_eq!(store.evict(5).unwrap(), 1);
        assert!(store.get(b"b").unwrap().is_none());
        assert!(store.get(b"a").unwrap().is_some());
    }

    #[test]
    fn a_full_disk_refuses_an_answer_with_an_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(&dir.path().join("answers.db")).unwrap();
        // SQLite answers a database at its page limit as it answers a full disk: SQLITE_FULL
        let pages: i64 = store
            .connection()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        store
            .connection()
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        let filed = Filed {
            model: "m",
            run: "r",
        };
        let error = store
            .put(b"k", filed, &answer(&"x".repeat(64 << 10)))
            .unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DiskFull)
        );
        assert!(error.to_string().contains("full"), "{error}");
        assert_eq!(store.get(b"k").unwrap(), None, "nothing half-written");
    }

    #[test]
    fn a_file_that_is_not_the_cache_is_set_aside_and_a_newer_one_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.db");
        std::fs::write(
            &path,
            b"this is not a database, and it is long enough to say so....",
        )
        .unwrap();
        let (store, aside) = Store::open(&path).unwrap();
        let aside = aside.expect("set aside");
        assert!(aside.is_file() && aside.display().to_string().contains(".corrupt-"));
        store
            .put(
                b"k",
                Filed {
                    model: "m",
                    run: "r",
                },
                &answer("x"),
            )
            .unwrap();
        drop(store);
        let newer = Connection::open(&path).unwrap();
        newer
            .execute("UPDATE meta SET value = 99 WHERE name = 'format'", [])
            .unwrap();
        drop(newer);
        assert!(matches!(Store::open(&path), Err(Unusable::Newer(99))));
        assert!(path.is_file(), "a newer cache is left where it is");
    }
}
