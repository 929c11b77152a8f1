//! What a plugin costs: reading its manifest without loading it, loading it (manifest, dlopen,
//! symbol, table checks), one round trip through its table, and one `site:` resolve through the
//! library next to the same work done by the built-in `file:` source. The README quotes these.
//!
//! Loading is measured on a fresh copy of the library every time: the dynamic loader shares a
//! file that is already loaded, and benchy never unloads one.

#[path = "../tests/support/workspace_builds.rs"]
mod workspace_builds;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use benchy::plugin::adapter::describe;
use benchy::plugin::catalog::Origin;
use benchy::plugin::manifest::Manifest;
use benchy::plugin::{Catalog, PluginFile, Registry};
use benchy_core::{ConfigSource, ModelRef, SourceRequest};
use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};

fn request(dir: &Path, spec: &str) -> SourceRequest {
    let (scheme, argument) = SourceRequest::parse_spec(spec);
    SourceRequest {
        spec: spec.to_owned(),
        scheme,
        argument,
        model: ModelRef {
            name: "org/model".to_owned(),
            revision: None,
            local_dir: None,
        },
        base_dir: dir.to_owned(),
        offline: true,
    }
}

fn benches(c: &mut Criterion) {
    let library = workspace_builds::library("benchy_site_registry");
    let scratch = tempfile::tempdir().unwrap();

    c.bench_function("manifest_read_without_loading", |b| {
        b.iter(|| Manifest::read(black_box(&library)).unwrap())
    });

    let mut load = c.benchmark_group("load");
    load.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1));
    load.bench_function("open_and_check_a_fresh_library", |b| {
        b.iter_batched(
            || {
                let copy = tempfile::Builder::new()
                    .suffix(std::env::consts::DLL_SUFFIX)
                    .tempfile_in(scratch.path())
                    .unwrap()
                    .into_temp_path();
                std::fs::copy(&library, &copy).unwrap();
                copy
            },
            |copy| {
                let file = PluginFile::new(copy.to_path_buf(), Origin::Flag);
                file.connect().unwrap();
                copy
            },
            BatchSize::PerIteration,
        )
    });
    load.finish();

    let registry_dir = scratch.path().join("reg/org");
    std::fs::create_dir_all(&registry_dir).unwrap();
    std::fs::write(
        registry_dir.join("model.json"),
        r#"{"do_sample": true, "temperature": 0.7, "top_p": 0.9, "eos_token_id": 2}"#,
    )
    .unwrap();
    let mut registry = Registry::default();
    registry.set_plugins(Catalog::from_places(
        std::slice::from_ref(&library),
        Vec::new(),
        None,
    ));
    let site = registry.source("site").unwrap();
    let site_request = request(scratch.path(), "site:reg");
    site.resolve(&site_request).unwrap();
    let file_request = request(scratch.path(), "file:reg/org/model.json");
    let connected = PluginFile::new(library.clone(), Origin::Flag);
    let connection = connected.connect().unwrap();

    let mut call = c.benchmark_group("call");
    call.bench_function("describe_round_trip", |b| {
        b.iter(|| describe(black_box(connection)).unwrap())
    });
    call.bench_function("site_resolve_through_the_library", |b| {
        b.iter(|| site.resolve(black_box(&site_request)).unwrap())
    });
    call.bench_function("file_resolve_builtin", |b| {
        b.iter(|| {
            benchy_source_file::FileSource
                .resolve(black_box(&file_request))
                .unwrap()
        })
    });
    call.finish();
}

criterion_group!(plugin_call, benches);
criterion_main!(plugin_call);
