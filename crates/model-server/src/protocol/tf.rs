//! TF Serving's REST `:predict` format, row style:
//! `{"instances": [...]}` in, `{"predictions": [...]}` out.
//!
//! For a single-input model each instance is one row of that input (nested
//! or flat); for several inputs each instance is an object keyed by input
//! name. A single-output model answers one value per row; several outputs
//! answer one object per row keyed by output name.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{BadRequest, decode_elements, flatten};
use crate::backend::{Signature, TensorSpec};
use crate::tensor::{Tensor, TensorData};

/// `POST /v1/models/{m}:predict` body.
#[derive(Debug, Deserialize)]
pub struct PredictRequest {
    #[serde(default)]
    pub signature_name: Option<String>,
    pub instances: Vec<Value>,
}

/// Builds the model's input tensors from row-style instances.
pub fn decode_instances(
    request: &PredictRequest,
    signature: &Signature,
) -> Result<Vec<Tensor>, BadRequest> {
    let rows = request.instances.len();
    if rows == 0 {
        return Err(BadRequest::new("`instances` is empty"));
    }
    let single = signature.inputs.len() == 1;
    signature
        .inputs
        .iter()
        .map(|spec| {
            let row_len = spec.row_len().ok_or_else(|| {
                BadRequest(format!("input `{}` has free dimensions after the batch axis; use the V2 API", spec.name))
            })?;
            let mut flat = Vec::with_capacity(rows * row_len);
            for (i, instance) in request.instances.iter().enumerate() {
                let value = match instance {
                    Value::Object(fields) => fields
                        .get(&spec.name)
                        .ok_or_else(|| BadRequest(format!("instance {i} has no input `{}`", spec.name)))?,
                    other if single => other,
                    _ => {
                        return Err(BadRequest(format!(
                            "instance {i} must be an object keyed by input name: the model takes several inputs"
                        )));
                    }
                };
                let before = flat.len();
                flatten(value, &mut flat);
                if flat.len() - before != row_len {
                    return Err(BadRequest(format!(
                        "instance {i} gives {} values for input `{}`, expected {row_len} (row shape {:?})",
                        flat.len() - before,
                        spec.name,
                        spec.shape.get(1..).unwrap_or_default()
                    )));
                }
            }
            let data = decode_elements(&flat, spec.datatype, &format!("input `{}`", spec.name))?;
            Ok(Tensor::new(spec.name.clone(), row_shape(spec, rows), data))
        })
        .collect()
}

fn row_shape(spec: &TensorSpec, rows: usize) -> Vec<usize> {
    let mut shape = vec![rows];
    shape.extend(spec.shape.iter().skip(1).map(|&d| d.max(1) as usize));
    shape
}

/// The `predictions` array: one entry per row.
pub fn encode_predictions(outputs: &[Tensor]) -> Value {
    let rows = outputs.first().map_or(0, Tensor::rows);
    let predictions = (0..rows)
        .map(|row| match outputs {
            [only] => row_value(only, row),
            many => Value::Object(
                many.iter()
                    .map(|t| (t.name.clone(), row_value(t, row)))
                    .collect::<Map<_, _>>(),
            ),
        })
        .collect();
    let mut body = Map::new();
    body.insert("predictions".into(), Value::Array(predictions));
    Value::Object(body)
}

/// Row `row` of `tensor` as nested JSON following the shape after the batch axis.
fn row_value(tensor: &Tensor, row: usize) -> Value {
    let row_len = tensor.row_len();
    let start = row * row_len;
    nest(
        &tensor.data,
        start,
        tensor.shape.get(1..).unwrap_or_default(),
    )
}

fn nest(data: &TensorData, start: usize, dims: &[usize]) -> Value {
    match dims.split_first() {
        None => scalar(data, start),
        Some((&n, rest)) => {
            let stride: usize = rest.iter().product();
            Value::Array(
                (0..n)
                    .map(|i| nest(data, start + i * stride, rest))
                    .collect(),
            )
        }
    }
}

fn scalar(data: &TensorData, index: usize) -> Value {
    match data {
        TensorData::Bool(v) => v.get(index).map_or(Value::Null, |&x| Value::Bool(x)),
        TensorData::Uint8(v) => v.get(index).map_or(Value::Null, |&x| x.into()),
        TensorData::Int8(v) => v.get(index).map_or(Value::Null, |&x| x.into()),
        TensorData::Int32(v) => v.get(index).map_or(Value::Null, |&x| x.into()),
        TensorData::Int64(v) => v.get(index).map_or(Value::Null, |&x| x.into()),
        // Through the shortest decimal form of the f32, so 0.1f32 prints as 0.1.
        TensorData::Fp32(v) => v.get(index).map_or(Value::Null, |&x| {
            x.to_string()
                .parse::<f64>()
                .map_or(Value::Null, Value::from)
        }),
        TensorData::Fp16(v) => v
            .get(index)
            .map_or(Value::Null, |&x| Value::from(f64::from(x))),
        TensorData::Fp64(v) => v.get(index).map_or(Value::Null, |&x| x.into()),
        TensorData::Bytes(v) => v
            .get(index)
            .map_or(Value::Null, |x| Value::String(x.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DataType;
    use serde_json::json;

    fn signature() -> Signature {
        Signature {
            inputs: vec![TensorSpec {
                name: "X".into(),
                datatype: DataType::Fp32,
                shape: vec![-1, 2],
            }],
            outputs: vec![],
        }
    }

    #[test]
    fn instances_become_one_batch() {
        let request: PredictRequest =
            serde_json::from_value(json!({"instances": [[1, 2], [3, 4]]})).unwrap();
        let tensors = decode_instances(&request, &signature()).unwrap();
        assert_eq!(tensors[0].shape, vec![2, 2]);
        assert_eq!(tensors[0].data, TensorData::Fp32(vec![1.0, 2.0, 3.0, 4.0]));
    }

    #[test]
    fn short_instance_is_rejected() {
        let request: PredictRequest =
            serde_json::from_value(json!({"instances": [[1, 2], [3]]})).unwrap();
        let err = decode_instances(&request, &signature()).unwrap_err();
        assert_eq!(
            err.0,
            "instance 1 gives 1 values for input `X`, expected 2 (row shape [2])"
        );
    }

    #[test]
    fn several_outputs_give_one_object_per_row() {
        let label = Tensor::new("label", vec![2], TensorData::Int64(vec![3, 7]));
        let probs = Tensor::new(
            "p",
            vec![2, 2],
            TensorData::Fp32(vec![0.25, 0.75, 1.0, 0.0]),
        );
        assert_eq!(
            encode_predictions(&[label, probs]),
            json!({"predictions": [{"label": 3, "p": [0.25, 0.75]}, {"label": 7, "p": [1.0, 0.0]}]})
        );
    }
}
