//! Short content hashes for object names and version labels.
//!
//! Owns the one hashing rule: the first 8 hex digits of SHA-256. Must stay
//! stable across releases, since the hashes end up in object names.

use sha2::{Digest, Sha256};

/// The first 8 lower-case hex digits of the SHA-256 of `bytes`.
pub fn hash8(bytes: impl AsRef<[u8]>) -> String {
    let digest = Sha256::digest(bytes.as_ref());
    let mut out = String::with_capacity(8);
    for byte in &digest[..4] {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hash8;

    #[test]
    fn hash8_is_the_sha256_prefix() {
        // sha256("") = e3b0c442 98fc1c14 …
        assert_eq!(hash8(""), "e3b0c442");
        assert_eq!(hash8("abc"), "ba7816bf");
    }
}
