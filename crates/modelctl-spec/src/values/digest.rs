//! Content digests: the SHA-256 a code archive (`train.code.sha256`) must
//! match before it is extracted. Owns only the digest's spelling; which
//! fields may carry one is a rule of [`crate::rules`].

use super::{ValueError, quoted, string_value};

string_value!(
    /// A SHA-256 digest written as 64 lower-case hexadecimal digits.
    Sha256,
    check = check_sha256,
    pattern = Some(r"^[0-9a-f]{64}$"),
    max = 128,
    desc = "A SHA-256 digest: 64 lower-case hexadecimal digits (`sha256sum code.tar.gz`)."
);

fn check_sha256(s: &str) -> Result<(), ValueError> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if s.len() == 64 && s.chars().all(hex) {
        return Ok(());
    }
    let help = if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        "write the digits in lower case".to_owned()
    } else {
        format!(
            "write the 64 hexadecimal digits `sha256sum` prints (this value has {} characters)",
            s.chars().count()
        )
    };
    Err(ValueError::new(
        format!("{} is not a SHA-256 digest", quoted(s)),
        help,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_digests() {
        let ok = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(ok.parse::<Sha256>().is_ok());
        let upper = ok.to_ascii_uppercase();
        let err = upper.parse::<Sha256>().unwrap_err();
        assert_eq!(err.help, "write the digits in lower case");
        for bad in [
            "",
            "9f86d0",
            &ok[1..],
            &format!("{ok}0"),
            &ok.replace('9', "g"),
        ] {
            assert!(bad.parse::<Sha256>().is_err(), "{bad}");
        }
    }
}
