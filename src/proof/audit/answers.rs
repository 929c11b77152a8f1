//! What a job's generation answers said, counted as they passed through the proxy: how each
//! ended (a stop, or cut at the token limit), which came back empty, the tokens the server
//! counted (prompt, completion, reasoning), and how long the server took per request, with the
//! 50th and 90th percentiles of the completion tokens and of the time.

use serde::{Deserialize, Serialize};

use super::answer::{Answer, Choice};

/// The counts, as a job's audit and a task's record keep them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Answers {
    /// Generation responses read.
    pub requests: u64,
    /// Answers read (choices of those responses).
    pub answers: u64,
    /// Ended by a stop string or the end of sequence (`finish_reason: "stop"`).
    pub stopped: u64,
    /// Cut at the token limit (`finish_reason: "length"`).
    pub cut: u64,
    /// With no text (after the reasoning, where the server splits it off).
    pub empty: u64,
    /// In a thinking mode: answers cut at one of the task's stop strings after their reasoning
    /// (the requests carry none).
    pub cut_at_stop: u64,
    /// Tokens the server counted (`usage`): of the prompts, of the answers, of their reasoning
    /// (when the server counts it apart), and the reasoning's characters it split off.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    pub reasoning_chars: u64,
    /// Completion tokens of one response: median, 90th percentile, most.
    pub completion_tokens_p50: u64,
    pub completion_tokens_p90: u64,
    pub completion_tokens_max: u64,
    /// Seconds the server took for one request, from forwarding it to the end of its answer.
    pub seconds_p50: f64,
    pub seconds_p90: f64,
    /// The token budget the requests carried (`max_tokens`), the last one seen.
    pub budget: Option<u64>,
}

/// Each response's completion tokens and time, kept to compute the percentiles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    tokens: Vec<u64>,
    seconds: Vec<f64>,
}

/// The most responses whose tokens and time are kept for the percentiles: far above a task's
/// size, low enough that a runaway client cannot grow the audit without bound.
const MAX_SAMPLES: usize = 1_000_000;

impl Answers {
    /// Adds one response's answers, which took `seconds`, to a request with `budget`.
    pub(super) fn add(
        &mut self,
        samples: &mut Samples,
        answer: &Answer,
        seconds: f64,
        budget: Option<u64>,
    ) {
        let reason = |r: &str| {
            let ended = |c: &&Choice| c.finish_reason.as_deref() == Some(r);
            answer.choices.iter().filter(ended).count() as u64
        };
        self.requests += 1;
        self.answers += answer.choices.len() as u64;
        self.stopped += reason("stop");
        self.cut += reason("length");
        self.empty += answer.choices.iter().filter(|c| c.chars == 0).count() as u64;
        self.reasoning_chars += answer
            .choices
            .iter()
            .map(|c| c.reasoning_chars as u64)
            .sum::<u64>();
        self.prompt_tokens += answer.prompt_tokens.unwrap_or(0);
        self.reasoning_tokens += answer.reasoning_tokens.unwrap_or(0);
        self.budget = budget.or(self.budget);
        if samples.seconds.len() < MAX_SAMPLES {
            samples.seconds.push(seconds);
        }
        if let Some(tokens) = answer.completion_tokens {
            self.completion_tokens += tokens;
            if samples.tokens.len() < MAX_SAMPLES {
                samples.tokens.push(tokens);
            }
        }
    }

    /// The percentiles of `samples`, filled in.
    pub(super) fn with_percentiles(mut self, samples: &Samples) -> Answers {
        let mut tokens = samples.tokens.clone();
        tokens.sort_unstable();
        self.completion_tokens_p50 = nearest_rank(&tokens, 50).unwrap_or(0);
        self.completion_tokens_p90 = nearest_rank(&tokens, 90).unwrap_or(0);
        self.completion_tokens_max = tokens.last().copied().unwrap_or(0);
        let mut seconds = samples.seconds.clone();
        seconds.sort_by(f64::total_cmp);
        self.seconds_p50 = nearest_rank(&seconds, 50).unwrap_or(0.0);
        self.seconds_p90 = nearest_rank(&seconds, 90).unwrap_or(0.0);
        self
    }

    /// The share of answers cut at the token limit (0 when there were none).
    pub fn cut_share(&self) -> f64 {
        if self.answers == 0 {
            0.0
        } else {
            self.cut as f64 / self.answers as f64
        }
    }

    /// The counts of several jobs of one task (its repeats): counts add up, the most is the most
    /// of all, and the percentiles are the answer-weighted mean of each one's.
    pub fn combined<'a>(all: impl IntoIterator<Item = &'a Answers>) -> Answers {
        let all: Vec<&Answers> = all.into_iter().collect();
        let weight: u64 = all.iter().map(|a| a.answers).sum();
        let mean = |f: &dyn Fn(&Answers) -> f64| {
            if weight == 0 {
                return 0.0;
            }
            all.iter().map(|a| f(a) * a.answers as f64).sum::<f64>() / weight as f64
        };
        let sum = |f: &dyn Fn(&Answers) -> u64| all.iter().map(|a| f(a)).sum();
        Answers {
            requests: sum(&|a| a.requests),
            answers: weight,
            stopped: sum(&|a| a.stopped),
            cut: sum(&|a| a.cut),
            empty: sum(&|a| a.empty),
            cut_at_stop: sum(&|a| a.cut_at_stop),
            prompt_tokens: sum(&|a| a.prompt_tokens),
            completion_tokens: sum(&|a| a.completion_tokens),
            reasoning_tokens: sum(&|a| a.reasoning_tokens),
            reasoning_chars: sum(&|a| a.reasoning_chars),
            completion_tokens_p50: mean(&|a| a.completion_tokens_p50 as f64).round() as u64,
            completion_tokens_p90: mean(&|a| a.completion_tokens_p90 as f64).round() as u64,
            completion_tokens_max: all
                .iter()
                .map(|a| a.completion_tokens_max)
                .max()
                .unwrap_or(0),
            seconds_p50: mean(&|a| a.seconds_p50),
            seconds_p90: mean(&|a| a.seconds_p90),
            budget: all.iter().find_map(|a| a.budget),
        }
    }
}

/// The `p`th percentile of sorted `values` by the nearest-rank method.
fn nearest_rank<T: Copy>(values: &[T], p: usize) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let rank = (p * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&values, 50), Some(5));
        assert_eq!(nearest_rank(&values, 90), Some(9));
        assert_eq!(nearest_rank(&[7u64], 90), Some(7));
        assert_eq!(nearest_rank::<u64>(&[], 50), None);
    }

    #[test]
    fn repeats_add_up_and_their_percentiles_are_weighted() {
        let one = Answers {
            answers: 2,
            cut: 2,
            completion_tokens_p50: 10,
            completion_tokens_max: 12,
            budget: Some(12),
            ..Answers::default()
        };
        let two = Answers {
            answers: 6,
            cut: 0,
            completion_tokens_p50: 2,
            completion_tokens_max: 5,
            ..Answers::default()
        };
        let both = Answers::combined([&one, &two]);
        assert_eq!((both.answers, both.cut), (8, 2));
        assert_eq!(both.completion_tokens_p50, 4);
        assert_eq!(both.completion_tokens_max, 12);
        assert_eq!(both.budget, Some(12));
        assert_eq!(both.cut_share(), 0.25);
    }
}
