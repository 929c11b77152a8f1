//! The hostile-input corpus: devices, FIFOs, huge sparse files, link loops, dangling links and
//! folders, each planted where benchy reads a file: `-c`, `--source file:`/`yaml:`, the hf
//! source's model folder, a provider and a task found by lookup, `--plugin`, a plugin folder on
//! `BENCHY_PLUGIN_PATH`, and `plugins install`. Every one is refused at once, naming the path and
//! what it is: nothing blocks on a FIFO, nothing reads a device or a 5 GiB file into memory.
//! Everything is made in the test's temp dir; the huge file is sparse and takes no disk.

use std::path::Path;
use std::time::Duration;

use crate::harness::{Run, TestEnv};

/// Bounds a hang (a FIFO read blocks forever, `/dev/zero` until memory runs out); not a timing.
const BOUND: Duration = Duration::from_secs(60);

/// Larger than any limit benchy reads up to (config 1 MiB, generation config 4 MiB, plugin
/// region 256 MiB), and sparse.
const HUGE: u64 = 5 << 30;

#[derive(Clone, Copy, Debug)]
enum Hostile {
    Zero,
    Random,
    Fifo,
    Huge,
    LinkLoop,
    Dangling,
    Folder,
}

const ALL: [Hostile; 7] = [
    Hostile::Zero,
    Hostile::Random,
    Hostile::Fifo,
    Hostile::Huge,
    Hostile::LinkLoop,
    Hostile::Dangling,
    Hostile::Folder,
];

impl Hostile {
    /// Makes one at `path`.
    fn plant(self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let link = |target: &Path| std::os::unix::fs::symlink(target, path).unwrap();
        match self {
            Hostile::Zero => link(Path::new("/dev/zero")),
            Hostile::Random => link(Path::new("/dev/urandom")),
            Hostile::Fifo => {
                nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).unwrap();
            }
            Hostile::Huge => std::fs::File::create(path).unwrap().set_len(HUGE).unwrap(),
            Hostile::LinkLoop => link(path),
            Hostile::Dangling => link(&path.with_extension("gone")),
            Hostile::Folder => std::fs::create_dir(path).unwrap(),
        }
    }

    /// What benchy must say about it.
    fn said(self) -> &'static str {
        match self {
            Hostile::Zero | Hostile::Random => "a device",
            Hostile::Fifo => "a FIFO",
            Hostile::Huge => "at most",
            Hostile::LinkLoop => "symbolic links",
            Hostile::Dangling => "No such file",
            Hostile::Folder => "a folder",
        }
    }
}

/// Runs benchy, failing (and killing it) if it does not end.
fn bounded(env: &TestEnv, args: &[&str]) -> Run {
    env.spawn(args).wait(BOUND)
}

/// A test dir with a run config for a local model folder.
fn setup() -> TestEnv {
    let env = TestEnv::new();
    env.write("model/config.json", "{}");
    env.write("run.yaml", "model:\n  name: ./model\n");
    env
}

#[track_caller]
fn refused(run: &Run, name: &str, hostile: Hostile, place: &str) {
    assert!(
        run.code == 2 && run.stderr.contains(name) && run.stderr.contains(hostile.said()),
        "{place} with {hostile:?}: exit {}, wanted 2 naming {name} and `{}`:\n{}",
        run.code,
        hostile.said(),
        run.stderr
    );
}

#[test]
fn files_named_on_the_command_line() {
    for hostile in ALL {
        let env = setup();
        for (ext, flag) in [("yaml", "-c"), ("json", "file:"), ("yaml", "yaml:")] {
            let name = format!("bad-{}.{ext}", flag.trim_matches(['-', ':']));
            hostile.plant(&env.path().join(&name));
            let run = match flag {
                "-c" => bounded(&env, &["config", "explain", "-c", &name]),
                source => bounded(
                    &env,
                    &[
                        "config",
                        "explain",
                        "-c",
                        "run.yaml",
                        "--source",
                        &format!("{source}{name}"),
                    ],
                ),
            };
            refused(&run, &name, hostile, flag);
        }
    }
}

