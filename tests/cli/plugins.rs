//! Plugins the way a user meets them: `benchy plugins list|doctor|install`, `--plugin PATH`,
//! `BENCHY_PLUGIN_PATH` and the user plugin directory, the example `site:` source used only
//! through its shared library, and every fault a plugin file can have.

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::harness::TestEnv;
use crate::workspace_builds::library;

const SITE: &str = "benchy_site_registry";
const FAULTY: &str = "benchy_fixture_faulty";
const BAD_JSON: &str = "benchy_fixture_bad_json";
const ABI_V2: &str = "benchy_fixture_abi_v2";
const NO_ENTRY: &str = "benchy_fixture_no_entry";
const NOT_A_PLUGIN: &str = "benchy_fixture_not_a_plugin";
const SOURCE_FILE: &str = "benchy_source_file";

fn file_name(crate_name: &str) -> String {
    format!(
        "{}{crate_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// A run config for `org/model`, a site registry `reg/` with an entry for it, and a marker path
/// the faulty fixture writes when it is loaded.
fn setup() -> TestEnv {
    let mut env = TestEnv::new();
    env.write(
        "models/run.yaml",
        "model:\n  name: org/model\ntasks:\n  - name: t\n    task_name: hellaswag\n",
    );
    env.write(
        "reg/org/model.json",
        "{\n  \"do_sample\": true,\n  \"temperature\": 0.6,\n  \"top_k\": 20,\n  \"eos_token_id\": 2\n}\n",
    );
    env.write("gen.json", r#"{"temperature": 0.2}"#);
    let marker = env.path().join("faulty-was-loaded");
    env.env("BENCHY_FIXTURE_LOADED", marker.to_str().unwrap());
    env
}

impl TestEnv {
    /// Copies the libraries of `crates` into `relative` (a plugin directory) and returns it.
    fn plugin_dir(&self, relative: &str, crates: &[&str]) -> PathBuf {
        let dir = self.path().join(relative);
        std::fs::create_dir_all(&dir).unwrap();
        for name in crates {
            std::fs::copy(library(name), dir.join(file_name(name))).unwrap();
        }
        dir
    }

    fn faulty_was_loaded(&self) -> bool {
        self.path().join("faulty-was-loaded").exists()
    }
}

/// A copy of the site registry whose ELF header is wiped: its manifest is intact, but no
/// loader will map it.
fn corrupt_copy(to: &Path) {
    let mut bytes = std::fs::read(library(SITE)).unwrap();
    bytes[4..64].fill(0);
    std::fs::write(to, bytes).unwrap();
}

fn the_site_layer(run: &crate::harness::Run) {
    run.expect_code(0);
    let resolved = &run.json()["resolved"];
    assert_eq!(
        resolved["temperature"],
        json!({"value": 0.6, "source": "site:reg/org/model.json"})
    );
    assert_eq!(
        resolved["top_k"],
        json!({"value": 20, "source": "site:reg/org/model.json"})
    );
}

fn row<'a>(list: &'a Json, file: &str) -> &'a Json {
    list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"].as_str().unwrap().ends_with(file))
        .unwrap_or_else(|| panic!("{file} not listed: {list:#}"))
}

#[test]
fn the_site_source_works_through_a_plugin_flag() {
    let env = setup();
    let site = env.plugin_dir("libs", &[SITE]).join(file_name(SITE));
    the_site_layer(&env.explain_json(&[
        "--source",
        "site:reg",
        "--plugin",
        site.to_str().unwrap(),
    ]));
    // a relative flag is the user's own word, resolved against the working directory
    let relative = format!("libs/{}", file_name(SITE));
    the_site_layer(&env.explain_json(&["--plugin", &relative, "--source", "site:reg"]));
}

#[test]
fn the_site_source_works_through_benchy_plugin_path() {
    let mut env = setup();
    let dir = env.plugin_dir("plugins", &[SITE]);
    let path = std::env::join_paths([env.path().join("missing"), dir]).unwrap();
    env.env("BENCHY_PLUGIN_PATH", path.to_str().unwrap());
    the_site_layer(&env.explain_json(&["--source", "site:reg"]));
}

#[test]
fn the_current_directory_is_never_searched_implicitly() {
    let mut env = setup();
    env.plugin_dir(".", &[SITE]);
    env.plugin_dir("rel", &[SITE]);
    // an empty entry and a relative one would both mean the working directory to a shell
    env.env("BENCHY_PLUGIN_PATH", ":rel");
    let run = env.explain_json(&["--source", "site:reg"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown source scheme `site`"),
        "{}",
        run.stderr
    );
    let list = env.run(&["plugins", "list", "--format", "json"]);
    list.expect_code(0);
    let search = list.json()["search_path"].clone();
    assert_eq!(search[0]["dir"], "", "{search:#}");
    assert_eq!(
        search[0]["state"],
        "ignored: an empty entry (a shell would read the current directory)"
    );
    assert_eq!(search[1]["dir"], "rel", "{search:#}");
    assert_eq!(search[1]["state"], "ignored: not an absolute path");
    assert_eq!(list.json()["plugins"], json!([]));
}

#[test]
fn a_registry_without_the_model_warns_unless_the_source_is_required() {
    let env = setup();
    let site = library(SITE);
    env.write("other/org/different.json", "{}");
    let run = env.explain_json(&["--plugin", site.to_str().unwrap(), "--source", "site:other"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains("has no entry for org/model") && run.stderr.contains(SITE),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("continuing without this layer"),
        "{}",
        run.stderr
    );
    env.write(
        "models/strict.yaml",
        "model:\n  name: org/model\nrequire_sources: [site]\ntasks:\n  - name: t\n    task_name: hellaswag\n",
    );
    let run = env.run(&[
        "config",
        "explain",
        "-c",
        "models/strict.yaml",
        "--plugin",
        site.to_str().unwrap(),
        "--source",
        "site:other",
    ]);
    run.expect_code(1);
    assert!(run.stderr.contains("require_sources"), "{}", run.stderr);
}

#[test]
fn list_shows_builtins_and_every_file_without_loading_any() {
    let mut env = setup();
    let dir = env.plugin_dir("plugins", &[SITE, FAULTY, ABI_V2, NOT_A_PLUGIN]);
    std::fs::write(dir.join("librandom.so"), b"\x13\x37 not a library at all").unwrap();
    std::fs::write(dir.join("README.txt"), "not a library name: not listed").unwrap();
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    let run = env.run(&["plugins", "list", "--format", "json"]);
    run.expect_code(0);
    let list = run.json();
    let builtin = list["builtin"]["sources"].as_array().unwrap();
    assert!(
        builtin.contains(&json!("file")) && builtin.contains(&json!("yaml")),
        "{list:#}"
    );
    assert_eq!(list["plugins"].as_array().unwrap().len(), 5, "{list:#}");
    let site = row(&list, &file_name(SITE));
    assert_eq!(site["name"], "benchy-site-registry");
    assert_eq!(site["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(site["kind"], "source");
    assert_eq!(site["sources"], json!(["site"]));
    assert_eq!(site["origin"], "BENCHY_PLUGIN_PATH");
    assert_eq!(site["status"], "ok");
    let faulty = row(&list, &file_name(FAULTY));
    assert_eq!(faulty["status"], "partly used");
    assert_eq!(
        faulty["problems"],
        json!(["its source `yaml` is not used: the built-in provides it"])
    );
    assert_eq!(row(&list, &file_name(ABI_V2))["status"], "incompatible");
    assert!(
        row(&list, &file_name(ABI_V2))["problems"][0]
            .as_str()
            .unwrap()
            .contains("built for plugin ABI v2")
    );
    assert_eq!(
        row(&list, &file_name(NOT_A_PLUGIN))["status"],
        "not a plugin"
    );
    assert_eq!(row(&list, "librandom.so")["status"], "not a library");
    assert!(!env.faulty_was_loaded(), "listing must not load a library");

    let table = env.run(&["plugins", "list"]);
    table.expect_code(0);
    let builtin_line = table.stdout.lines().next().unwrap();
    assert!(
        builtin_line.starts_with("Built in: sources ") && builtin_line.contains("yaml"),
        "{}",
        table.stdout
    );
    let site_line = table
        .stdout
        .lines()
        .find(|l| l.contains("benchy-site-registry"))
        .unwrap();
    assert_eq!(
        site_line.split_whitespace().collect::<Vec<_>>(),
        [
            "benchy-site-registry",
            env!("CARGO_PKG_VERSION"),
            "source",
            "site",
            "ok",
            dir.join(file_name(SITE)).to_str().unwrap()
        ]
    );
    assert!(!env.faulty_was_loaded());
}

#[test]
fn list_with_no_plugins_shows_the_builtins_and_where_it_looked() {
    let env = setup();
    let run = env.run(&["plugins", "list"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("No plugin files found."),
        "{}",
        run.stdout
    );
    let user_dir = env.path().join(".local/share/benchy/plugins");
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("user plugin dir"))
        .unwrap();
    assert!(
        line.contains(user_dir.to_str().unwrap()) && line.ends_with("missing"),
        "{line}"
    );
}

#[test]
fn doctor_loads_each_plugin_and_names_every_problem() {
    let mut env = setup();
    let dir = env.plugin_dir(
        "plugins",
        &[SITE, FAULTY, BAD_JSON, ABI_V2, NO_ENTRY, NOT_A_PLUGIN],
    );
    std::fs::write(dir.join("librandom.so"), b"\x13\x37 random bytes").unwrap();
    let corrupt = env.plugin_dir("corrupt", &[]).join("libcorrupt.so");
    corrupt_copy(&corrupt);
    let path = std::env::join_paths([&dir, &corrupt.parent().unwrap().to_owned()]).unwrap();
    env.env("BENCHY_PLUGIN_PATH", path.to_str().unwrap());
    let run = env.run(&["plugins", "doctor", "--format", "json"]);
    run.expect_code(2);
    let report = run.json();
    let problems = |file: &str| -> String {
        row(&report, file)["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert_eq!(row(&report, &file_name(SITE))["status"], "ok");
    assert_eq!(problems(&file_name(SITE)), "");
    // the faulty plugin loads fine; only its built-in name is a problem
    assert_eq!(
        problems(&file_name(FAULTY)),
        "its source `yaml` is not used: the built-in provides it"
    );
    assert!(env.faulty_was_loaded(), "doctor loads libraries");
    let expectations = [
        (
            file_name(BAD_JSON),
            "plugin.describe returned a reply that is not valid JSON",
        ),
        (file_name(ABI_V2), "built for plugin ABI v2"),
        (
            file_name(NO_ENTRY),
            "does not export its entry symbol `benchy_plugin_v1_benchy_fixture_no_entry`",
        ),
        (file_name(NOT_A_PLUGIN), "not a benchy plugin"),
        ("librandom.so".to_owned(), "not a shared library"),
        ("libcorrupt.so".to_owned(), "cannot load the library"),
    ];
    for (file, expected) in &expectations {
        assert_eq!(row(&report, file)["status"], "problem", "{file}");
        assert!(
            problems(file).contains(expected),
            "{file}: {}",
            problems(file)
        );
    }

    let table = env.run(&["plugins", "doctor"]);
    table.expect_code(2);
    for (file, expected) in &expectations {
        assert!(
            table
                .stdout
                .lines()
                .any(|l| l.contains(file.as_str()) && l.contains(expected)),
            "{file}:\n{}",
            table.stdout
        );
    }
    assert!(
        table
            .stderr
            .contains("8 plugin file(s) checked: 7 with problems"),
        "{}",
        table.stderr
    );
}

#[test]
fn doctor_passes_when_every_plugin_is_sound() {
    let mut env = setup();
    let dir = env.plugin_dir("plugins", &[SITE]);
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    let run = env.run(&["plugins", "doctor"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("1 plugin file(s) checked: 0 with problems"),
        "{}",
        run.stderr
    );
    // a search path entry that cannot work is a problem too
    env.env("BENCHY_PLUGIN_PATH", &format!("{}:relative", dir.display()));
    let run = env.run(&["plugins", "doctor"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("1 search path entry(ies) with problems"),
        "{}",
        run.stderr
    );
}

#[test]
fn install_checks_the_library_then_copies_it_into_the_user_plugin_dir() {
    let env = setup();
    let site = library(SITE);
    let run = env.run(&["plugins", "install", site.to_str().unwrap()]);
    run.expect_code(0);
    let user_dir = env.path().join(".local/share/benchy/plugins");
    let installed = user_dir.join(file_name(SITE));
    assert_eq!(
        run.stdout.trim(),
        format!(
            "installed benchy-site-registry {} (source site) as {}",
            env!("CARGO_PKG_VERSION"),
            installed.display()
        )
    );
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&site).unwrap()
    );
    // found with no flag and no BENCHY_PLUGIN_PATH
    the_site_layer(&env.explain_json(&["--source", "site:reg"]));
    let list = env.run(&["plugins", "list", "--format", "json"]);
    assert_eq!(
        row(&list.json(), &file_name(SITE))["origin"],
        "user plugin dir"
    );
    // installing again replaces the copy and leaves nothing else behind
    env.run(&["plugins", "install", site.to_str().unwrap()])
        .expect_code(0);
    let names: Vec<_> = std::fs::read_dir(&user_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [file_name(SITE)]);
}

#[test]
fn install_refuses_anything_but_a_sound_plugin() {
    let env = setup();
    let random = env.write("librandom.so", "random bytes");
    let renamed = env.path().join("site-registry.bin");
    std::fs::copy(library(SITE), &renamed).unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (env.path().join("libmissing.so"), "No such file"),
        (random, "not a shared library"),
        (renamed, "plugin directories hold only .so files"),
        (library(NOT_A_PLUGIN), "not a benchy plugin"),
        (library(ABI_V2), "built for plugin ABI v2"),
        (library(BAD_JSON), "not valid JSON"),
        (library(NO_ENTRY), "does not export its entry symbol"),
        (
            library(SOURCE_FILE),
            "declares the source `file`, which is built in; a plugin cannot replace a built-in",
        ),
        (
            library(FAULTY),
            "declares the source `yaml`, which is built in",
        ),
    ];
    for (path, expected) in &cases {
        let run = env.run(&["plugins", "install", path.to_str().unwrap()]);
        run.expect_code(2);
        assert!(
            run.stderr
                .contains(path.file_name().unwrap().to_str().unwrap())
                && run.stderr.contains(expected),
            "{}: {}",
            path.display(),
            run.stderr
        );
    }
    assert!(!env.path().join(".local/share/benchy/plugins").exists());
}

#[test]
fn install_refuses_a_name_another_installed_plugin_provides() {
    let env = setup();
    env.run(&["plugins", "install", library(SITE).to_str().unwrap()])
        .expect_code(0);
    let twin = env.path().join("libsite_twin.so");
    std::fs::copy(library(SITE), &twin).unwrap();
    let run = env.run(&["plugins", "install", twin.to_str().unwrap()]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("its source `site` is already provided by plugin benchy-site-registry"),
        "{}",
        run.stderr
    );
}

#[test]
fn each_plugin_fault_names_the_file_and_the_problem() {
    let env = setup();
    let corrupt = env.path().join("libcorrupt.so");
    corrupt_copy(&corrupt);
    let faulty = library(FAULTY);
    let faulty = faulty.to_str().unwrap();
    let cases: Vec<(String, &str, &str)> = vec![
        (
            faulty.to_owned(),
            "panic:x",
            "source.resolve failed inside the plugin: panicked: the fixture panics on purpose for org/model",
        ),
        (
            faulty.to_owned(),
            "fail:x",
            "the fixture refuses fail:x on purpose",
        ),
        (
            library(BAD_JSON).to_str().unwrap().to_owned(),
            "badjson:x",
            "source.resolve returned a reply that is not valid JSON",
        ),
        (
            library(NO_ENTRY).to_str().unwrap().to_owned(),
            "ghost:x",
            "does not export its entry symbol",
        ),
        (
            corrupt.to_str().unwrap().to_owned(),
            "site:reg",
            "cannot load the library",
        ),
    ];
    for (plugin, spec, expected) in &cases {
        let run = env.explain_json(&["--plugin", plugin, "--source", spec]);
        run.expect_code(2);
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{spec}: no error line:\n{}", run.stderr));
        assert!(
            line.contains(plugin.as_str()) && line.contains(expected),
            "{spec}: {line}"
        );
    }
    // a plugin for another ABI is refused from its manifest, before anything is loaded
    let v2 = library(ABI_V2);
    let run = env.explain_json(&["--plugin", v2.to_str().unwrap(), "--source", "future:x"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "--plugin {}: built for plugin ABI v2",
            v2.display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn files_named_with_plugin_must_be_plugins() {
    let env = setup();
    let random = env.write("librandom.so", "random bytes");
    let cases = [
        (env.path().join("libmissing.so"), "cannot read"),
        (random, "not a shared library"),
        (library(NOT_A_PLUGIN), "not a benchy plugin"),
    ];
    for (path, expected) in &cases {
        let run = env.explain_json(&[
            "--plugin",
            path.to_str().unwrap(),
            "--source",
            "file:gen.json",
        ]);
        run.expect_code(2);
        assert!(
            run.stderr
                .contains(&format!("--plugin {}: ", path.display()))
                && run.stderr.contains(expected),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn broken_files_on_the_path_do_not_break_runs_that_do_not_use_them() {
    let mut env = setup();
    let dir = env.plugin_dir(
        "plugins",
        &[FAULTY, BAD_JSON, ABI_V2, NO_ENTRY, NOT_A_PLUGIN, SITE],
    );
    std::fs::write(dir.join("librandom.so"), b"random bytes").unwrap();
    corrupt_copy(&dir.join("libcorrupt.so"));
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    let run = env.explain_json(&["--source", "file:gen.json"]);
    run.expect_code(0);
    assert_eq!(
        run.json()["resolved"]["temperature"],
        json!({"value": 0.2, "source": "file:gen.json"})
    );
    // the site plugin is used; the corrupt copy declaring `site` sorts after it
    the_site_layer(&env.explain_json(&["--source", "site:reg"]));
    assert!(!env.faulty_was_loaded(), "no run needed the faulty plugin");
    // and a fault in one plugin leaves the others working in the same run
    let run = env.explain_json(&["--source", "site:reg", "--source", "unavailable:x"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("the fixture has nothing for this model"),
        "{}",
        run.stderr
    );
    assert!(env.faulty_was_loaded());
}

#[test]
fn unknown_schemes_list_plugin_schemes_and_unusable_files() {
    let mut env = setup();
    let dir = env.plugin_dir("plugins", &[SITE, ABI_V2]);
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    let run = env.explain_json(&["--source", "nope:x"]);
    run.expect_code(2);
    let site = dir.join(file_name(SITE));
    let known = run
        .stderr
        .split("unknown source scheme `nope`; known: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", run.stderr));
    let plugin = known
        .find(&format!("site (plugin {})", site.display()))
        .unwrap_or_else(|| panic!("{known}"));
    // built-in names first
    assert!(known.find("file").unwrap() < plugin && known.find("yaml").unwrap() < plugin);
    // a name only an incompatible plugin declares says why that plugin cannot serve it
    let run = env.explain_json(&["--source", "future:x"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&format!(
            "not usable: {}: built for plugin ABI v2",
            dir.join(file_name(ABI_V2)).display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn a_plugin_cannot_replace_a_builtin_name() {
    let mut env = setup();
    env.write("over.yaml", "generation:\n  top_p: 0.5\n");
    let dir = env.plugin_dir("plugins", &[FAULTY]);
    env.env("BENCHY_PLUGIN_PATH", dir.to_str().unwrap());
    // the fixture's own `yaml` would panic: the built-in answers, and the plugin is not loaded
    let run = env.explain_json(&["--source", "yaml:over.yaml"]);
    run.expect_code(0);
    assert_eq!(
        run.json()["resolved"]["top_p"],
        json!({"value": 0.5, "source": "yaml:over.yaml"})
    );
    assert!(!env.faulty_was_loaded());
    // a run that uses the plugin hears about the name it does not get
    let run = env.explain_json(&["--source", "empty:x"]);
    run.expect_code(0);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("warning: plugin benchy-fixture-faulty")
                && l.ends_with("its source `yaml` is not used: the built-in provides it")),
        "{}",
        run.stderr
    );
}

#[test]
fn help_explains_discovery_and_installation() {
    let env = setup();
    let run = env.run(&["plugins", "--help"]);
    run.expect_code(0);
    for expected in [
        "BENCHY_PLUGIN_PATH",
        "--plugin PATH",
        "never in the current directory",
        "list",
        "doctor",
        "install",
    ] {
        assert!(run.stdout.contains(expected), "{expected}:\n{}", run.stdout);
    }
    let run = env.run(&["plugins", "install", "--help"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("benchy plugins install target/release/libbenchy_site_registry.so"),
        "{}",
        run.stdout
    );
    let run = env.run(&["config", "explain", "--help"]);
    assert!(run.stdout.contains("--plugin <PATH>"), "{}", run.stdout);
}
