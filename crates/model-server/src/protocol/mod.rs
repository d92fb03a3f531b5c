//! Wire formats: the Open Inference Protocol (KServe V2) in [`v2`] and the
//! TF Serving `:predict` format in [`tf`], both JSON, both turned into
//! validated [`Tensor`]s that match the model's signature before they reach
//! the batcher.
//!
//! This module holds what both formats share: flattening nested JSON arrays
//! and converting JSON scalars to typed elements with range checks.

pub mod tf;
pub mod v2;

use serde_json::Value;

use crate::tensor::{DataType, TensorData};

/// A request the client got wrong; becomes a 400 with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

impl BadRequest {
    pub fn new(message: impl Into<String>) -> BadRequest {
        BadRequest(message.into())
    }
}

/// Appends every scalar of `value` (nested arrays flattened, row-major).
pub fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        scalar => out.push(scalar),
    }
}

/// Converts scalars to elements of `datatype`; `what` names the tensor in errors.
pub fn decode_elements(
    values: &[&Value],
    datatype: DataType,
    what: &str,
) -> Result<TensorData, BadRequest> {
    let bad = |index: usize, value: &Value, expected: &str| {
        BadRequest(format!(
            "{what}: element {index} is {value}, expected {expected}"
        ))
    };
    fn collect<T>(
        values: &[&Value],
        convert: impl Fn(&Value) -> Option<T>,
        on_error: impl Fn(usize, &Value) -> BadRequest,
    ) -> Result<Vec<T>, BadRequest> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| convert(v).ok_or_else(|| on_error(i, v)))
            .collect()
    }
    let int = |v: &Value| v.as_i64();
    Ok(match datatype {
        DataType::Fp32 => TensorData::Fp32(collect(
            values,
            |v| v.as_f64().map(|x| x as f32).filter(|x| x.is_finite()),
            |i, v| bad(i, v, "a finite number within FP32 range"),
        )?),
        DataType::Fp64 => TensorData::Fp64(collect(
            values,
            |v| v.as_f64().filter(|x| x.is_finite()),
            |i, v| bad(i, v, "a finite number"),
        )?),
        DataType::Int64 => TensorData::Int64(collect(values, int, |i, v| {
            bad(i, v, "an integer (INT64)")
        })?),
        DataType::Int32 => TensorData::Int32(collect(
            values,
            |v| int(v).and_then(|x| i32::try_from(x).ok()),
            |i, v| bad(i, v, "an integer within INT32 range"),
        )?),
        DataType::Int8 => TensorData::Int8(collect(
            values,
            |v| int(v).and_then(|x| i8::try_from(x).ok()),
            |i, v| bad(i, v, "an integer within INT8 range"),
        )?),
        DataType::Uint8 => TensorData::Uint8(collect(
            values,
            |v| int(v).and_then(|x| u8::try_from(x).ok()),
            |i, v| bad(i, v, "an integer within UINT8 range (0..=255)"),
        )?),
        DataType::Bool => TensorData::Bool(collect(values, Value::as_bool, |i, v| {
            bad(i, v, "true or false")
        })?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(value: Value, datatype: DataType) -> Result<TensorData, BadRequest> {
        let mut flat = Vec::new();
        flatten(&value, &mut flat);
        decode_elements(&flat, datatype, "input `x`")
    }

    #[test]
    fn nested_and_flat_data_decode_alike() {
        assert_eq!(
            decode(json!([[1, 2], [3, 4]]), DataType::Fp32),
            decode(json!([1, 2, 3, 4]), DataType::Fp32)
        );
    }

    #[test]
    fn out_of_range_integers_are_rejected() {
        let err = decode(json!([1, 256]), DataType::Uint8).unwrap_err();
        assert_eq!(
            err.0,
            "input `x`: element 1 is 256, expected an integer within UINT8 range (0..=255)"
        );
    }

    #[test]
    fn strings_and_overflowing_floats_are_rejected_for_fp32() {
        assert!(decode(json!(["NaN"]), DataType::Fp32).is_err());
        assert!(decode(json!([1e300]), DataType::Fp32).is_err());
        assert_eq!(
            decode(json!([0.5]), DataType::Fp32),
            Ok(TensorData::Fp32(vec![0.5]))
        );
    }

    #[test]
    fn booleans_decode_only_from_json_booleans() {
        assert_eq!(
            decode(json!([true, false]), DataType::Bool),
            Ok(TensorData::Bool(vec![true, false]))
        );
        assert!(decode(json!([1]), DataType::Bool).is_err());
    }
}
