//! The plugin side of the boundary: what a plugin author writes is one [`export_plugin!`] call;
//! this module is what it expands to. The C functions here read the host's request, run the
//! plugin's trait object inside `catch_unwind`, and hand back a JSON reply the host frees
//! through [`free`].
//!
//! [`export_plugin!`]: crate::export_plugin
// The boundary: `call` and `free` are the C functions a plugin exports; they turn the host's
// raw pointers into slices and hand buffers across.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::{ByteBuf, ByteView, STATUS_ERROR, STATUS_FAULT, STATUS_OK};
use crate::backend::{Backend, CollectRequest, PlanRequest};
use crate::protocol::{self, Call, Description, Fault};
use crate::source::{ConfigSource, SourceRequest};

/// The line a plugin's embedded manifest starts with (what [`export_plugin!`] writes): the
/// host finds the manifest in a library's bytes by it, without loading the library.
pub const MANIFEST_BEGIN: &str = "<benchy-plugin-manifest>\n";
/// The line a plugin's embedded manifest ends with.
pub const MANIFEST_END: &str = "\n</benchy-plugin-manifest>";

/// Makes this crate a benchy plugin: exports the entry function and embeds the manifest.
///
/// ```
/// use benchy_core::{ConfigSource, SourceError, SourceReply, SourceRequest};
///
/// #[derive(Debug, Default)]
/// struct SiteSource;
///
/// impl ConfigSource for SiteSource {
///     fn resolve(&self, _: &SourceRequest) -> Result<SourceReply, SourceError> {
///         Ok(SourceReply::default())
///     }
/// }
///
/// benchy_core::export_plugin! {
///     sources: ["site" => SiteSource::default()],
///     // task_backends: ["my-evaluator" => MyEvaluator::new()],
///     // server_backends: ["my-server" => MyServer::new()],
/// }
/// # fn main() {
/// #     let manifest = std::str::from_utf8(benchy_plugin_entry().manifest_bytes()).unwrap();
/// #     assert!(manifest.contains("sources = [\"site\", ]"), "{manifest}");
/// # }
/// ```
///
/// Any list may be left out. A task backend runs tasks against a server (`--backend`); a server
/// backend plans the server a run launches (a provider config's `backend`). Names are lowercase ASCII letters, digits, `-`, `_` and `.`,
/// starting with a letter; the check runs at compile time. The expressions run once, on the
/// first call from the host, not when the library is loaded. The plugin's name and version in
/// its manifest are the package's (`CARGO_PKG_NAME`, `CARGO_PKG_VERSION`).
///
/// The expansion defines `pub extern "C" fn benchy_plugin_entry()`, exported under the name
/// `benchy_plugin_v1_<crate name>`; write the call once per crate, at its root. The crate is
/// built as a `cdylib` (add `rlib` too to test it in-process). A crate that says
/// `#![forbid(unsafe_code)]` cannot use the macro, because exporting a symbol by name is an
/// unsafe attribute; `deny` works.
#[macro_export]
macro_rules! export_plugin {
    ($($body:tt)*) => {
        $crate::__export_plugin! { abi: 1, protocol: 1, $($body)* }
    };
}

/// [`export_plugin!`] with the ABI and protocol versions spelled out (they must be literals to
/// be part of the symbol name and manifest). Public only for tests of version mismatches.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    (
        abi: $abi:literal, protocol: $protocol:literal,
        $(sources: [$($scheme:literal => $source:expr),* $(,)?] $(,)?)?
        $(task_backends: [$($task_name:literal => $task:expr),* $(,)?] $(,)?)?
        $(server_backends: [$($server_name:literal => $server:expr),* $(,)?] $(,)?)?
    ) => {
        /// The plugin's entry point, exported as `benchy_plugin_v<ABI>_<crate name>`: the table
        /// benchy drives this plugin through.
        // `export_name` is what the host looks up; the function itself is safe.
        #[allow(unsafe_code)]
        #[unsafe(export_name = concat!("benchy_plugin_v", $abi, "_", env!("CARGO_CRATE_NAME")))]
        pub extern "C" fn benchy_plugin_entry() -> &'static $crate::abi::PluginTable {
            $($(const _: () = $crate::sdk::check_name($scheme);)*)?
            $($(const _: () = $crate::sdk::check_name($task_name);)*)?
            $($(const _: () = $crate::sdk::check_name($server_name);)*)?
            const MANIFEST: &str = $crate::__plugin_manifest!(
                abi: $abi,
                protocol: $protocol,
                sources: [$($($scheme),*)?],
                task_backends: [$($($task_name),*)?],
                server_backends: [$($($server_name),*)?]
            );
            fn providers() -> $crate::sdk::Providers {
                $crate::sdk::Providers::new()
                    $($(.source($scheme, $source))*)?
                    $($(.task_backend($task_name, $task))*)?
                    $($(.server_backend($server_name, $server))*)?
            }
            static PLUGIN: $crate::sdk::Plugin = $crate::sdk::Plugin::new(providers);
            static TABLE: $crate::abi::PluginTable =
                $crate::abi::PluginTable::new($abi, $protocol, MANIFEST, &PLUGIN);
            &TABLE
        }
    };
}

