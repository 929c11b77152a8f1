//! `[executor]`: where a suite's models run. `kind` picks the executor; the Slurm executor's keys
//! (partition, account, time, GPUs... see [`super::slurm_keys`]) sit beside it. The same keys
//! are read from the file `eval --executor-config` names, which wins over the settings files key
//! by key.

use serde::Serialize;

use super::slurm_keys::SlurmOptions;
use super::{Entry, Setting, entry};

/// The executors a run can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// Processes on this machine, started and supervised by benchy's runner.
    #[default]
    Local,
    /// One Slurm job array for the suite, an array task per model.
    Slurm,
}

impl ExecutorKind {
    /// Every executor, with the word that names it in a settings file and on the command line.
    pub const ALL: [(&'static str, ExecutorKind); 2] = [
        ("local", ExecutorKind::Local),
        ("slurm", ExecutorKind::Slurm),
    ];

    /// The executor `word` names, if any.
    pub fn named(word: &str) -> Option<ExecutorKind> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, kind)| *kind)
    }
}

/// `[executor]`, as set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutorSettings {
    pub kind: Option<Setting<ExecutorKind>>,
    /// The Slurm executor's keys that are set.
    pub slurm: SlurmOptions,
}

impl ExecutorSettings {
    /// These settings, with `weaker`'s filling the keys these leave unset.
    pub fn over(self, weaker: ExecutorSettings) -> ExecutorSettings {
        let mut slurm = weaker.slurm;
        slurm.extend(self.slurm);
        ExecutorSettings {
            kind: self.kind.or(weaker.kind),
            slurm,
        }
    }

    /// The Slurm keys that are set, as `benchy config show` lists them (`kind` is listed with
    /// its default among the other settings).
    pub(super) fn entries(&self) -> Vec<Entry> {
        self.slurm
            .iter()
            .map(|(name, setting)| entry(&format!("executor.{name}"), setting))
            .collect()
    }
}
