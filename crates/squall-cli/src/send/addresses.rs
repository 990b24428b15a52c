//! The address flags of `squall send` (`--from`, `--to`, `--cc`, `--bcc`, `--reply-to`), read as
//! mail clients read them: `alice@example.org`, `Alice <alice@example.org>`,
//! `"Doe, J." <j@example.org>`, lists separated by commas, and groups (`Team: a@example.org,
//! b@example.org;`). The library parses; this names the flag in front of its error, which already
//! names the wrong part and shows the expected form.

use squall::{Error, NamedAddress};

use crate::exit;

/// Every address given to a repeatable flag, in order: each value may hold a list.
pub(crate) fn list(flag: &str, values: &[String]) -> Result<Vec<NamedAddress>, (u8, Error)> {
    let mut out = Vec::new();
    for value in values {
        let found = NamedAddress::parse_list(value).map_err(|e| {
            let (code, e) = wrong(flag, &e);
            match separated_otherwise(value) {
                Some(list) => (
                    code,
                    Error::from_input(format!(
                        "{}; to give several, separate them with commas: {flag} {list:?}",
                        e.summary()
                    )),
                ),
                None => (code, e),
            }
        })?;
        if found.is_empty() {
            // `--to ''` or `--to ,`: the library's one-address reading says why, with the form.
            return Err(wrong(
                flag,
                &NamedAddress::parse(value).expect_err("a list without addresses is not one address"),
            ));
        }
        out.extend(found);
    }
    Ok(out)
}

/// The one address of `--from` (or of an account's `from`).
pub(crate) fn one(flag: &str, value: &str) -> Result<NamedAddress, (u8, Error)> {
    NamedAddress::parse(value).map_err(|e| wrong(flag, &e))
}

/// Addresses separated by spaces or semicolons (as mail(1) takes them as arguments, and Outlook
/// writes them), written as the list they were meant to be.
fn separated_otherwise(value: &str) -> Option<String> {
    let words: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let bare = |w: &&str| NamedAddress::parse(w).is_ok_and(|a| a.name.is_none());
    (words.len() > 1 && !value.contains(['<', ',', '"']) && words.iter().all(bare)).then(|| words.join(", "))
}

/// A refused address: exit 65, as the README's table has it for an address refused as input.
fn wrong(flag: &str, e: &Error) -> (u8, Error) {
    (
        exit::DATAERR,
        Error::from_input(format!("{flag}: {}", e.summary())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_and_groups_split_and_names_stay() {
        let got = list(
            "--to",
            &strings(&[
                "b@example.com, c@example.com",
                r#""Doe, J. \"JD\"" <j@example.com>"#,
                "Team: d@example.com, E <e@example.com>;",
            ]),
        )
        .unwrap();
        let shown: Vec<String> = got.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            shown,
            [
                "b@example.com",
                "c@example.com",
                r#""Doe, J. \"JD\"" <j@example.com>"#,
                "d@example.com",
                "E <e@example.com>"
            ]
        );
        assert_eq!(got[2].name.as_deref(), Some(r#"Doe, J. "JD""#));
    }

    #[test]
    fn errors_name_the_flag_the_part_and_the_form() {
        for (flag, value, says) in [
            ("--to", "Ann <a@example.com> extra", "at \"extra\""),
            ("--cc", "Bob <bob@example.com", "Bob <bob@example.com"),
            ("--bcc", "", "no address"),
            ("--reply-to", " , ", "no address"),
        ] {
            let (code, e) = list(flag, &strings(&[value])).unwrap_err();
            let text = e.to_string();
            assert_eq!(code, 65, "{text}");
            assert!(text.starts_with(&format!("{flag}: ")), "{text}");
            assert!(text.contains(says), "{value:?}: {text}");
            assert!(
                text.contains("Name <name@example.org>"),
                "the expected form: {text}"
            );
        }
        for value in ["b@example.com c@example.com", "b@example.com;c@example.com"] {
            let (_, e) = list("--to", &strings(&[value])).unwrap_err();
            assert!(
                e.to_string()
                    .contains(r#"separate them with commas: --to "b@example.com, c@example.com""#),
                "{e}"
            );
        }
        let (_, e) = one("--from", "a@example.com, b@example.com").unwrap_err();
        assert!(e.to_string().starts_with("--from: "), "{e}");
        assert!(e.to_string().contains("2 addresses where one is expected"), "{e}");
    }
}
