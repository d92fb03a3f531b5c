//! The export's termination message: the one JSON object the `export`
//! container of a training Job leaves in its pod status, written by
//! `model-export` and read back by `modelctl runs`.
//!
//! Owns the message's fields, its JSON form and its size bound. Both
//! binaries use [`ExportReport`], so the writer and the reader cannot drift
//! apart; the JSON stays what earlier exports wrote, so the messages of old
//! Jobs still read. It does no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Number, Value};

/// The most bytes of a termination message Kubernetes keeps.
pub const TERMINATION_LIMIT: usize = 4096;

/// What an export reports: on success the run, where it went and what it
/// measured; on failure the run and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportReport {
    /// The run's name (the Job's, `-<index>` added for a sweep's trial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Where the model went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The exported `.onnx` file, when the export holds exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The trial's parameters, as text (any other JSON value reads as its
    /// JSON text). Present, perhaps empty, on success; absent on failure.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "params_as_text"
    )]
    pub params: Option<BTreeMap<String, String>>,
    /// The numbers of `metrics.json` (anything else in an old message is
    /// left out). Present, perhaps empty, on success; absent on failure.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "numbers_only"
    )]
    pub metrics: Option<BTreeMap<String, Number>>,
    /// Metrics were dropped to fit [`TERMINATION_LIMIT`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Why the export failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ExportReport {
    /// The report of a failed export of `run`.
    pub fn failure(run: &str, error: &str) -> ExportReport {
        ExportReport {
            run: Some(run.to_owned()),
            error: Some(error.to_owned()),
            ..ExportReport::default()
        }
    }

    /// Parses a termination message; `None` when it is not the JSON object
    /// the export writes (a crash's last log lines, say).
    pub fn parse(message: &str) -> Option<ExportReport> {
        serde_json::from_str(message.trim()).ok()
    }

    /// The compact JSON, at most [`TERMINATION_LIMIT`] bytes. A failure's
    /// error is cut short (ending in `…`); otherwise metrics are dropped
    /// from the last name backwards until it fits (then `"truncated":
    /// true`), and should parameters alone be too long, they go too.
    pub fn to_message(&self) -> String {
        let mut report = self.clone();
        loop {
            let text = serde_json::to_string(&report).expect("strings and numbers serialize");
            if text.len() <= TERMINATION_LIMIT {
                return text;
            }
            report.shrink(text.len() - TERMINATION_LIMIT);
        }
    }

    /// Drops something, `excess` bytes if it can: the error's tail, else
    /// the last metric, parameter, model, output, in that order.
    fn shrink(&mut self, excess: usize) {
        if let Some(error) = self.error.as_mut().filter(|e| !e.is_empty()) {
            let mut cut = error.len().saturating_sub(excess + '…'.len_utf8());
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
            error.push('…');
            if cut == 0 {
                error.clear();
            }
            return;
        }
        self.truncated = true;
        let metric = self.metrics.as_mut().and_then(BTreeMap::pop_last);
        if metric.is_some() || self.params.as_mut().and_then(BTreeMap::pop_last).is_some() {
            return;
        }
        // Only the run, output and model remain; cut the model first.
        if self.model.take().is_none() && self.output.take().is_none() {
            if let Some(run) = self.run.as_mut() {
                run.truncate(floor_char_boundary(run, TERMINATION_LIMIT / 2));
            }
            self.error = None;
        }
    }
}

/// The largest char boundary of `text` at or below `index`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn params_as_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    let params = BTreeMap::<String, Value>::deserialize(deserializer)?;
    Ok(Some(
        params
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect(),
    ))
}

fn numbers_only<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, Number>>, D::Error> {
    let metrics = BTreeMap::<String, Value>::deserialize(deserializer)?;
    Ok(Some(
        metrics
            .into_iter()
            .filter_map(|(name, value)| match value {
                Value::Number(n) => Some((name, n)),
                _ => None,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success() -> ExportReport {
        ExportReport {
            run: Some("m-train-1-0".into()),
            output: Some("s3://b/m-train-1-0".into()),
            model: Some("s3://b/m-train-1-0/model.onnx".into()),
            params: Some([("lr".to_owned(), "0.1".to_owned())].into()),
            metrics: Some([("acc".to_owned(), Number::from_f64(0.9).unwrap())].into()),
            ..ExportReport::default()
        }
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        for report in [success(), ExportReport::failure("r", "boom")] {
            assert_eq!(ExportReport::parse(&report.to_message()), Some(report));
        }
    }

    #[test]
    fn messages_of_earlier_exports_still_read() {
        // Written by model-export before the type was shared.
        let old = ExportReport::parse(
            r#"{"run":"m-train-1-0","output":"s3://b/m-train-1-0","model":"s3://b/m-train-1-0/model.onnx","params":{"lr":"0.1"},"metrics":{"acc":0.9}}"#,
        );
        assert_eq!(old, Some(success()));
        let failed = ExportReport::parse(r#"{"run":"r","error":"boom"}"#).unwrap();
        assert_eq!(failed, ExportReport::failure("r", "boom"));
        let odd = ExportReport::parse(
            r#"{"params":{"n":3},"metrics":{"a":1,"b":null},"truncated":true}"#,
        )
        .unwrap();
        assert_eq!(odd.params.unwrap()["n"], "3");
        assert_eq!(odd.metrics.unwrap().len(), 1);
        assert!(odd.truncated);
        assert!(ExportReport::parse("Traceback (most recent call last):").is_none());
    }

    #[test]
    fn the_json_is_what_earlier_exports_wrote() {
        assert_eq!(
            success().to_message(),
            r#"{"run":"m-train-1-0","output":"s3://b/m-train-1-0","model":"s3://b/m-train-1-0/model.onnx","params":{"lr":"0.1"},"metrics":{"acc":0.9}}"#
        );
        assert_eq!(
            ExportReport::failure("r", "boom").to_message(),
            r#"{"run":"r","error":"boom"}"#
        );
    }

    #[test]
    fn metrics_are_dropped_to_fit_and_it_says_so() {
        let report = ExportReport {
            metrics: Some(
                (0..400)
                    .map(|i| (format!("metric_{i:04}"), Number::from(i)))
                    .collect(),
            ),
            ..success()
        };
        let text = report.to_message();
        assert!(text.len() <= TERMINATION_LIMIT, "{}", text.len());
        let read = ExportReport::parse(&text).unwrap();
        assert!(read.truncated);
        assert_eq!(read.metrics.unwrap()["metric_0000"], Number::from(0));
        assert_eq!(read.params.unwrap()["lr"], "0.1");
        assert_eq!(read.model, report.model);
    }

    #[test]
    fn a_long_failure_is_cut_to_fit() {
        let text = ExportReport::failure("r", &"é".repeat(5000)).to_message();
        assert!(text.len() <= TERMINATION_LIMIT);
        assert!(text.starts_with(r#"{"run":"r","error":"éé"#), "{text}");
        assert!(text.ends_with(r#"…"}"#), "{text}");
    }
}
