//! What a run leaves behind: the metrics read from `$MODEL_DIR/metrics.json`
//! and the `run.json` written beside the model. Owns the formats of both.
//! The termination message is [`modelctl_spec::ExportReport`], the type
//! `modelctl runs` reads it with.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Number;

use super::plan::CodeRef;
use super::upload::Uploaded;

/// The file the training code writes its metrics to, inside `$MODEL_DIR`.
pub const METRICS_FILE: &str = "metrics.json";

/// The run record written beside the model.
pub const RUN_FILE: &str = "run.json";

/// Reads `dir/metrics.json`: `Ok(None)` when the file is absent, an error
/// naming the file and the fault when it is not a flat object of numbers.
pub fn read_metrics(dir: &Path) -> Result<Option<BTreeMap<String, Number>>, String> {
    let path = dir.join(METRICS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    parse_metrics(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of `metrics.json`.
pub fn parse_metrics(text: &str) -> Result<BTreeMap<String, Number>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err(format!(
            "expected a JSON object of numbers, found {}",
            kind(&value)
        ));
    };
    let mut out = BTreeMap::new();
    for (name, value) in map {
        match value {
            serde_json::Value::Number(n) => {
                out.insert(name, n);
            }
            other => {
                return Err(format!(
                    "metric `{name}` is {}, expected a number",
                    kind(&other)
                ));
            }
        }
    }
    Ok(out)
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// `run.json`.
#[derive(Debug, Serialize)]
pub struct RunRecord<'a> {
    pub model: &'a str,
    pub run: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub params: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a CodeRef>,
    pub output: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<&'a str>,
    pub end: &'a str,
    pub files: &'a [Uploaded],
    pub metrics: &'a BTreeMap<String, Number>,
    #[serde(rename = "metrics-error", skip_serializing_if = "Option::is_none")]
    pub metrics_error: Option<&'a str>,
}

/// The exported model's URI when the files hold exactly one `*.onnx`.
pub fn single_onnx(output: &str, files: &[Uploaded]) -> Option<String> {
    let mut onnx = files.iter().filter(|f| f.path.ends_with(".onnx"));
    match (onnx.next(), onnx.next()) {
        (Some(only), None) => Some(format!("{output}/{}", only.path)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_a_flat_object_of_numbers() {
        let m = parse_metrics(r#"{"accuracy": 0.93, "epochs": 30}"#).unwrap();
        assert_eq!(m["accuracy"].as_f64(), Some(0.93));
        assert_eq!(m["epochs"].as_u64(), Some(30));
    }

    #[test]
    fn malformed_metrics_say_what_is_wrong() {
        let err = parse_metrics(r#"{"accuracy": "high"}"#).unwrap_err();
        assert_eq!(err, "metric `accuracy` is a string, expected a number");
        let err = parse_metrics("[1, 2]").unwrap_err();
        assert!(err.contains("found an array"), "{err}");
        let err = parse_metrics(r#"{"loss": NaN}"#).unwrap_err();
        assert!(err.starts_with("not valid JSON"), "{err}");
        let err = parse_metrics(r#"{"a": {"b": 1}}"#).unwrap_err();
        assert!(err.contains("`a` is an object"), "{err}");
    }

    #[test]
    fn a_missing_metrics_file_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_metrics(dir.path()).unwrap(), None);
        std::fs::write(dir.path().join(METRICS_FILE), "{").unwrap();
        let err = read_metrics(dir.path()).unwrap_err();
        assert!(err.contains("metrics.json: not valid JSON"), "{err}");
    }

    #[test]
    fn only_a_single_onnx_file_names_the_model() {
        let file = |p: &str| Uploaded {
            path: p.into(),
            size: 1,
            sha256: String::new(),
            e_tag: None,
        };
        assert_eq!(
            single_onnx("s3://b/r", &[file("model.onnx"), file("metrics.json")]),
            Some("s3://b/r/model.onnx".into())
        );
        assert_eq!(
            single_onnx("s3://b/r", &[file("a.onnx"), file("b.onnx")]),
            None
        );
    }
}