#[test]
fn provider_and_task_files_found_by_lookup() {
    for hostile in ALL {
        let env = setup();
        hostile.plant(&env.path().join("providers/p.yaml"));
        hostile.plant(&env.path().join("tasks/t.yaml"));
        for (config, name) in [
            ("vllm:\n  provider_config: p\n", "p.yaml"),
            ("tasks:\n  - t\n", "t.yaml"),
        ] {
            env.write("run.yaml", &format!("model:\n  name: ./model\n{config}"));
            let run = bounded(&env, &["config", "explain", "-c", "run.yaml"]);
            match hostile {
                // a folder by the name is no file of that name: not found, and said so
                Hostile::Folder => assert!(
                    run.code == 2 && run.stderr.contains("not found"),
                    "{name}: {}",
                    run.stderr
                ),
                _ => refused(&run, name, hostile, "lookup"),
            }
        }
    }
}

/// The model folder's file is the model's, not the user's: unreadable, it is a warning and the
/// run goes on without it.
#[test]
fn the_model_folders_generation_config() {
    for hostile in ALL {
        let env = setup();
        hostile.plant(&env.path().join("model/generation_config.json"));
        let run = bounded(
            &env,
            &["config", "explain", "-c", "run.yaml", "--source", "hf"],
        );
        let said = match hostile {
            Hostile::Dangling => "has no generation_config.json",
            other => other.said(),
        };
        assert!(
            run.code == 0
                && run.stderr.contains("generation_config.json")
                && run.stderr.contains(said),
            "{hostile:?}: exit {}:\n{}",
            run.code,
            run.stderr
        );
    }
}

#[test]
fn plugin_files_named_found_and_installed() {
    for hostile in ALL {
        let env = setup();
        let flagged = env.path().join("flag/libx.so");
        hostile.plant(&flagged);
        let run = bounded(
            &env,
            &[
                "config",
                "explain",
                "-c",
                "run.yaml",
                "--plugin",
                flagged.to_str().unwrap(),
            ],
        );
        // --plugin paths are shown resolved: a link to a device names the device
        let shown = match hostile {
            Hostile::Zero => "/dev/zero",
            Hostile::Random => "/dev/urandom",
            _ => "libx.so",
        };
        refused(&run, shown, hostile, "--plugin");

        let install = bounded(&env, &["plugins", "install", flagged.to_str().unwrap()]);
        refused(&install, "libx.so", hostile, "plugins install");

        let dir = env.path().join("path");
        hostile.plant(&dir.join("liby.so"));
        let mut env = env;
        env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
        let list = bounded(&env, &["plugins", "list", "--format", "json"]);
        list.expect_code(0);
        let rows = list.json()["plugins"].clone();
        let doctor = bounded(&env, &["plugins", "doctor"]);
        match hostile {
            // a folder is no plugin file: not listed, nothing to doctor
            Hostile::Folder => {
                assert_eq!(rows, serde_json::json!([]), "{rows:#}");
                doctor.expect_code(0);
            }
            _ => {
                assert_eq!(rows[0]["status"], "unreadable", "{hostile:?}: {rows:#}");
                let problems = rows[0]["problems"].to_string();
                assert!(problems.contains(hostile.said()), "{hostile:?}: {problems}");
                doctor.expect_code(2);
                assert!(doctor.stdout.contains("liby.so"), "{}", doctor.stdout);
            }
        }
    }
}

/// Gives `path` to uid 65534 (nobody), as another user's file would be; needs root.
fn give_away(path: &Path) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test gives files to uid 65534 (another user), which needs root: run the tests as \
         root"
    );
    std::os::unix::fs::lchown(path, Some(65534), Some(65534)).unwrap();
}

