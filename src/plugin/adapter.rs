//! Adapters: an external plugin driven through the same traits as a built-in. Each trait call
//! opens the library if it is not open yet, sends the request as JSON through the table, and
//! reads the reply back into the trait's types (a layer is validated again on the way in).
//!
//! Whatever goes wrong comes back as the trait's own error, naming the plugin and its file:
//! a library that cannot be opened, a panic caught inside the plugin, a reply that is not valid
//! JSON, an error the plugin returned. For a source such faults are bad input (exit code 2);
//! for a backend they are bad input while planning (nothing has started) and a failed run while
//! collecting.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use benchy_core::abi::{STATUS_ERROR, STATUS_FAULT, STATUS_OK};
use benchy_core::backend::{Backend, BackendError, CollectRequest, Collected, Plan, PlanRequest};
use benchy_core::diagnostic::Diagnostic;
use benchy_core::problem::Problem;
use benchy_core::protocol::{self, Call, Description, Fault};
use benchy_core::source::{ConfigSource, SourceError, SourceReply, SourceRequest};

use super::catalog::PluginFile;
use super::loader::Connection;

/// A call that did not produce the method's result or error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("cannot write the {method} request: {error}")]
    Request { method: String, error: String },
    #[error("{method} failed inside the plugin: {message}")]
    Fault { method: String, message: String },
    #[error("{method} returned a reply that is not valid JSON for it ({error}): {excerpt}")]
    InvalidReply {
        method: String,
        error: String,
        excerpt: String,
    },
    #[error("{method} returned the unknown status {status}")]
    UnknownStatus { method: String, status: i32 },
}

/// Sends `request` to the plugin's source or backend `name` and reads the reply as `R`, or the
/// error as `E`.
pub fn invoke<Q, R, E>(
    connection: &Connection,
    method: &str,
    name: &str,
    request: &Q,
) -> Result<Result<R, E>, CallError>
where
    Q: Serialize,
    R: DeserializeOwned,
    E: DeserializeOwned,
{
    let call = Call {
        name: name.to_owned(),
        request,
    };
    let body = serde_json::to_vec(&call).map_err(|e| CallError::Request {
        method: method.to_owned(),
        error: e.to_string(),
    })?;
    let (status, reply) = connection.call(method, &body);
    match status {
        STATUS_OK => parse(method, &reply).map(Ok),
        STATUS_ERROR => parse(method, &reply).map(Err),
        STATUS_FAULT => {
            let fault: Fault = parse(method, &reply)?;
            Err(CallError::Fault {
                method: method.to_owned(),
                message: fault.message,
            })
        }
        status => Err(CallError::UnknownStatus {
            method: method.to_owned(),
            status,
        }),
    }
}

/// Asks the plugin what it serves (`plugin.describe`): a round trip through the table that
/// runs no source or backend.
pub fn describe(connection: &Connection) -> Result<Description, CallError> {
    match invoke::<_, Description, Fault>(connection, protocol::DESCRIBE, "", &())? {
        Ok(description) => Ok(description),
        Err(fault) => Err(CallError::Fault {
            method: protocol::DESCRIBE.to_owned(),
            message: fault.message,
        }),
    }
}

fn parse<T: DeserializeOwned>(method: &str, reply: &[u8]) -> Result<T, CallError> {
    serde_json::from_slice(reply).map_err(|e| {
        let text = String::from_utf8_lossy(&reply[..reply.len().min(120)]);
        CallError::InvalidReply {
            method: method.to_owned(),
            error: e.to_string(),
            excerpt: format!("{text:?}"),
        }
    })
}

/// A plugin's source scheme, as a [`ConfigSource`].
#[derive(Debug)]
pub struct PluginSource {
    plugin: Arc<PluginFile>,
    scheme: String,
    /// Warnings added to every reply (names of this plugin that others took).
    notes: Vec<Diagnostic>,
}

