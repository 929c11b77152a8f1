//! A node's devices shared out to a suite's servers: which devices the node has (`--gpus`, the
//! `gpus` setting, `CUDA_VISIBLE_DEVICES`, `nvidia-smi -L`), and which are free.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::Result;

use crate::settings::Setting;
use crate::util::bad_input::bad_input;

/// The devices a suite's servers share, and where the list came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDevices {
    pub ids: Vec<String>,
    pub source: String,
}

/// The devices the user named: `flag` (`--gpus`), else `setting`; read before anything starts
/// (a dry run and a check refuse a bad list too). A list with duplicates or non-numbers is bad
/// input naming it and its source.
pub fn given(flag: Option<&str>, setting: Option<&Setting<String>>) -> Result<Option<NodeDevices>> {
    if let Some(list) = flag {
        return parse(list, "--gpus").map(Some);
    }
    setting
        .map(|s| parse(&s.value, &format!("the gpus setting ({})", s.origin)))
        .transpose()
}

/// The devices this node shows when none were named: `CUDA_VISIBLE_DEVICES`, else what
/// `nvidia-smi -L` lists when it is installed; `None` when nothing says (servers then run one
/// at a time). Asked only when a suite is about to run here.
pub fn of_node() -> Result<Option<NodeDevices>> {
    if let Some(list) = std::env::var("CUDA_VISIBLE_DEVICES")
        .ok()
        .filter(|l| !l.trim().is_empty())
    {
        return parse(&list, "CUDA_VISIBLE_DEVICES").map(Some);
    }
    Ok(nvidia_smi())
}

/// `0,1,2,3` as ids, each a whole number and none twice.
pub fn parse(list: &str, source: &str) -> Result<NodeDevices> {
    let mut ids = Vec::new();
    for id in list.split(',').map(str::trim) {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_input(format!(
                "{source}: `{list}` is not a list of device numbers such as 0,1,2,3 (`{id}`)"
            )));
        }
        if ids.iter().any(|seen| seen == id) {
            return Err(bad_input(format!(
                "{source}: `{list}` names device {id} twice"
            )));
        }
        ids.push(id.to_owned());
    }
    Ok(NodeDevices {
        ids,
        source: source.to_owned(),
    })
}

/// The GPUs `nvidia-smi -L` lists (`GPU 0: NVIDIA A100 ...`), when it is installed and answers.
fn nvidia_smi() -> Option<NodeDevices> {
    let output = Command::new("nvidia-smi").arg("-L").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("GPU ")?.split(':').next().map(str::to_owned))
        .collect();
    (output.status.success() && !ids.is_empty()).then(|| NodeDevices {
        ids,
        source: "nvidia-smi -L".to_owned(),
    })
}

/// Which of the node's devices are free, handed out lowest first.
#[derive(Debug)]
pub struct Pool {
    all: Vec<String>,
    held: BTreeSet<String>,
}

impl Pool {
    pub fn new(devices: &NodeDevices) -> Pool {
        Pool {
            all: devices.ids.clone(),
            held: BTreeSet::new(),
        }
    }

    /// `count` free devices, held until [`Pool::give_back`]; `None` while fewer are free.
    /// `None` as the count asks for the whole node, free of every other server.
    pub fn take(&mut self, count: Option<usize>) -> Option<Vec<String>> {
        let count = match count {
            Some(n) => n,
            None if self.held.is_empty() => self.all.len(),
            None => return None,
        };
        let free: Vec<String> = self
            .all
            .iter()
            .filter(|d| !self.held.contains(*d))
            .take(count)
            .cloned()
            .collect();
        if free.len() < count {
            return None;
        }
        self.held.extend(free.iter().cloned());
        Some(free)
    }

    pub fn give_back(&mut self, devices: &[String]) {
        for device in devices {
            self.held.remove(device);
        }
    }

    pub fn size(&self) -> usize {
        self.all.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_with_duplicates_or_non_numbers_is_refused_naming_its_source() {
        assert_eq!(parse(" 0, 2,3", "--gpus").unwrap().ids, ["0", "2", "3"]);
        for (list, says) in [
            ("0,1,1", "names device 1 twice"),
            ("0,a", "(`a`)"),
            ("0,,1", "(``)"),
            ("", "(``)"),
        ] {
            let err = parse(list, "the gpus setting (benchy.toml:2)").unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("the gpus setting (benchy.toml:2): "),
                "{message}"
            );
            assert!(message.contains(says), "{message}");
        }
    }

    #[test]
    fn devices_are_handed_out_disjoint_and_a_whole_node_waits_for_all() {
        let mut pool = Pool::new(&parse("0,1,2", "--gpus").unwrap());
        let a = pool.take(Some(2)).unwrap();
        assert_eq!(a, ["0", "1"]);
        assert_eq!(pool.take(Some(2)), None, "one is free");
        assert_eq!(pool.take(None), None, "the whole node is not free");
        let b = pool.take(Some(1)).unwrap();
        assert_eq!(b, ["2"]);
        pool.give_back(&a);
        assert_eq!(pool.take(Some(2)).unwrap(), ["0", "1"]);
        pool.give_back(&["0".into(), "1".into(), "2".into()]);
        assert_eq!(pool.take(None).unwrap().len(), 3);
    }
}