/// The manifest text, between its markers, as one string literal: the plugin's table points at
/// it and `benchy plugins list` finds it in the file without loading the library (see
/// [`crate::manifest`]). TOML arrays accept the trailing commas `concat!` leaves.
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_manifest {
    (
        abi: $abi:literal,
        protocol: $protocol:literal,
        sources: [$($scheme:literal),*],
        task_backends: [$($task_name:literal),*],
        server_backends: [$($server_name:literal),*]
    ) => {
        concat!(
            "<benchy-plugin-manifest>\n",
            "name = \"", env!("CARGO_PKG_NAME"), "\"\n",
            "version = \"", env!("CARGO_PKG_VERSION"), "\"\n",
            "abi_version = ", $abi, "\n",
            "protocol_version = ", $protocol, "\n",
            "entry = \"benchy_plugin_v", $abi, "_", env!("CARGO_CRATE_NAME"), "\"\n",
            "sources = [", $("\"", $scheme, "\", ",)* "]\n",
            "task_backends = [", $("\"", $task_name, "\", ",)* "]\n",
            "server_backends = [", $("\"", $server_name, "\", ",)* "]\n",
            "</benchy-plugin-manifest>"
        )
    };
}

/// Whether `name` may be a source scheme or backend name: lowercase ASCII letters, digits,
/// `-`, `_`, `.`, starting with a letter.
pub const fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.') {
            return false;
        }
        i += 1;
    }
    true
}

/// The compile-time form of [`is_valid_name`] that `export_plugin!` uses.
pub const fn check_name(name: &str) {
    assert!(
        is_valid_name(name),
        "a plugin's source scheme or backend name is lowercase ASCII letters, digits, `-`, `_` \
         and `.`, starting with a letter"
    );
}

/// The sources and backends one plugin serves, by name.
#[derive(Default)]
pub struct Providers {
    sources: Vec<(&'static str, Box<dyn ConfigSource>)>,
    task_backends: Vec<(&'static str, Box<dyn Backend>)>,
    server_backends: Vec<(&'static str, Box<dyn Backend>)>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("description", &self.description())
            .finish()
    }
}

impl Providers {
    pub fn new() -> Providers {
        Providers::default()
    }

    pub fn source(mut self, scheme: &'static str, source: impl ConfigSource + 'static) -> Self {
        self.sources.push((scheme, Box::new(source)));
        self
    }

    pub fn task_backend(mut self, name: &'static str, backend: impl Backend + 'static) -> Self {
        self.task_backends.push((name, Box::new(backend)));
        self
    }

    pub fn server_backend(mut self, name: &'static str, backend: impl Backend + 'static) -> Self {
        self.server_backends.push((name, Box::new(backend)));
        self
    }

    fn description(&self) -> Description {
        fn names<T: ?Sized>(list: &[(&'static str, Box<T>)]) -> Vec<String> {
            list.iter().map(|(n, _)| (*n).to_owned()).collect()
        }
        Description {
            sources: names(&self.sources),
            task_backends: names(&self.task_backends),
            server_backends: names(&self.server_backends),
        }
    }

    fn find_source(&self, scheme: &str) -> Result<&dyn ConfigSource, Outcome> {
        self.sources
            .iter()
            .find(|(n, _)| *n == scheme)
            .map(|(_, s)| s.as_ref())
            .ok_or_else(|| fault(format!("this plugin has no source `{scheme}`")))
    }

    fn find_backend(&self, name: &str) -> Result<&dyn Backend, Outcome> {
        self.task_backends
            .iter()
            .chain(&self.server_backends)
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.as_ref())
            .ok_or_else(|| fault(format!("this plugin has no backend `{name}`")))
    }
}

/// One plugin's state behind its table: the providers, built on the first call.
pub struct Plugin {
    init: fn() -> Providers,
    providers: OnceLock<Providers>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("providers", &self.providers.get())
            .finish()
    }
}

/// A status and the JSON bytes that go with it.
type Outcome = (i32, Vec<u8>);

impl Plugin {
    pub const fn new(init: fn() -> Providers) -> Plugin {
        Plugin {
            init,
            providers: OnceLock::new(),
        }
    }

    /// Runs one call; a panic anywhere in it (the providers' construction included) becomes a
    /// fault, because unwinding out of an `extern "C"` function would abort the host. The panic
    /// prints nothing of its own: its message reaches the host in the fault, which says it once.
    fn handle(&self, method: &[u8], request: &[u8]) -> Outcome {
        quiet_panics_in_calls();
        IN_CALL.set(true);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            self.dispatch(method, request)
                .unwrap_or_else(|outcome| outcome)
        }));
        IN_CALL.set(false);
        outcome.unwrap_or_else(|payload| fault(format!("panicked: {}", panic_message(&*payload))))
    }

    fn dispatch(&self, method: &[u8], request: &[u8]) -> Result<Outcome, Outcome> {
        let providers = self.providers.get_or_init(self.init);
        let method = std::str::from_utf8(method)
            .map_err(|_| fault("the method name is not UTF-8".to_owned()))?;
        Ok(match method {
            protocol::DESCRIBE => encode(STATUS_OK, &providers.description()),
            protocol::RESOLVE => {
                let call: Call<SourceRequest> = decode(method, request)?;
                reply(providers.find_source(&call.name)?.resolve(&call.request))
            }
            protocol::PLAN => {
                let call: Call<PlanRequest> = decode(method, request)?;
                reply(providers.find_backend(&call.name)?.plan(&call.request))
            }
            protocol::COLLECT => {
                let call: Call<CollectRequest> = decode(method, request)?;
                reply(providers.find_backend(&call.name)?.collect(&call.request))
            }
            other => fault(format!(
                "unknown method `{other}` (this plugin speaks protocol {})",
                crate::abi::PROTOCOL_VERSION
            )),
        })
    }
}

