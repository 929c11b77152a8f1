//! The wire audit of a run: every job talks to the server through an auditing proxy of its own
//! on 127.0.0.1 ([`crate::proxy`]), so each proxy knows what its job's requests must carry
//! ([`benchy_core::Expectation`], from the job's backend) and checks every one of them
//! ([`crate::proof::audit`]). The verdict is the run's proof that the server received the resolved
//! parameters; it is kept apart from what the evaluator recorded ([`crate::proof::verification`]).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use benchy_core::{Expectation, Expected, ProcessSpec, Resolved};
use serde::Serialize;

use crate::cache::Cache;
use crate::cache::inspect::{CacheCounts, JobCache};
use crate::cache::key::Scope;
use crate::proof::audit::{Audit, AuditReport, Checked, checked_line};
use crate::proxy::{Chain, Inspect, Proxy};
use crate::runner::server_url::root_of;

/// What a run does with the audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditMode {
    /// Audit every request; a deviation fails the run.
    On,
    /// Audit every request and report deviations, without failing the run.
    Warn,
    /// No proxy: jobs talk to the server directly.
    Off,
}

impl AuditMode {
    /// The mode's word, as `--audit` takes it and the record writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditMode::On => "on",
            AuditMode::Warn => "warn",
            AuditMode::Off => "off",
        }
    }
}

/// The proxies of a run's jobs, while the jobs run.
#[derive(Debug, Default)]
pub struct JobAudits {
    jobs: Vec<Running>,
    /// The response cache each proxy consults, when the run has one.
    cache: Option<CacheUse>,
}

/// The cache a run's proxies share, and what their answers are filed under.
#[derive(Clone, Debug)]
pub struct CacheUse {
    pub cache: Arc<Cache>,
    pub scope: Scope,
    /// The model's name and the run's, kept with each answer filed.
    pub model: String,
    pub run: String,
}

#[derive(Debug)]
struct Running {
    name: String,
    tasks: Vec<String>,
    proxy: Proxy,
    audit: Arc<Audit>,
    cache: Option<Arc<JobCache>>,
}

/// One job's audit, as `wire_audit.json` keeps it.
#[derive(Debug, Serialize)]
pub struct JobAudit {
    pub name: String,
    pub tasks: Vec<String>,
    pub verdict: String,
    pub report: AuditReport,
    /// What the response cache did for the job, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheCounts>,
}

/// `wire_audit.json`: every job's audit.
#[derive(Debug, Serialize)]
pub struct WireAudit {
    pub mode: AuditMode,
    /// The whole run in one line.
    pub verdict: String,
    pub jobs: Vec<JobAudit>,
}

impl JobAudits {
    /// Starts one proxy per job in front of the server whose API root is `api_base`
    /// (`http://host:port/v1`), and points each job at its own proxy: the server's root becomes
    /// the proxy's wherever it appears in the job's arguments and environment. A job with an
    /// expectation that names the server nowhere is an error: it would bypass its proxy, and
    /// its audit would pass on no request at all.
    pub async fn start(
        jobs: &mut [ProcessSpec],
        api_base: &str,
        cache: Option<CacheUse>,
    ) -> Result<JobAudits> {
        let mut audits = JobAudits {
            cache,
            ..JobAudits::default()
        };
        let server = root_of(api_base);
        for job in jobs.iter_mut() {
            let proxy = audits
                .add(&job.name, &job.tasks, job.expects.clone(), api_base)
                .await?;
            if !route_through(job, server, &proxy) && job.expects.is_some() {
                bail!(
                    "{}: cannot audit it: the server's address {server} appears nowhere in its \
                     arguments or environment, so it cannot be pointed at its auditing proxy \
                     (--audit off runs it unaudited)",
                    job.name
                );
            }
        }
        Ok(audits)
    }

    /// One proxy in front of the server whose API root is `api_base` for the client `name`,
    /// whose requests must meet `expects`; returns the proxy's root URL.
    pub async fn add(
        &mut self,
        name: &str,
        tasks: &[String],
        expects: Option<Expectation>,
        api_base: &str,
    ) -> Result<String> {
        let audit = Arc::new(Audit::new(expects));
        let cache = self.cache.as_ref().map(|c| {
            Arc::new(JobCache::new(
                c.cache.clone(),
                c.scope.clone(),
                &c.model,
                &c.run,
            ))
        });
        let inspector: Arc<dyn Inspect> = match &cache {
            Some(cache) => Arc::new(Chain(vec![audit.clone(), cache.clone()])),
            None => audit.clone(),
        };
        let proxy = Proxy::start(root_of(api_base), inspector)
            .await
            .context("cannot start the auditing proxy")?;
        let url = proxy.url();
        self.jobs.push(Running {
            name: name.to_owned(),
            tasks: tasks.to_vec(),
            proxy,
            audit,
            cache,
        });
        Ok(url)
    }

