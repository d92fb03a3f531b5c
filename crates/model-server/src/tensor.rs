//! Typed tensors exchanged between the HTTP layer, the batcher and the
//! backends: a row-major buffer plus its shape, with the element types the
//! Open Inference Protocol names (`FP32`, `INT64`, ...). `BYTES` elements
//! are carried as UTF-8 strings, the form both ONNX string tensors and
//! JSON need.
//!
//! This module owns joining tensors along the batch axis and splitting them
//! back; it knows nothing of JSON or of any inference engine.

use std::fmt;

pub use half::f16;

/// Element type of a tensor, spelled as in the Open Inference Protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Uint8,
    Int8,
    Int32,
    Int64,
    Fp16,
    Fp32,
    Fp64,
    Bytes,
}

impl DataType {
    /// The protocol name (`"FP32"`, `"INT64"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::Uint8 => "UINT8",
            DataType::Int8 => "INT8",
            DataType::Int32 => "INT32",
            DataType::Int64 => "INT64",
            DataType::Fp16 => "FP16",
            DataType::Fp32 => "FP32",
            DataType::Fp64 => "FP64",
            DataType::Bytes => "BYTES",
        }
    }

    /// Bytes per element in the binary tensor form; `None` for `BYTES`,
    /// whose elements each carry their own length.
    pub fn element_size(self) -> Option<usize> {
        Some(match self {
            DataType::Bool | DataType::Uint8 | DataType::Int8 => 1,
            DataType::Fp16 => 2,
            DataType::Int32 | DataType::Fp32 => 4,
            DataType::Int64 | DataType::Fp64 => 8,
            DataType::Bytes => return None,
        })
    }

    /// Parses a protocol name; `None` for a type this server does not carry.
    pub fn parse(name: &str) -> Option<DataType> {
        Some(match name {
            "BOOL" => DataType::Bool,
            "UINT8" => DataType::Uint8,
            "INT8" => DataType::Int8,
            "INT32" => DataType::Int32,
            "INT64" => DataType::Int64,
            "FP16" => DataType::Fp16,
            "FP32" => DataType::Fp32,
            "FP64" => DataType::Fp64,
            "BYTES" => DataType::Bytes,
            _ => return None,
        })
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The elements of a tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bool(Vec<bool>),
    Uint8(Vec<u8>),
    Int8(Vec<i8>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Fp16(Vec<f16>),
    Fp32(Vec<f32>),
    Fp64(Vec<f64>),
    Bytes(Vec<String>),
}

/// Applies `$body` to the vector inside any `TensorData` variant.
macro_rules! each_variant {
    ($value:expr, $v:ident => $body:expr) => {
        match $value {
            TensorData::Bool($v) => $body,
            TensorData::Uint8($v) => $body,
            TensorData::Int8($v) => $body,
            TensorData::Int32($v) => $body,
            TensorData::Int64($v) => $body,
            TensorData::Fp16($v) => $body,
            TensorData::Fp32($v) => $body,
            TensorData::Fp64($v) => $body,
            TensorData::Bytes($v) => $body,
        }
    };
}

impl TensorData {
    pub fn datatype(&self) -> DataType {
        match self {
            TensorData::Bool(_) => DataType::Bool,
            TensorData::Uint8(_) => DataType::Uint8,
            TensorData::Int8(_) => DataType::Int8,
            TensorData::Int32(_) => DataType::Int32,
            TensorData::Int64(_) => DataType::Int64,
            TensorData::Fp16(_) => DataType::Fp16,
            TensorData::Fp32(_) => DataType::Fp32,
            TensorData::Fp64(_) => DataType::Fp64,
            TensorData::Bytes(_) => DataType::Bytes,
        }
    }

    pub fn len(&self) -> usize {
        each_variant!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An empty buffer of `datatype` with room for `capacity` elements.
    pub fn with_capacity(datatype: DataType, capacity: usize) -> TensorData {
        match datatype {
            DataType::Bool => TensorData::Bool(Vec::with_capacity(capacity)),
            DataType::Uint8 => TensorData::Uint8(Vec::with_capacity(capacity)),
            DataType::Int8 => TensorData::Int8(Vec::with_capacity(capacity)),
            DataType::Int32 => TensorData::Int32(Vec::with_capacity(capacity)),
            DataType::Int64 => TensorData::Int64(Vec::with_capacity(capacity)),
            DataType::Fp16 => TensorData::Fp16(Vec::with_capacity(capacity)),
            DataType::Fp32 => TensorData::Fp32(Vec::with_capacity(capacity)),
            DataType::Fp64 => TensorData::Fp64(Vec::with_capacity(capacity)),
            DataType::Bytes => TensorData::Bytes(Vec::with_capacity(capacity)),
        }
    }

    /// `count` zeros (`false`, empty strings) of `datatype`, used for synthetic warm-up input.
    pub fn zeros(datatype: DataType, count: usize) -> TensorData {
        match datatype {
            DataType::Bool => TensorData::Bool(vec![false; count]),
            DataType::Uint8 => TensorData::Uint8(vec![0; count]),
            DataType::Int8 => TensorData::Int8(vec![0; count]),
            DataType::Int32 => TensorData::Int32(vec![0; count]),
            DataType::Int64 => TensorData::Int64(vec![0; count]),
            DataType::Fp16 => TensorData::Fp16(vec![f16::ZERO; count]),
            DataType::Fp32 => TensorData::Fp32(vec![0.0; count]),
            DataType::Fp64 => TensorData::Fp64(vec![0.0; count]),
            DataType::Bytes => TensorData::Bytes(vec![String::new(); count]),
        }
    }

    /// Appends all of `other`; false when the element types differ.
    fn extend_from(&mut self, other: &TensorData) -> bool {
        match (self, other) {
            (TensorData::Bool(a), TensorData::Bool(b)) => a.extend_from_slice(b),
            (TensorData::Uint8(a), TensorData::Uint8(b)) => a.extend_from_slice(b),
            (TensorData::Int8(a), TensorData::Int8(b)) => a.extend_from_slice(b),
            (TensorData::Int32(a), TensorData::Int32(b)) => a.extend_from_slice(b),
            (TensorData::Int64(a), TensorData::Int64(b)) => a.extend_from_slice(b),
            (TensorData::Fp16(a), TensorData::Fp16(b)) => a.extend_from_slice(b),
            (TensorData::Fp32(a), TensorData::Fp32(b)) => a.extend_from_slice(b),
            (TensorData::Fp64(a), TensorData::Fp64(b)) => a.extend_from_slice(b),
            (TensorData::Bytes(a), TensorData::Bytes(b)) => a.extend_from_slice(b),
            _ => return false,
        }
        true
    }

    /// Copies elements `start..end`.
    fn slice(&self, start: usize, end: usize) -> TensorData {
        match self {
            TensorData::Bool(v) => TensorData::Bool(v[start..end].to_vec()),
            TensorData::Uint8(v) => TensorData::Uint8(v[start..end].to_vec()),
            TensorData::Int8(v) => TensorData::Int8(v[start..end].to_vec()),
            TensorData::Int32(v) => TensorData::Int32(v[start..end].to_vec()),
            TensorData::Int64(v) => TensorData::Int64(v[start..end].to_vec()),
            TensorData::Fp16(v) => TensorData::Fp16(v[start..end].to_vec()),
            TensorData::Fp32(v) => TensorData::Fp32(v[start..end].to_vec()),
            TensorData::Fp64(v) => TensorData::Fp64(v[start..end].to_vec()),
            TensorData::Bytes(v) => TensorData::Bytes(v[start..end].to_vec()),
        }
    }

    /// Appends the elements in the binary tensor form to `out`:
    /// little-endian, row-major, one byte per `BOOL`, and each `BYTES`
    /// element as a 4-byte little-endian length followed by its bytes. Also
    /// the precompute cache's key.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        fn each<const N: usize, T: Copy>(out: &mut Vec<u8>, v: &[T], le: impl Fn(T) -> [u8; N]) {
            out.reserve(v.len() * N);
            v.iter().for_each(|&x| out.extend_from_slice(&le(x)));
        }
        match self {
            TensorData::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
            TensorData::Uint8(v) => out.extend_from_slice(v),
            TensorData::Int8(v) => each(out, v, i8::to_le_bytes),
            TensorData::Int32(v) => each(out, v, i32::to_le_bytes),
            TensorData::Int64(v) => each(out, v, i64::to_le_bytes),
            TensorData::Fp16(v) => each(out, v, f16::to_le_bytes),
            TensorData::Fp32(v) => each(out, v, f32::to_le_bytes),
            TensorData::Fp64(v) => each(out, v, f64::to_le_bytes),
            TensorData::Bytes(v) => {
                for s in v {
                    // Elements longer than 4 GiB cannot arrive: requests
                    // are bounded by --max-body.
                    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }

    /// The size of [`TensorData::write_bytes`]'s output.
    pub fn byte_len(&self) -> usize {
        match (self.datatype().element_size(), self) {
            (_, TensorData::Bytes(v)) => v.iter().map(|s| 4 + s.len()).sum(),
            (Some(size), _) => size * self.len(),
            (None, _) => 0,
        }
    }
}

/// A named tensor: shape plus row-major data. `shape[0]` is the batch axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: TensorData) -> Tensor {
        Tensor {
            name: name.into(),
            shape,
            data,
        }
    }

    pub fn datatype(&self) -> DataType {
        self.data.datatype()
    }

    /// Size of the batch axis (1 for a scalar).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Elements per row.
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
}

/// Why tensors could not be joined along the batch axis.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConcatError {
    #[error("no tensors to join")]
    Empty,
    #[error(
        "tensor `{name}` has shape {found:?} where {expected:?} (after the batch axis) was expected"
    )]
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor `{name}` is {found} where {expected} was expected")]
    DataType {
        name: String,
        expected: DataType,
        found: DataType,
    },
}

