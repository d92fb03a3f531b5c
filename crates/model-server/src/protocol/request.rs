//! One inference request's tensors, assembled and checked against the
//! model's signature, whatever wire format carried them: the Open
//! Inference Protocol over REST ([`super::v2`]) and over gRPC
//! ([`super::grpc`]) both come through here, so a fault has one message
//! on both.
//!
//! Owns the checks on inputs (known name, given once, supported datatype
//! equal to the model's, shape of the model's rank with a free batch axis,
//! element count) and on requested outputs (known name, asked for once),
//! and the words of their errors, and the `timeout` request parameter. It
//! must not know a wire format: where an
//! input's elements come from (JSON, binary section, raw or typed protobuf
//! contents) is the adapter's business, handed over as an [`InputData`].

use std::time::Duration;

use super::{BadRequest, Scalar, binary, decode_elements};
use crate::backend::{Signature, TensorSpec};
use crate::tensor::{DataType, Tensor, TensorData};

/// A decoded request: inputs in the model's order, and which outputs to return.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRequest {
    pub id: Option<String>,
    pub inputs: Vec<Tensor>,
    /// Outputs in the order asked for.
    pub outputs: Vec<OutputChoice>,
    /// The `timeout` parameter: how long the request may wait for the engine.
    pub timeout: Option<Duration>,
}

/// Reads the request's `timeout` parameter: a whole number of
/// microseconds, at least 1, as Triton reads its `timeout` parameter.
/// `shown` describes the value for the error.
pub fn timeout(
    micros: Option<i128>,
    shown: &dyn std::fmt::Display,
) -> Result<Duration, BadRequest> {
    micros
        .and_then(|us| u64::try_from(us).ok())
        .filter(|&us| us >= 1)
        .map(Duration::from_micros)
        .ok_or_else(|| {
            BadRequest(format!(
                "parameter `timeout` of the request must be a whole number of microseconds, \
                 at least 1, not {shown}"
            ))
        })
}

/// One output to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputChoice {
    /// Index into the signature's outputs.
    pub index: usize,
    /// Returned as binary data after the JSON rather than in it (REST only;
    /// gRPC returns every output raw).
    pub binary: bool,
}

/// An input's elements as its wire format carries them, not yet checked.
#[derive(Debug, Clone, Copy)]
pub enum InputData<'a> {
    /// JSON scalars, flattened row-major.
    Scalars(&'a [Scalar]),
    /// Little-endian bytes in the binary tensor layout ([`binary::decode`]).
    Bytes(&'a [u8]),
}

/// What the checks fixed about one input before its elements are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// `input `name``, for messages.
    pub what: String,
    pub datatype: DataType,
    pub shape: Vec<usize>,
    /// The number of elements the shape holds.
    pub count: usize,
}

impl Expected {
    /// Refuses `found` elements where the shape needs [`Expected::count`].
    pub fn check_count(&self, found: usize) -> Result<(), BadRequest> {
        if found == self.count {
            return Ok(());
        }
        Err(BadRequest(format!(
            "{} has {found} elements but shape {:?} needs {}",
            self.what, self.shape, self.count
        )))
    }

    /// The elements of `data`, checked for count and range.
    pub fn decode(&self, data: InputData<'_>) -> Result<TensorData, BadRequest> {
        match data {
            InputData::Scalars(scalars) => {
                self.check_count(scalars.len())?;
                decode_elements(scalars, self.datatype, &self.what)
            }
            InputData::Bytes(bytes) => binary::decode(bytes, self.datatype, self.count, &self.what),
        }
    }
}

/// Collects a request's inputs into the model's order, checking each as it
/// comes; [`Inputs::finish`] checks that none is missing.
#[derive(Debug)]
pub struct Inputs<'s> {
    signature: &'s Signature,
    slots: Vec<Option<Tensor>>,
}