impl PluginSource {
    pub fn new(plugin: Arc<PluginFile>, scheme: &str, notes: Vec<Diagnostic>) -> PluginSource {
        PluginSource {
            plugin,
            scheme: scheme.to_owned(),
            notes,
        }
    }

    /// A fault of the plugin itself (it cannot be opened, it panicked, its reply is garbage):
    /// bad input, since the user chose the plugin.
    fn fault(&self, fault: impl std::fmt::Display) -> SourceError {
        SourceError::Input(Box::new(
            Problem::new(fault.to_string()).reported_by(self.plugin.label()),
        ))
    }
}

impl ConfigSource for PluginSource {
    fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError> {
        let connection = self.plugin.connect().map_err(|e| self.fault(e))?;
        let mut reply: SourceReply =
            match invoke::<_, _, SourceError>(connection, protocol::RESOLVE, &self.scheme, request)
            {
                Ok(Ok(reply)) => reply,
                Ok(Err(error)) => return Err(error.reported_by(&self.plugin.label())),
                Err(fault) => return Err(self.fault(fault)),
            };
        if let Some(layer) = &reply.layer {
            // Provenance is the point of benchy: a plugin's layer is shown under its own scheme.
            if layer.source.kind != self.scheme {
                return Err(self.fault(format!(
                    "its layer for `{}` says it came from `{}`; a plugin's layers carry its own \
                     scheme",
                    self.scheme, layer.source.kind
                )));
            }
        }
        reply.diagnostics.extend(self.notes.iter().cloned());
        Ok(reply)
    }
}

/// A plugin's backend, as a [`Backend`].
#[derive(Debug)]
pub struct PluginBackend {
    plugin: Arc<PluginFile>,
    name: String,
    notes: Vec<Diagnostic>,
}

impl PluginBackend {
    pub fn new(plugin: Arc<PluginFile>, name: &str, notes: Vec<Diagnostic>) -> PluginBackend {
        PluginBackend {
            plugin,
            name: name.to_owned(),
            notes,
        }
    }

    /// Runs `method`; faults become `fault` (bad input before anything started, a failed run
    /// after), the plugin's own errors keep their kind. Either way the plugin is named.
    fn run<Q: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        request: &Q,
        fault: fn(Box<Problem>) -> BackendError,
    ) -> Result<R, BackendError> {
        let label = self.plugin.label();
        let faulted = |e: &dyn std::fmt::Display| {
            fault(Box::new(Problem::new(e.to_string()).reported_by(&label)))
        };
        let connection = self.plugin.connect().map_err(|e| faulted(e))?;
        match invoke::<_, _, BackendError>(connection, method, &self.name, request) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) => Err(error.reported_by(&label)),
            Err(e) => Err(faulted(&e)),
        }
    }
}

