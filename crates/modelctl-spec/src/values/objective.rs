//! The training objective: the metric a run reports in `metrics.json` and
//! whether more or less of it is better. `modelctl runs --best` and
//! `modelctl promote --best` choose by it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ValueError, quoted, regex, string_value};

/// A letter, then letters, digits, `_`, `-`, `.` and `/`.
const METRIC_NAME: &str = r"^[A-Za-z][A-Za-z0-9_./-]*$";

string_value!(
    /// The name of a metric in the run's `metrics.json` (`val_accuracy`).
    MetricName,
    check = check_metric_name,
    pattern = Some(METRIC_NAME),
    max = 128,
    desc = "A metric name in the run's `metrics.json`, such as `val_accuracy`: a letter, then letters, digits, `_`, `-`, `.` and `/`."
);

fn check_metric_name(s: &str) -> Result<(), ValueError> {
    if regex!(METRIC_NAME).is_match(s) {
        return Ok(());
    }
    Err(ValueError::new(
        format!("{} is not a metric name", quoted(s)),
        "use the key your code writes to `metrics.json`: a letter, then letters, digits, `_`, `-`, `.` and `/` (`val_accuracy`)",
    ))
}

/// Whether a larger or a smaller value of the metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    /// Larger is better (accuracy, AUC).
    Max,
    /// Smaller is better (loss, error rate).
    Min,
}

impl Goal {
    /// Whether `a` is better than `b` under this goal.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Goal::Max => a > b,
            Goal::Min => a < b,
        }
    }
}

impl std::fmt::Display for Goal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Goal::Max => "max",
            Goal::Min => "min",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for ok in ["val_accuracy", "loss", "eval/f1", "top-5.acc"] {
            assert!(ok.parse::<MetricName>().is_ok(), "{ok}");
        }
        for bad in ["", "1st", "val accuracy", "_x"] {
            assert!(bad.parse::<MetricName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn goals_compare() {
        assert!(Goal::Max.better(0.9, 0.8));
        assert!(!Goal::Max.better(0.8, 0.8));
        assert!(Goal::Min.better(0.1, 0.2));
    }
}