impl<'s> Inputs<'s> {
    pub fn new(signature: &'s Signature) -> Inputs<'s> {
        Inputs {
            signature,
            slots: vec![None; signature.inputs.len()],
        }
    }

    /// Checks the input `name` (its `datatype` and `shape` as sent) and
    /// adds the tensor `elements` reads; `elements` runs only once the
    /// name, datatype and shape are known good.
    pub fn add(
        &mut self,
        name: &str,
        datatype: &str,
        shape: &[i64],
        elements: impl FnOnce(&Expected) -> Result<TensorData, BadRequest>,
    ) -> Result<(), BadRequest> {
        let index = self.index_of(name)?;
        let expected = expect(name, datatype, shape, &self.signature.inputs[index])?;
        let data = elements(&expected)?;
        self.slots[index] = Some(Tensor::new(name.to_owned(), expected.shape, data));
        Ok(())
    }

    /// The slot of input `name`: known to the model and not given yet.
    fn index_of(&self, name: &str) -> Result<usize, BadRequest> {
        let index = self
            .signature
            .inputs
            .iter()
            .position(|spec| spec.name == name)
            .ok_or_else(|| {
                BadRequest(format!(
                    "unknown input `{name}`; the model takes {}",
                    names(&self.signature.inputs)
                ))
            })?;
        if self.slots[index].is_some() {
            return Err(BadRequest(format!("input `{name}` given twice")));
        }
        Ok(index)
    }

    /// The tensors in the model's input order: every input given, all
    /// with the same number of rows.
    pub fn finish(self) -> Result<Vec<Tensor>, BadRequest> {
        let mut inputs = Vec::with_capacity(self.slots.len());
        for (slot, spec) in self.slots.into_iter().zip(&self.signature.inputs) {
            inputs.push(slot.ok_or_else(|| BadRequest(format!("missing input `{}`", spec.name)))?);
        }
        if let Some(first) = inputs.first()
            && let Some(other) = inputs.iter().find(|t| t.rows() != first.rows())
        {
            return Err(BadRequest(format!(
                "inputs disagree on the batch size: `{}` has {} rows, `{}` has {}",
                first.name,
                first.rows(),
                other.name,
                other.rows()
            )));
        }
        Ok(inputs)
    }
}

/// The indexes of the outputs `requested` names, in that order; every
/// output in the model's order when none is named.
pub fn requested_outputs<'r>(
    signature: &Signature,
    requested: impl IntoIterator<Item = &'r str>,
) -> Result<Vec<usize>, BadRequest> {
    let mut chosen = Vec::new();
    for name in requested {
        let index = signature
            .outputs
            .iter()
            .position(|spec| spec.name == name)
            .ok_or_else(|| {
                BadRequest(format!(
                    "unknown output `{name}`; the model returns {}",
                    names(&signature.outputs)
                ))
            })?;
        if chosen.contains(&index) {
            return Err(BadRequest(format!("output `{name}` requested twice")));
        }
        chosen.push(index);
    }
    if chosen.is_empty() {
        chosen.extend(0..signature.outputs.len());
    }
    Ok(chosen)
}

/// The datatype, shape and element count of input `name`, checked against `spec`.
fn expect(
    name: &str,
    datatype: &str,
    shape: &[i64],
    spec: &TensorSpec,
) -> Result<Expected, BadRequest> {
    let datatype = DataType::parse(datatype).ok_or_else(|| {
        BadRequest(format!(
            "input `{name}` has unsupported datatype `{datatype}`"
        ))
    })?;
    if datatype != spec.datatype {
        return Err(BadRequest(format!(
            "input `{name}` is {datatype} but the model expects {}",
            spec.datatype
        )));
    }
    let shape = check_shape(name, shape, spec)?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            BadRequest(format!(
                "input `{name}` has shape {shape:?}, too many elements to address"
            ))
        })?;
    Ok(Expected {
        what: format!("input `{name}`"),
        datatype,
        shape,
        count,
    })
}

/// Validates the shape of a request tensor against `spec`: same rank, at
/// least one row, fixed dimensions equal. Returns the shape as `usize`s.
fn check_shape(name: &str, shape: &[i64], spec: &TensorSpec) -> Result<Vec<usize>, BadRequest> {
    if shape.len() != spec.shape.len() {
        return Err(BadRequest(format!(
            "input `{name}` has shape {shape:?} but the model expects rank {} ({:?}, -1 = any)",
            spec.shape.len(),
            spec.shape
        )));
    }
    let mut dims = Vec::with_capacity(shape.len());
    for (axis, (&given, &expected)) in shape.iter().zip(&spec.shape).enumerate() {
        let given = usize::try_from(given).map_err(|_| {
            BadRequest(format!(
                "input `{name}` has a negative dimension in shape {shape:?}"
            ))
        })?;
        if axis == 0 && given == 0 {
            return Err(BadRequest(format!(
                "input `{name}` is an empty batch (shape {shape:?})"
            )));
        }
        if expected >= 0 && given as i64 != expected {
            return Err(BadRequest(format!(
                "input `{name}` has shape {shape:?} but the model expects {:?} (-1 = any)",
                spec.shape
            )));
        }
        dims.push(given);
    }
    Ok(dims)
}

