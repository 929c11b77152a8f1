//! Models side by side on one node: each model's server on its own share of the node's devices
//! (its own `CUDA_VISIBLE_DEVICES`, or CPU cores on vLLM's CPU build), the next model in
//! run-config order starting as soon as enough devices are free.

use std::collections::VecDeque;

use anyhow::Result;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::Suite;
use super::checks::Checked;
use super::devices::{NodeDevices, Pool, of_node};
use super::model::Decisions;
use crate::runner::Runner;
use crate::store::suite_record::SuiteRecord;
use crate::util::bad_input::bad_input;

impl Suite<'_> {
    /// The node's devices, when the suite shares them out: benchy launches every model's server
    /// and the devices are named or the node shows them. A model whose server needs more devices
    /// than the node has is bad input, before anything starts.
    pub(super) fn packing(&self) -> Result<Option<NodeDevices>> {
        let Some(needs) = self
            .models
            .iter()
            .map(|model| Some((model, model.server.device_need()?)))
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        let devices = match &self.devices {
            Some(named) => named.clone(),
            None => match of_node()? {
                Some(shown) => shown,
                None => return Ok(None),
            },
        };
        for (model, need) in needs {
            if let Some(need) = need
                && need > devices.ids.len()
            {
                return Err(bad_input(format!(
                    "{}: its server needs {need} devices (tensor × pipeline × data parallel \
                     size), and the node has {} ({}: {})",
                    model.short_name(),
                    devices.ids.len(),
                    devices.source,
                    devices.ids.join(",")
                )));
            }
        }
        Ok(Some(devices))
    }

    /// Every model, side by side as the node's devices allow; the error of an interrupt, after
    /// which no other model starts and every running one has stopped.
    pub(super) async fn run_packed(
        &self,
        devices: &NodeDevices,
        runner: &Runner,
        checked: &Checked,
        decisions: Vec<Decisions<'_>>,
        record: &mut SuiteRecord,
    ) -> Result<Option<anyhow::Error>> {
        let mut pool = Pool::new(devices);
        let mut waiting: VecDeque<_> = decisions.into_iter().enumerate().collect();
        let mut running = FuturesUnordered::new();
        let mut interrupted = None;
        loop {
            while runner.interrupts_seen() == 0
                && let Some((i, _)) = waiting.front()
                && let Some(granted) = pool.take(self.models[*i].server.device_need().flatten())
            {
                let Some((i, decisions)) = waiting.pop_front() else {
                    break;
                };
                self.note_start(record, i, Some(&granted))?;
                let model = &self.models[i];
                runner.say(&format!(
                    "{}: starting on devices {} of the node's {} ({})",
                    model.short_name(),
                    granted.join(","),
                    pool.size(),
                    devices.source
                ));
                running.push(async move {
                    let on = Some(granted.clone());
                    let outcome = self.run_model(model, decisions, runner, checked, on).await;
                    (i, granted, outcome)
                });
            }
            let Some((i, granted, outcome)) = running.next().await else {
                break;
            };
            pool.give_back(&granted);
            runner.say(&format!(
                "{}: {}; devices {} free",
                self.models[i].short_name(),
                outcome.status,
                granted.join(",")
            ));
            if let Some(interrupt) = self.note_end(record, i, outcome)? {
                interrupted.get_or_insert(interrupt);
            }
        }
        Ok(interrupted)
    }
}