    /// Stops every proxy (letting requests in flight finish) and reads the audits.
    pub async fn finish(self, mode: AuditMode) -> WireAudit {
        let mut jobs = Vec::new();
        for job in self.jobs {
            job.proxy.shutdown().await;
            let report = job.audit.report();
            jobs.push(JobAudit {
                name: job.name,
                tasks: job.tasks,
                verdict: report.verdict(),
                report,
                cache: job.cache.map(|c| c.counts()),
            });
        }
        WireAudit {
            mode,
            verdict: overall(&jobs),
            jobs,
        }
    }
}

/// The run's verdict: the generation requests of every job together, and the deviations.
fn overall(jobs: &[JobAudit]) -> String {
    let sum = |f: fn(&AuditReport) -> u64| jobs.iter().map(|j| f(&j.report)).sum::<u64>();
    let generation = Checked {
        requests: sum(|r| r.generation.requests),
        matched: sum(|r| r.generation.matched),
        mismatched: sum(|r| r.generation.mismatched),
    };
    // Scoring requests are left to each job's own verdict.
    let mut line = checked_line(&generation, None, sum(|r| r.deviations_total));
    let unchecked = jobs.iter().filter(|j| j.report.expects.is_none()).count();
    if unchecked > 0 {
        line += &format!("; {unchecked} jobs not checked (their backend declared no expectation)");
    }
    line
}

impl JobAudit {
    /// What failed, in one line: the job's verdict and its first deviation.
    pub fn failure(&self) -> Option<String> {
        let first = self.report.deviations.first()?;
        Some(format!(
            "{}: the wire audit found requests that did not carry the resolved set ({}); first: {}",
            self.name,
            self.verdict,
            first.describe()
        ))
    }
}

/// `job` talks to `proxy` instead of `server`; whether `server` appeared anywhere to replace.
fn route_through(job: &mut ProcessSpec, server: &str, proxy: &str) -> bool {
    let mut replaced = false;
    let texts = job
        .args
        .iter_mut()
        .chain(job.env.values_mut().map(|v| &mut v.value));
    for text in texts {
        if text.contains(server) {
            *text = text.replace(server, proxy);
            replaced = true;
        }
    }
    replaced
}

/// What any client of `benchy serve --audit` must send: the resolved set exactly; a client may
/// add the request-shape keys the resolved set leaves open (`max_tokens`, `stop`, `seed`, `n`)
/// with any value, and a scoring request may carry a temperature, a seed and its one token.
pub fn any_client(resolved: &Resolved) -> Expectation {
    let mut expects = Expectation::exactly(&resolved.openai_params());
    for key in ["max_tokens", "stop", "seed", "n"] {
        if !expects.generation.contains_key(key) {
            expects.added.insert(key.to_owned(), Expected::Any);
        }
    }
    for key in ["temperature", "max_tokens", "seed"] {
        expects.scoring.insert(key.to_owned(), Expected::Any);
    }
    expects
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use benchy_core::{EnvValue, Role};

    use super::*;

    fn job(args: &[&str], env: &[(&str, &str)]) -> ProcessSpec {
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        ProcessSpec {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), EnvValue::plain(*v)))
                .collect::<BTreeMap<_, _>>(),
            ..ProcessSpec::new("job", Role::Job, "sh", args, "job.log")
        }
    }

    #[test]
    fn a_job_is_routed_wherever_it_names_the_server() {
        let (server, proxy) = ("http://10.0.0.5:8000", "http://127.0.0.1:41234");
        let mut named = job(
            &["--base_url=http://10.0.0.5:8000/v1/completions", "-x"],
            &[("URL", "http://10.0.0.5:8000/v1"), ("OTHER", "1")],
        );
        assert!(route_through(&mut named, server, proxy));
        assert_eq!(
            named.args,
            ["--base_url=http://127.0.0.1:41234/v1/completions", "-x"]
        );
        assert_eq!(named.env["URL"].value, "http://127.0.0.1:41234/v1");
        assert_eq!(named.env["OTHER"].value, "1");
        let mut elsewhere = job(&["--base_url=http://other:8000/v1"], &[("A", "b")]);
        assert!(!route_through(&mut elsewhere, server, proxy));
        assert_eq!(elsewhere.args, ["--base_url=http://other:8000/v1"]);
    }

    #[tokio::test]
    async fn a_job_with_an_expectation_that_bypasses_its_proxy_is_refused() {
        let expects = Some(Expectation::default());
        let mut jobs = [ProcessSpec {
            expects,
            ..job(&["--base_url=http://other:8000/v1"], &[])
        }];
        let err = JobAudits::start(&mut jobs, "http://127.0.0.1:8000/v1", None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("job: cannot audit it: the server's address http://127.0.0.1:8000"),
            "{err}"
        );
        let mut unchecked = [job(&["--base_url=http://other:8000/v1"], &[])];
        let audits = JobAudits::start(&mut unchecked, "http://127.0.0.1:8000/v1", None).await;
        audits.unwrap().finish(AuditMode::On).await;
    }
}
