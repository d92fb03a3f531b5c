//! The binary tensor data extension of the Open Inference Protocol's REST
//! form (what Triton's clients send by default). A body is a JSON header
//! followed by raw tensor bytes; the `Inference-Header-Content-Length`
//! header gives the JSON's length. Each binary input names its byte count
//! in its `binary_data_size` parameter, and the bytes follow in the order
//! the inputs are listed. Elements are little-endian and row-major, a
//! `BOOL` is one byte (0 or 1), and a `BYTES` element is a 4-byte
//! little-endian length followed by that many bytes.
//!
//! This module owns splitting a body and converting between bytes and
//! [`TensorData`]; which tensors are binary is decided in [`super::v2`].

use super::BadRequest;
use crate::tensor::{DataType, TensorData, f16};

/// The request and response header that gives the JSON header's length.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// Splits `body` into its JSON header and binary section. Without the
/// header (`header_length` is `None`) the whole body is JSON.
pub fn split_body<'a>(
    body: &'a [u8],
    header_length: Option<&[u8]>,
) -> Result<(&'a [u8], &'a [u8]), BadRequest> {
    let Some(raw) = header_length else {
        return Ok((body, &[]));
    };
    let text = String::from_utf8_lossy(raw);
    let length: usize = text.trim().parse().map_err(|_| {
        BadRequest(format!(
            "Inference-Header-Content-Length `{text}` is not a byte count"
        ))
    })?;
    if length > body.len() {
        return Err(BadRequest(format!(
            "Inference-Header-Content-Length is {length} but the body has only {} bytes",
            body.len()
        )));
    }
    Ok(body.split_at(length))
}

/// Decodes `count` elements of `datatype` from exactly `bytes`; `what`
/// names the tensor in errors.
pub fn decode(
    bytes: &[u8],
    datatype: DataType,
    count: usize,
    what: &str,
) -> Result<TensorData, BadRequest> {
    if let Some(size) = datatype.element_size() {
        let needed = count.saturating_mul(size);
        if bytes.len() != needed {
            return Err(BadRequest(format!(
                "{what} has {} bytes of binary data but {count} {datatype} elements take {needed} bytes",
                bytes.len()
            )));
        }
    }
    let not_finite = |index: usize| not_finite(what, index);
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(
            bytes
                .iter()
                .enumerate()
                .map(|(i, &b)| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    other => Err(BadRequest(format!(
                        "{what}: BOOL element {i} is the byte {other}, expected 0 or 1"
                    ))),
                })
                .collect::<Result<_, _>>()?,
        ),
        DataType::Uint8 => TensorData::Uint8(bytes.to_vec()),
        DataType::Int8 => TensorData::Int8(bytes.iter().map(|&b| b as i8).collect()),
        DataType::Int32 => TensorData::Int32(words(bytes, i32::from_le_bytes)),
        DataType::Int64 => TensorData::Int64(words(bytes, i64::from_le_bytes)),
        DataType::Fp16 => TensorData::Fp16(finite(
            words(bytes, f16::from_le_bytes),
            f16::is_finite,
            not_finite,
        )?),
        DataType::Fp32 => TensorData::Fp32(finite(
            words(bytes, f32::from_le_bytes),
            f32::is_finite,
            not_finite,
        )?),
        DataType::Fp64 => TensorData::Fp64(finite(
            words(bytes, f64::from_le_bytes),
            f64::is_finite,
            not_finite,
        )?),
        DataType::Bytes => TensorData::Bytes(strings(bytes, count, what)?),
    })
}

/// The elements of a fixed-size type; `bytes` holds a whole number of them.
fn words<const N: usize, T>(bytes: &[u8], from_le: fn([u8; N]) -> T) -> Vec<T> {
    let (chunks, _) = bytes.as_chunks::<N>();
    chunks.iter().map(|&chunk| from_le(chunk)).collect()
}

/// `values`, unless one is NaN or infinite (as in the JSON form).
fn finite<T: Copy>(
    values: Vec<T>,
    is_finite: fn(T) -> bool,
    error: impl Fn(usize) -> BadRequest,
) -> Result<Vec<T>, BadRequest> {
    match values.iter().position(|&x| !is_finite(x)) {
        Some(index) => Err(error(index)),
        None => Ok(values),
    }
}

/// Refuses a NaN or infinite element, as the binary form does; for
/// elements that arrive already typed (gRPC's typed contents).
pub fn check_finite<T: Copy + Into<f64>>(values: &[T], what: &str) -> Result<(), BadRequest> {
    match values.iter().position(|&v| !v.into().is_finite()) {
        None => Ok(()),
        Some(index) => Err(not_finite(what, index)),
    }
}

/// A NaN or infinite element `index` of `what`.
fn not_finite(what: &str, index: usize) -> BadRequest {
    BadRequest(format!(
        "{what}: element {index} is not a finite number (NaN or infinite)"
    ))
}

/// A `BYTES` element `index` of `what` that is not UTF-8.
pub fn not_utf8(what: &str, index: usize) -> BadRequest {
    BadRequest(format!(
        "{what}: BYTES element {index} is not UTF-8 (this server carries BYTES as text)"
    ))
}