thread_local! {
    /// Whether this thread is inside a call from the host.
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once, a panic hook that stays silent inside a call from the host and hands every
/// other panic to the hook it replaced. In a plugin library the hook is the library's own (its
/// copy of std); linked into the host, it wraps the host's.
fn quiet_panics_in_calls() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_CALL.get() {
                previous(info);
            }
        }));
    });
}

fn decode<T: DeserializeOwned>(method: &str, request: &[u8]) -> Result<T, Outcome> {
    serde_json::from_slice(request)
        .map_err(|e| fault(format!("cannot read the {method} request: {e}")))
}

fn reply<T: Serialize, E: Serialize>(result: Result<T, E>) -> Outcome {
    match result {
        Ok(value) => encode(STATUS_OK, &value),
        Err(error) => encode(STATUS_ERROR, &error),
    }
}

fn encode<T: Serialize>(status: i32, value: &T) -> Outcome {
    match serde_json::to_vec(value) {
        Ok(bytes) => (status, bytes),
        Err(e) => fault(format!("cannot write the reply as JSON: {e}")),
    }
}

fn fault(message: String) -> Outcome {
    let bytes = serde_json::to_vec(&Fault { message }).unwrap_or_default();
    (STATUS_FAULT, bytes)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// The table's `call` for SDK plugins.
///
/// # Safety
/// `context` must be the `&'static Plugin` the table was built with ([`PluginTable::new`] pairs
/// them); `method` and `request` must be readable for the call; `reply` must be null or point at
/// a `ByteBuf` the plugin may overwrite.
///
/// [`PluginTable::new`]: crate::abi::PluginTable::new
pub(crate) unsafe extern "C" fn call(
    context: *const c_void,
    method: ByteView,
    request: ByteView,
    reply: *mut ByteBuf,
) -> i32 {
    if reply.is_null() {
        return STATUS_FAULT;
    }
    // SAFETY: `PluginTable::new` stores a `&'static Plugin` as the context, and the host passes
    // the table's own context back.
    let plugin = unsafe { &*context.cast::<Plugin>() };
    // SAFETY: the host lends both views for the duration of this call.
    let (method, request) = unsafe { (method.as_slice(), request.as_slice()) };
    let (status, bytes) = plugin.handle(method, request);
    // SAFETY: `reply` is non-null and points at a `ByteBuf` the host set aside for the reply.
    unsafe { reply.write(ByteBuf::from_vec(bytes)) };
    status
}

/// The table's `free` for SDK plugins.
///
/// # Safety
/// `buffer` must be one `call` wrote, freed once.
pub(crate) unsafe extern "C" fn free(_context: *const c_void, buffer: ByteBuf) {
    // SAFETY: `call` made the buffer with `ByteBuf::from_vec` in this library; the host returns
    // each buffer once.
    drop(unsafe { buffer.into_vec() });
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::export_plugin! {}

    #[test]
    fn the_manifest_sits_between_its_markers() {
        let bytes = benchy_plugin_entry().manifest_bytes();
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with(MANIFEST_BEGIN) && text.ends_with(MANIFEST_END),
            "{text}"
        );
        assert!(
            text.contains("entry = \"benchy_plugin_v1_benchy_core\""),
            "{text}"
        );
    }

    #[test]
    fn names_are_lowercase_words() {
        for good in ["site", "hf", "lm-eval", "a.b_c-2"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "Site", "2x", "a:b", "a b", "-x", "a\"b", "é"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
