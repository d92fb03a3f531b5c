//! Free text shown to people: a model's one-line description and its owner.

use super::ValueError;

/// Longest `description`, in characters.
pub const MAX_DESCRIPTION: usize = 200;
/// Longest `owner`, in characters (it becomes an annotation value; owners
/// are team names).
const MAX_OWNER: usize = 253;

/// One line with something other than white space on it.
const ONE_LINE: &str = r"^[^\n]*\S[^\n]*$";
/// Something other than white space.
const NOT_BLANK: &str = r"\S";

/// Declares a free-text newtype checked by `$check` alone (it judges blank
/// values itself); `$max` is in characters, as JSON Schema's `maxLength`
/// counts them.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, check = $check:path, pattern = $pattern:expr, max = $max:expr, desc = $desc:expr) => {
        super::string_newtype!(
            $(#[$doc])* $name, pattern = Some($pattern), max = $max, desc = $desc,
            |s| {
                $check(&s)?;
            }
        );
    };
}

text_value!(
    /// One line saying what a model does: not blank, at most 200 characters.
    Description,
    check = check_description,
    pattern = ONE_LINE,
    max = MAX_DESCRIPTION,
    desc = "One line saying what the model does, at most 200 characters."
);

text_value!(
    /// The team that owns a model: not blank, at most 253 characters.
    Owner,
    check = check_owner,
    pattern = NOT_BLANK,
    max = MAX_OWNER,
    desc = "The team that owns the model, e.g. `team-images`."
);

fn check_description(s: &str) -> Result<(), ValueError> {
    if s.contains('\n') || s.trim().is_empty() || s.chars().count() > MAX_DESCRIPTION {
        return Err(ValueError::new(
            format!(
                "`description` must be one non-empty line of at most {MAX_DESCRIPTION} characters"
            ),
            "say in one line what the model does; put details in the model's repository",
        ));
    }
    Ok(())
}

fn check_owner(s: &str) -> Result<(), ValueError> {
    if s.trim().is_empty() {
        return Err(ValueError::new(
            "`owner` is empty",
            "name the owning team, e.g. `team-images`",
        ));
    }
    if s.chars().count() > MAX_OWNER {
        return Err(ValueError::new(
            format!("`owner` is longer than {MAX_OWNER} characters"),
            "name the owning team, e.g. `team-images`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_one_short_line() {
        assert!("Tags hotel photos".parse::<Description>().is_ok());
        assert!("é".repeat(200).parse::<Description>().is_ok());
        for bad in ["", "  ", "two\nlines", &"x".repeat(201)] {
            let e = bad.parse::<Description>().unwrap_err();
            assert!(
                e.message.starts_with("`description` must be"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn owners_are_not_blank() {
        assert!("team-images".parse::<Owner>().is_ok());
        assert_eq!(
            " ".parse::<Owner>().unwrap_err().message,
            "`owner` is empty"
        );
        assert!("x".repeat(254).parse::<Owner>().is_err());
    }
}