impl Backend for PluginBackend {
    fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
        let mut plan: Plan = self.run(protocol::PLAN, request, BackendError::Input)?;
        plan.diagnostics.extend(self.notes.iter().cloned());
        Ok(plan)
    }

    fn collect(&self, request: &CollectRequest) -> Result<Collected, BackendError> {
        self.run(protocol::COLLECT, request, BackendError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use benchy_core::backend::{CollectRequest, PlanRequest};
    use benchy_core::layer::{Layer, SourceRef};
    use benchy_core::params::{Key, ParamValue};
    use benchy_core::source::ModelRef;

    /// Answers with a layer whose kind is the request's `argument` (to test the provenance
    /// check), panics for model `boom`, and fails for model `bad`.
    #[derive(Debug)]
    struct Echo;

    impl ConfigSource for Echo {
        fn resolve(&self, request: &SourceRequest) -> Result<SourceReply, SourceError> {
            match request.model.name.as_str() {
                "boom" => panic!("echo exploded"),
                "bad" => Err(SourceError::input("bad model")),
                "away" => Err(SourceError::unavailable("not here")),
                _ => {
                    let kind = request.argument.clone().unwrap_or_default();
                    let mut layer = Layer::new(SourceRef::new(kind, "detail"));
                    layer.set(Key::Temperature, ParamValue::Float(0.25));
                    Ok(SourceReply {
                        layer: Some(layer),
                        diagnostics: vec![Diagnostic::info("echoed")],
                        chat_template: None,
                    })
                }
            }
        }
    }

    /// Plans one record entry; fails to collect with no outcomes, panics with two.
    #[derive(Debug)]
    struct Recorder;

    impl Backend for Recorder {
        fn plan(&self, request: &PlanRequest) -> Result<Plan, BackendError> {
            if request.run.model.name == "boom" {
                panic!("recorder exploded");
            }
            let mut plan = Plan::default();
            plan.record
                .insert("model".into(), json!(request.run.model.name));
            Ok(plan)
        }

        fn collect(&self, request: &CollectRequest) -> Result<Collected, BackendError> {
            match request.outcomes.len() {
                0 => Err(BackendError::failed("nothing ran")),
                1 => Ok(Collected::default()),
                _ => panic!("too many"),
            }
        }
    }

    benchy_core::export_plugin! {
        sources: ["echo" => Echo],
        task_backends: ["recorder" => Recorder],
    }

    fn plugin() -> Arc<PluginFile> {
        let connection = Connection::from_table(benchy_plugin_entry()).expect("table checks");
        Arc::new(PluginFile::in_process(connection, "in-process test"))
    }

    fn request(model: &str, argument: &str) -> SourceRequest {
        SourceRequest {
            spec: format!("echo:{argument}"),
            scheme: "echo".into(),
            argument: Some(argument.into()),
            model: ModelRef {
                name: model.into(),
                revision: None,
                local_dir: None,
            },
            base_dir: ".".into(),
            offline: true,
        }
    }

    fn plan_request(model: &str) -> PlanRequest {
        serde_json::from_value(json!({
            "run": {
                "config_path": "run.yaml",
                "model": {"name": model, "short_name": model},
                "use_chat_completions": false,
                "tasks": [],
            },
            "options": {"run_dir": "/tmp/run", "log_samples": false},
        }))
        .expect("a minimal plan request")
    }

    #[test]
    fn the_manifest_written_by_the_macro_matches_the_code() {
        let connection = Connection::from_table(benchy_plugin_entry()).unwrap();
        let manifest = connection.manifest();
        assert_eq!(manifest.name, "benchy");
        assert_eq!(manifest.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(manifest.abi_version, benchy_core::abi::ABI_VERSION);
        assert_eq!(
            manifest.protocol_version,
            benchy_core::abi::PROTOCOL_VERSION
        );
        assert_eq!(manifest.entry, "benchy_plugin_v1_benchy");
        assert!(manifest.entry.starts_with(benchy_core::abi::ENTRY_PREFIX));
        assert_eq!(manifest.kind(), "source+task backend");
        let described = describe(&connection).unwrap();
        assert_eq!(described.sources, manifest.sources);
        assert_eq!(described.task_backends, manifest.task_backends);
        assert_eq!(described.server_backends, manifest.server_backends);
    }

    #[test]
    fn a_source_round_trips_through_the_table() {
        let source = PluginSource::new(plugin(), "echo", vec![Diagnostic::warning("note")]);
        let reply = source.resolve(&request("org/m", "echo")).unwrap();
        let layer = reply.layer.unwrap();
        assert_eq!(layer.source, SourceRef::new("echo", "detail"));
        assert_eq!(
            layer.entries.get(&Key::Temperature),
            Some(&benchy_core::layer::Entry::Set(ParamValue::Float(0.25)))
        );
        assert_eq!(
            reply.diagnostics,
            [Diagnostic::info("echoed"), Diagnostic::warning("note")]
        );
    }

    #[test]
    fn source_errors_keep_their_kind_and_name_the_plugin() {
        let source = PluginSource::new(plugin(), "echo", Vec::new());
        let Err(SourceError::Input(problem)) = source.resolve(&request("bad", "echo")) else {
            panic!("expected an input error")
        };
        assert_eq!(
            problem.to_string(),
            format!(
                "plugin benchy {} (in-process test): bad model",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(matches!(
            source.resolve(&request("away", "echo")),
            Err(SourceError::Unavailable(p)) if p.to_string().ends_with(": not here")
        ));
    }

    #[test]
    fn a_panic_in_the_plugin_comes_back_as_an_error_and_the_plugin_keeps_working() {
        let source = PluginSource::new(plugin(), "echo", Vec::new());
        let Err(SourceError::Input(problem)) = source.resolve(&request("boom", "echo")) else {
            panic!("expected an input error")
        };
        let message = problem.to_string();
        assert!(
            message.contains("source.resolve failed inside the plugin: panicked: echo exploded"),
            "{message}"
        );
        assert!(source.resolve(&request("org/m", "echo")).is_ok());
    }

    #[test]
    fn a_layer_claiming_another_source_is_refused() {
        let source = PluginSource::new(plugin(), "echo", Vec::new());
        let err = source.resolve(&request("org/m", "hf")).unwrap_err();
        assert!(err.to_string().contains("says it came from `hf`"), "{err}");
    }

    #[test]
    fn unknown_names_methods_and_unreadable_requests_are_faults() {
        let connection = Connection::from_table(benchy_plugin_entry()).unwrap();
        let unknown = invoke::<_, SourceReply, SourceError>(
            &connection,
            protocol::RESOLVE,
            "nope",
            &request("org/m", "echo"),
        );
        assert!(
            matches!(&unknown, Err(CallError::Fault { message, .. }) if message.contains("no source `nope`")),
            "{unknown:?}"
        );
        let method = invoke::<_, SourceReply, SourceError>(&connection, "source.nope", "echo", &());
        assert!(
            matches!(&method, Err(CallError::Fault { message, .. }) if message.contains("unknown method")),
            "{method:?}"
        );
        let garbled = invoke::<_, SourceReply, SourceError>(
            &connection,
            protocol::RESOLVE,
            "echo",
            &json!({"spec": 1}),
        );
        assert!(
            matches!(&garbled, Err(CallError::Fault { message, .. }) if message.contains("cannot read the source.resolve request")),
            "{garbled:?}"
        );
    }

    #[test]
    fn a_backend_round_trips_and_faults_map_to_the_phase() {
        let backend = PluginBackend::new(plugin(), "recorder", Vec::new());
        let plan = backend.plan(&plan_request("org/m")).unwrap();
        assert_eq!(plan.record["model"], json!("org/m"));
        // a fault while planning is bad input: nothing has started
        assert!(matches!(
            backend.plan(&plan_request("boom")),
            Err(BackendError::Input(p)) if p.to_string().contains("panicked: recorder exploded")
        ));
        let run = plan_request("org/m").run;
        let options = plan_request("org/m").options;
        let outcome = json!({"name": "job", "command": "job", "exit_code": 0,
                             "status": "exit code 0", "log": "job.log"});
        let collect = |n: usize| CollectRequest {
            run: run.clone(),
            options: options.clone(),
            outcomes: vec![serde_json::from_value(outcome.clone()).unwrap(); n],
        };
        assert_eq!(backend.collect(&collect(1)), Ok(Collected::default()));
        assert!(matches!(
            backend.collect(&collect(0)),
            Err(BackendError::Failed(p)) if p.to_string().ends_with(": nothing ran")
        ));
        // a fault while collecting is a failed run
        assert!(matches!(
            backend.collect(&collect(2)),
            Err(BackendError::Failed(p)) if p.to_string().contains("panicked: too many")
        ));
    }
}