/// `` `a`, `b` ``: the names of `specs`, for messages.
fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("`{}`", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature() -> Signature {
        Signature {
            inputs: vec![
                TensorSpec {
                    name: "a".into(),
                    datatype: DataType::Fp32,
                    shape: vec![-1, 2],
                },
                TensorSpec {
                    name: "b".into(),
                    datatype: DataType::Int64,
                    shape: vec![-1, -1],
                },
            ],
            outputs: vec![
                TensorSpec {
                    name: "y".into(),
                    datatype: DataType::Fp32,
                    shape: vec![-1],
                },
                TensorSpec {
                    name: "z".into(),
                    datatype: DataType::Fp32,
                    shape: vec![-1],
                },
            ],
        }
    }

    fn add(
        inputs: &mut Inputs<'_>,
        name: &str,
        datatype: &str,
        shape: &[i64],
    ) -> Result<(), BadRequest> {
        inputs.add(name, datatype, shape, |expected| match expected.datatype {
            DataType::Fp32 => Ok(TensorData::Fp32(vec![0.0; expected.count])),
            _ => Ok(TensorData::Int64(vec![0; expected.count])),
        })
    }

    #[test]
    fn inputs_come_out_in_the_model_order() {
        let signature = signature();
        let mut inputs = Inputs::new(&signature);
        add(&mut inputs, "b", "INT64", &[2, 5]).unwrap();
        add(&mut inputs, "a", "FP32", &[2, 2]).unwrap();
        let tensors = inputs.finish().unwrap();
        assert_eq!(tensors[0].name, "a");
        assert_eq!(tensors[1].shape, vec![2, 5]);
    }

    #[test]
    fn rows_must_agree_across_inputs() {
        let signature = signature();
        let mut inputs = Inputs::new(&signature);
        add(&mut inputs, "a", "FP32", &[2, 2]).unwrap();
        add(&mut inputs, "b", "INT64", &[3, 1]).unwrap();
        assert_eq!(
            inputs.finish().unwrap_err().0,
            "inputs disagree on the batch size: `a` has 2 rows, `b` has 3"
        );
    }

    #[test]
    fn elements_are_read_only_after_the_header_checks() {
        let signature = signature();
        let mut inputs = Inputs::new(&signature);
        let err = inputs
            .add("a", "FP64", &[1, 2], |_| panic!("not read"))
            .unwrap_err();
        assert_eq!(err.0, "input `a` is FP64 but the model expects FP32");
        let err = inputs
            .add("b", "INT64", &[i64::MAX, i64::MAX], |_| panic!("not read"))
            .unwrap_err();
        assert!(err.0.ends_with("too many elements to address"), "{err}");
    }

    #[test]
    fn no_outputs_named_means_all_of_them() {
        let signature = signature();
        assert_eq!(requested_outputs(&signature, []), Ok(vec![0, 1]));
        assert_eq!(requested_outputs(&signature, ["z"]), Ok(vec![1]));
        assert_eq!(
            requested_outputs(&signature, ["z", "z"]).unwrap_err().0,
            "output `z` requested twice"
        );
    }

    #[test]
    fn counts_are_checked_before_elements() {
        let expected = Expected {
            what: "input `a`".into(),
            datatype: DataType::Fp32,
            shape: vec![2, 2],
            count: 4,
        };
        let scalars = [Scalar::Int(1), Scalar::Int(2), Scalar::Int(3)];
        assert_eq!(
            expected.decode(InputData::Scalars(&scalars)).unwrap_err().0,
            "input `a` has 3 elements but shape [2, 2] needs 4"
        );
        assert_eq!(
            expected.decode(InputData::Bytes(&[0; 12])).unwrap_err().0,
            "input `a` has 12 bytes of binary data but 4 FP32 elements take 16 bytes"
        );
    }
}
