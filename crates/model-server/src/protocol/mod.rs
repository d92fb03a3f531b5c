//! Wire formats: the Open Inference Protocol (KServe V2) in [`v2`] (REST,
//! JSON) and [`grpc`] (protobuf), and the TF Serving `:predict` format in
//! [`tf`], all turned into validated [`Tensor`](crate::tensor::Tensor)s
//! that match the model's signature before they reach the batcher. The
//! checks both V2 wire forms share, and their messages, are in [`request`].
//!
//! This module holds what both formats share: flattening nested JSON arrays
//! and converting JSON scalars to typed elements with range checks. The
//! binary form of tensors (the binary tensor data extension) is in
//! [`binary`].

pub mod binary;
pub mod grpc;
pub mod request;
pub mod tf;
pub mod v2;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::tensor::{DataType, TensorData, f16};

/// A request the client got wrong; becomes a 400 with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

impl BadRequest {
    pub fn new(message: impl Into<String>) -> BadRequest {
        BadRequest(message.into())
    }
}

/// One JSON scalar of a tensor's data, read without building a JSON tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
    /// A string: an element of a `BYTES` tensor.
    Str(Box<str>),
    /// Anything else (null, an object), described for errors.
    Other(&'static str),
}

impl Scalar {
    fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::Int(x) => Some(x as f64),
            Scalar::Uint(x) => Some(x as f64),
            Scalar::Float(x) => Some(x),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match *self {
            Scalar::Int(x) => Some(x),
            Scalar::Uint(x) => i64::try_from(x).ok(),
            _ => None,
        }
    }
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Int(x) => write!(f, "{x}"),
            Scalar::Uint(x) => write!(f, "{x}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(x) => write!(f, "{x}"),
            Scalar::Str(_) => f.write_str("a string"),
            Scalar::Other(what) => f.write_str(what),
        }
    }
}

/// Tensor data as it arrives: nested JSON arrays flattened, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlatData(pub Vec<Scalar>);

impl<'de> Deserialize<'de> for FlatData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // JSON gives no length up front: room for a typical row, rather
        // than growing from empty through every power of two.
        let mut out = Vec::with_capacity(64);
        deserializer.deserialize_any(FlattenInto(&mut out))?;
        Ok(FlatData(out))
    }
}

/// Visits a JSON value, appending its scalars to the vector.
struct FlattenInto<'a>(&'a mut Vec<Scalar>);

impl<'de> DeserializeSeed<'de> for FlattenInto<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FlattenInto<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number, a boolean or a (nested) array of them")
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Scalar::Int(v));
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(Scalar::Uint(v));
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Scalar::Float(v));
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(Scalar::Bool(v));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Scalar::Str(v.into()));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Scalar::Other("null"));
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.0.push(Scalar::Other("null"));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.0.push(Scalar::Other("an object"));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(hint) = seq.size_hint() {
            self.0.reserve(hint);
        }
        while seq.next_element_seed(FlattenInto(self.0))?.is_some() {}
        Ok(())
    }
}

/// Appends every scalar of an already-parsed JSON `value`, row-major.
pub fn flatten(value: &Value, out: &mut Vec<Scalar>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        Value::Number(n) => out.push(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Scalar::Int(i),
            (None, Some(u), _) => Scalar::Uint(u),
            (None, None, Some(f)) => Scalar::Float(f),
            _ => Scalar::Other("a number out of range"),
        }),
        Value::Bool(b) => out.push(Scalar::Bool(*b)),
        Value::String(s) => out.push(Scalar::Str(s.as_str().into())),
        Value::Null => out.push(Scalar::Other("null")),
        Value::Object(_) => out.push(Scalar::Other("an object")),
    }
}

/// Converts scalars to elements of `datatype`; `what` names the tensor in errors.
pub fn decode_elements(
    values: &[Scalar],
    datatype: DataType,
    what: &str,
) -> Result<TensorData, BadRequest> {
    let bad = |index: usize, value: &Scalar, expected: &str| {
        BadRequest(format!(
            "{what}: element {index} is {value}, expected {expected}"
        ))
    };
    fn collect<T>(
        values: &[Scalar],
        convert: impl Fn(&Scalar) -> Option<T>,
        on_error: impl Fn(usize, &Scalar) -> BadRequest,
    ) -> Result<Vec<T>, BadRequest> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| convert(v).ok_or_else(|| on_error(i, v)))
            .collect()
    }
    let int = Scalar::as_i64;
    let boolean = |v: &Scalar| match *v {
        Scalar::Bool(b) => Some(b),
        _ => None,
    };
    Ok(match datatype {
        DataType::Fp32 => TensorData::Fp32(collect(
            values,
            |v| v.as_f64().map(|x| x as f32).filter(|x| x.is_finite()),
            |i, v| bad(i, v, "a finite number within FP32 range"),
        )?),
        DataType::Fp16 => TensorData::Fp16(collect(
            values,
            |v| v.as_f64().map(f16::from_f64).filter(|x| x.is_finite()),
            |i, v| bad(i, v, "a finite number within FP16 range"),
        )?),
        DataType::Bytes => TensorData::Bytes(collect(
            values,
            |v| match v {
                Scalar::Str(s) => Some(String::from(&**s)),
                _ => None,
            },
            |i, v| bad(i, v, "a string"),
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
        DataType::Bool => {
            TensorData::Bool(collect(values, boolean, |i, v| bad(i, v, "true or false"))?)
        }
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
    fn flat_data_reads_nested_arrays_without_a_tree() {
        let parsed: FlatData =
            serde_json::from_str("[[1, -2], [3.5, true], [\"x\", null]]").unwrap();
        assert_eq!(
            parsed.0,
            vec![
                Scalar::Uint(1),
                Scalar::Int(-2),
                Scalar::Float(3.5),
                Scalar::Bool(true),
                Scalar::Str("x".into()),
                Scalar::Other("null")
            ]
        );
    }

    #[test]
    fn fp16_decodes_finite_numbers_within_its_range() {
        assert_eq!(
            decode(json!([0.5, -2]), DataType::Fp16),
            Ok(TensorData::Fp16(vec![
                f16::from_f32(0.5),
                f16::from_f32(-2.0)
            ]))
        );
        let err = decode(json!([1, 70000]), DataType::Fp16).unwrap_err();
        assert_eq!(
            err.0,
            "input `x`: element 1 is 70000, expected a finite number within FP16 range"
        );
    }

    #[test]
    fn bytes_decode_only_from_strings() {
        assert_eq!(
            decode(json!(["cat", ""]), DataType::Bytes),
            Ok(TensorData::Bytes(vec!["cat".into(), String::new()]))
        );
        let err = decode(json!(["cat", 3]), DataType::Bytes).unwrap_err();
        assert_eq!(err.0, "input `x`: element 1 is 3, expected a string");
        assert!(decode(json!(["1.5"]), DataType::Fp32).is_err());
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