/// The issue's probe: a folder anyone can write (mode 1777) holds the run config's folder, and
/// another user planted `providers/` in it, whose `command:` would run as you.
#[test]
fn a_provider_another_user_planted_is_refused_saying_why() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let shared = env.path().join("shared");
    env.write("shared/team/model/config.json", "{}");
    env.write(
        "shared/team/run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: p\n",
    );
    let planted = env.write(
        "shared/providers/p.yaml",
        "command: [/bin/sh, -c, 'touch pwned']\n",
    );
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    give_away(planted.parent().unwrap());
    give_away(&planted);
    let run = env.run(&["config", "explain", "-c", "shared/team/run.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("provider config `p`")
            && run
                .stderr
                .contains("owned by uid 65534 (nobody) (mode 0644), not by you")
            && run
                .stderr
                .contains("as git refuses a repository another user owns"),
        "{}",
        run.stderr
    );
    // the same file, made yours, is used
    std::os::unix::fs::lchown(planted.parent().unwrap(), Some(0), Some(0)).unwrap();
    std::os::unix::fs::lchown(&planted, Some(0), Some(0)).unwrap();
    env.run(&["config", "explain", "-c", "shared/team/run.yaml"])
        .expect_code(0);
}

#[test]
fn a_task_file_another_user_can_change_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = setup();
    env.write("run.yaml", "model:\n  name: ./model\ntasks:\n  - t\n");
    let task = env.write("tasks/t.yaml", "name: t\n");
    // your own folder, but another user's file in it
    give_away(&task);
    let run = env.run(&["config", "explain", "-c", "run.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("task `t`") && run.stderr.contains("t.yaml is owned by uid 65534"),
        "{}",
        run.stderr
    );
    // root's folder that everyone can write (no sticky bit) is not safe either
    std::os::unix::fs::lchown(&task, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(
        task.parent().unwrap(),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    give_away(task.parent().unwrap());
    let run = env.run(&["config", "explain", "-c", "run.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("tasks is owned by uid 65534"),
        "{}",
        run.stderr
    );
}

/// Lookup climbs no further than the folder holding `configs/`, a repository root or home:
/// a provider above that is never used.
#[test]
fn lookup_stops_at_the_boundary() {
    for boundary in ["configs", ".git", "home"] {
        let env = TestEnv::new();
        env.write("providers/p.yaml", "{}\n");
        let project = env.path().join("project");
        match boundary {
            "home" => {}
            marker => std::fs::create_dir_all(project.join(marker)).unwrap(),
        }
        env.write(
            "project/runs/run.yaml",
            "model:\n  name: org/model\nvllm:\n  provider_config: p\n",
        );
        let mut env = env;
        let home = if boundary == "home" {
            project.clone()
        } else {
            env.path().to_owned()
        };
        env.env("HOME", home.to_str().unwrap());
        let run = env.run(&["config", "explain", "-c", "project/runs/run.yaml"]);
        run.expect_code(2);
        let looked: Vec<&str> = run.stderr.split(", ").collect();
        assert!(
            run.stderr.contains("provider config `p` not found")
                && run
                    .stderr
                    .contains(&format!("{}/providers/p.yaml", project.display()))
                && !run
                    .stderr
                    .contains(&format!("{}/providers/p.yaml", env.path().display())),
            "{boundary}: {looked:?}"
        );
    }
}

/// Plugin folders and files follow the same rule: one another user can change is listed with
/// why, counted by `doctor`, never loaded, and refused by name.
#[test]
fn plugin_folders_and_files_another_user_can_change_are_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let site = crate::workspace_builds::library("benchy_site_registry");
    let mut env = setup();
    env.write("reg/model.json", r#"{"temperature": 0.6}"#);
    let dir = env.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("libsite.so");
    std::fs::copy(&site, &file).unwrap();
    give_away(&file);
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    let list = env.run(&["plugins", "list", "--format", "json"]);
    list.expect_code(0);
    assert_eq!(
        list.json()["plugins"][0]["status"],
        "unsafe",
        "{}",
        list.stdout
    );
    env.run(&["plugins", "doctor"]).expect_code(2);
    let run = env.run(&[
        "config", "explain", "-c", "run.yaml", "--source", "site:reg",
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("owned by uid 65534"), "{}", run.stderr);
    let flagged = env.run(&[
        "config",
        "explain",
        "-c",
        "run.yaml",
        "--plugin",
        file.to_str().unwrap(),
    ]);
    flagged.expect_code(2);
    assert!(flagged.stderr.contains("refused"), "{}", flagged.stderr);
    let install = env.run(&["plugins", "install", file.to_str().unwrap()]);
    install.expect_code(2);

    // a world-writable folder on the path (not yours, no sticky bit) is ignored as a whole
    std::os::unix::fs::lchown(&file, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    give_away(&dir);
    let list = env.run(&["plugins", "list", "--format", "json"]);
    let search = list.json()["search_path"][0].clone();
    assert!(
        search["state"]
            .as_str()
            .unwrap()
            .starts_with("ignored: owned by uid 65534"),
        "{search:#}"
    );
    assert_eq!(list.json()["plugins"], serde_json::json!([]));
    env.run(&["plugins", "doctor"]).expect_code(2);
}

/// A link loop on the plugin path is listed and counted by `doctor`; an empty entry is shown
/// as ignored; `install` says what a path that is no file is.
#[test]
fn plugin_path_odds_are_shown() {
    let env = setup();
    for (path, said) in [
        (
            "/dev/null",
            "/dev/null: a device, not a plugin library file",
        ),
        ("model", "model: a folder, not a plugin library file"),
    ] {
        let install = env.run(&["plugins", "install", path]);
        install.expect_code(2);
        assert!(install.stderr.contains(said), "{}", install.stderr);
    }
    let mut env = env;
    let dir = env.path().join("plugins");
    Hostile::LinkLoop.plant(&dir.join("libloop.so"));
    env.env("BENCHY_PLUGIN_PATH", &format!("{}:", dir.display()));
    let list = env.run(&["plugins", "list"]);
    list.expect_code(0);
    assert!(
        list.stdout.contains("libloop.so") && list.stdout.contains("ignored: an empty entry"),
        "{}",
        list.stdout
    );
    let doctor = env.run(&["plugins", "doctor"]);
    doctor.expect_code(2);
    assert!(
        doctor.stderr.contains(
            "1 plugin file(s) checked: 1 with problems; 1 search path entry(ies) with problems"
        ),
        "{}",
        doctor.stderr
    );
}

/// Yours, but everyone may write it: used, with a warning that says how to close it (`doctor`
/// counts it); an installed copy is writable by nobody but you.
#[test]
fn files_of_yours_that_everyone_may_write_are_used_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let everyone = |path: &Path| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    };
    let mut env = setup();
    env.write(
        "run.yaml",
        "model:\n  name: ./model\nvllm:\n  provider_config: p\n",
    );
    everyone(&env.write("providers/p.yaml", "port: 8000\n"));
    let run = env.run(&["config", "explain", "-c", "run.yaml"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("p.yaml is yours but writable by everyone (mode 0777)")
            && run.stderr.contains("chmod o-w"),
        "{}",
        run.stderr
    );

    env.write("reg/model.json", r#"{"temperature": 0.6}"#);
    let dir = env.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("libsite.so");
    std::fs::copy(
        crate::workspace_builds::library("benchy_site_registry"),
        &file,
    )
    .unwrap();
    everyone(&file);
    everyone(&dir);
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    let list = env.run(&["plugins", "list", "--format", "json"]);
    list.expect_code(0);
    let json = list.json();
    assert!(
        json["search_path"][0]["state"]
            .as_str()
            .unwrap()
            .starts_with("searched; warning: "),
        "{json:#}"
    );
    assert_eq!(json["plugins"][0]["status"], "ok");
    assert!(
        json["plugins"][0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("libsite.so is yours but writable by everyone"),
        "{json:#}"
    );
    env.run(&["plugins", "doctor"]).expect_code(2);
    let used = env.run(&[
        "config", "explain", "-c", "run.yaml", "--source", "site:reg",
    ]);
    used.expect_code(0);
    assert!(
        used.stderr.contains("writable by everyone"),
        "{}",
        used.stderr
    );

    env.run(&["plugins", "install", file.to_str().unwrap()])
        .expect_code(0);
    let installed = env.path().join(".local/share/benchy/plugins/libsite.so");
    let mode = std::fs::metadata(installed).unwrap().permissions().mode();
    assert_eq!(mode & 0o022, 0, "installed with mode {mode:o}");
}