/// Joins tensors along axis 0. All parts must agree on name, type and the
/// dimensions after the batch axis.
pub fn concat(parts: &[&Tensor]) -> Result<Tensor, ConcatError> {
    let first = parts.first().ok_or(ConcatError::Empty)?;
    if parts.len() == 1 {
        return Ok((*first).clone());
    }
    let tail = &first.shape.get(1..).unwrap_or_default();
    let total_rows: usize = parts.iter().map(|t| t.rows()).sum();
    let mut data = TensorData::with_capacity(first.datatype(), total_rows * first.row_len());
    for part in parts {
        if part.shape.is_empty() || &part.shape[1..] != *tail {
            return Err(ConcatError::Shape {
                name: part.name.clone(),
                expected: tail.to_vec(),
                found: part.shape.clone(),
            });
        }
        if !data.extend_from(&part.data) {
            return Err(ConcatError::DataType {
                name: part.name.clone(),
                expected: first.datatype(),
                found: part.datatype(),
            });
        }
    }
    let mut shape = first.shape.clone();
    shape[0] = total_rows;
    Ok(Tensor {
        name: first.name.clone(),
        shape,
        data,
    })
}

/// Splits a tensor along axis 0 into consecutive pieces of `rows[i]` rows.
/// The caller guarantees `rows` sums to the tensor's batch size.
pub fn split(tensor: &Tensor, rows: &[usize]) -> Vec<Tensor> {
    if rows.len() == 1 {
        return vec![tensor.clone()];
    }
    let row_len = tensor.row_len();
    let mut start = 0;
    rows.iter()
        .map(|&n| {
            let end = (start + n * row_len).min(tensor.data.len());
            let mut shape = tensor.shape.clone();
            if let Some(first) = shape.first_mut() {
                *first = n;
            }
            let piece = Tensor {
                name: tensor.name.clone(),
                shape,
                data: tensor.data.slice(start, end),
            };
            start = end;
            piece
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp32(rows: usize, values: Vec<f32>) -> Tensor {
        let cols = values.len() / rows;
        Tensor::new("x", vec![rows, cols], TensorData::Fp32(values))
    }

    #[test]
    fn concat_then_split_round_trips_rows() {
        let a = fp32(1, vec![1.0, 2.0]);
        let b = fp32(2, vec![3.0, 4.0, 5.0, 6.0]);
        let joined = concat(&[&a, &b]).unwrap();
        assert_eq!(joined.shape, vec![3, 2]);
        assert_eq!(split(&joined, &[1, 2]), vec![a, b]);
    }

    #[test]
    fn concat_rejects_mismatched_row_shape() {
        let a = fp32(1, vec![1.0, 2.0]);
        let b = fp32(1, vec![1.0, 2.0, 3.0]);
        assert_eq!(
            concat(&[&a, &b]),
            Err(ConcatError::Shape {
                name: "x".into(),
                expected: vec![2],
                found: vec![1, 3]
            })
        );
    }

    #[test]
    fn concat_rejects_mixed_types() {
        let a = fp32(1, vec![1.0]);
        let b = Tensor::new("x", vec![1, 1], TensorData::Int64(vec![1]));
        assert!(matches!(
            concat(&[&a, &b]),
            Err(ConcatError::DataType { .. })
        ));
    }
}