/// `count` length-prefixed UTF-8 strings filling `bytes` exactly.
fn strings(bytes: &[u8], count: usize, what: &str) -> Result<Vec<String>, BadRequest> {
    let mut out = Vec::with_capacity(count.min(bytes.len() / 4));
    let mut rest = bytes;
    for index in 0..count {
        let Some((length, tail)) = rest.split_first_chunk::<4>() else {
            return Err(BadRequest(format!(
                "{what}: BYTES element {index} of {count} has no 4-byte length; the data ends after {} bytes",
                bytes.len() - rest.len()
            )));
        };
        let length = u32::from_le_bytes(*length) as usize;
        if length > tail.len() {
            return Err(BadRequest(format!(
                "{what}: BYTES element {index} says {length} bytes but only {} remain",
                tail.len()
            )));
        }
        let (element, tail) = tail.split_at(length);
        let text = std::str::from_utf8(element).map_err(|_| not_utf8(what, index))?;
        out.push(text.to_owned());
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(BadRequest(format!(
            "{what}: {} bytes are left after its {count} BYTES elements",
            rest.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(datatype: DataType, values: TensorData) -> Vec<u8> {
        assert_eq!(values.datatype(), datatype);
        let mut out = Vec::new();
        values.write_bytes(&mut out);
        assert_eq!(out.len(), values.byte_len());
        out
    }

    #[test]
    fn every_datatype_round_trips() {
        for values in [
            TensorData::Bool(vec![true, false, true]),
            TensorData::Uint8(vec![0, 7, 255]),
            TensorData::Int8(vec![-128, 0, 127]),
            TensorData::Int32(vec![-1, 1 << 20]),
            TensorData::Int64(vec![i64::MIN, 3]),
            TensorData::Fp16(vec![f16::from_f32(0.5), f16::from_f32(-1.25)]),
            TensorData::Fp32(vec![0.1, -3.5]),
            TensorData::Fp64(vec![1e-300, 2.0]),
            TensorData::Bytes(vec!["cat".into(), String::new(), "ü".into()]),
        ] {
            let datatype = values.datatype();
            let bytes = data(datatype, values.clone());
            assert_eq!(
                decode(&bytes, datatype, values.len(), "input `x`"),
                Ok(values)
            );
        }
    }

    #[test]
    fn little_endian_layout() {
        assert_eq!(
            data(DataType::Fp32, TensorData::Fp32(vec![1.0])),
            [0, 0, 0x80, 0x3f]
        );
        assert_eq!(
            data(DataType::Bytes, TensorData::Bytes(vec!["ab".into()])),
            [2, 0, 0, 0, b'a', b'b']
        );
    }

    #[test]
    fn size_must_match_the_element_count() {
        let err = decode(&[0; 12], DataType::Fp32, 4, "input `x`").unwrap_err();
        assert_eq!(
            err.0,
            "input `x` has 12 bytes of binary data but 4 FP32 elements take 16 bytes"
        );
        assert!(decode(&[0; 3], DataType::Fp16, 1, "x").is_err());
        assert!(decode(&[], DataType::Fp32, usize::MAX, "x").is_err());
    }

    #[test]
    fn booleans_are_zero_or_one() {
        let err = decode(&[1, 2], DataType::Bool, 2, "input `b`").unwrap_err();
        assert_eq!(
            err.0,
            "input `b`: BOOL element 1 is the byte 2, expected 0 or 1"
        );
    }

    #[test]
    fn non_finite_floats_are_rejected() {
        let nan = f32::NAN.to_le_bytes();
        assert!(
            decode(&nan, DataType::Fp32, 1, "x")
                .unwrap_err()
                .0
                .contains("element 0")
        );
    }

    #[test]
    fn malformed_bytes_elements_are_rejected() {
        // A length past the end.
        assert!(
            decode(&[9, 0, 0, 0, b'a'], DataType::Bytes, 1, "x")
                .unwrap_err()
                .0
                .contains("says 9 bytes but only 1 remain")
        );
        // Fewer elements than the shape needs.
        assert!(
            decode(&[1, 0, 0, 0, b'a'], DataType::Bytes, 2, "x")
                .unwrap_err()
                .0
                .contains("no 4-byte length")
        );
        // Bytes left over.
        assert!(
            decode(&[0, 0, 0, 0, 7], DataType::Bytes, 1, "x")
                .unwrap_err()
                .0
                .contains("1 bytes are left")
        );
        // Not UTF-8.
        assert!(
            decode(&[1, 0, 0, 0, 0xff], DataType::Bytes, 1, "x")
                .unwrap_err()
                .0
                .contains("not UTF-8")
        );
        // A huge count cannot make it allocate up front.
        assert!(decode(&[], DataType::Bytes, usize::MAX, "x").is_err());
    }

    #[test]
    fn split_body_checks_the_header_length() {
        let body = b"{}abcd";
        assert_eq!(split_body(body, None), Ok((&body[..], &b""[..])));
        assert_eq!(split_body(body, Some(b"2")), Ok((&b"{}"[..], &b"abcd"[..])));
        assert_eq!(
            split_body(body, Some(b"7")).unwrap_err().0,
            "Inference-Header-Content-Length is 7 but the body has only 6 bytes"
        );
        assert_eq!(
            split_body(body, Some(b"-1")).unwrap_err().0,
            "Inference-Header-Content-Length `-1` is not a byte count"
        );
        assert!(split_body(body, Some(b"2.0")).is_err());
    }
}
