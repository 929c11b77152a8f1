//! The store: a run's folder on disk. Its layout (every file name), its schema (every status
//! word, shared by writer and reader), the records written as a run goes (`run.json`, a task's
//! `completion.json`, a suite's `suite.json`, the summaries), the lock a run holds, and reading
//! it all back. Everything here is written atomically, with secrets masked.

pub mod completion;
pub mod layout;
pub mod read;
pub mod repeats;
pub mod run_folder;
pub mod run_lock;
pub mod run_record;
pub mod schema;
pub mod suite_record;
pub mod summary;
