//! `--attach PATH[;type=TYPE][;name=NAME]` and `--inline CID=PATH[;type=TYPE][;name=NAME]`.
//!
//! The options follow curl's `-F` form: a `;` starts an option only when `type=` or `name=`
//! follows it, so a path or a name may hold any other `;`. The file is read without blocking the
//! runtime ([`Attachment::read`]); its type is guessed from the extension unless `type=` says.

use std::ffi::OsStr;
use std::path::PathBuf;

use squall::{Attachment, Error};

use crate::exit;

const ATTACH_FORM: &str =
    "expected PATH[;type=TYPE][;name=NAME], such as --attach 'scan.bin;type=application/pdf;name=Scan.pdf'";
const INLINE_FORM: &str = "expected CID=PATH[;type=TYPE][;name=NAME], such as --inline logo=logo.png, shown by the HTML as <img src=\"cid:logo\">";

/// A file to attach, and what to call it.
#[derive(Debug, PartialEq, Eq)]
struct Spec {
    path: PathBuf,
    content_type: Option<String>,
    name: Option<String>,
}

/// `--attach VALUE`: the attachment, read.
pub(crate) async fn attachment(value: &OsStr) -> Result<Attachment, (u8, Error)> {
    let spec = parse(value).map_err(|m| usage(format!("--attach {value:?}: {m}; {ATTACH_FORM}")))?;
    read("--attach", &spec).await
}

/// `--inline CID=VALUE`: the Content-ID and the part, read.
pub(crate) async fn inline(value: &OsStr) -> Result<(String, Attachment), (u8, Error)> {
    let bytes = value.as_encoded_bytes();
    let Some(eq) = bytes.iter().position(|&b| b == b'=') else {
        return Err(usage(format!(
            "--inline {value:?}: no '=' between the Content-ID and the file; {INLINE_FORM}"
        )));
    };
    let cid = std::str::from_utf8(&bytes[..eq])
        .ok()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            usage(format!(
                "--inline {value:?}: the Content-ID before '=' is empty or not text; {INLINE_FORM}"
            ))
        })?;
    let rest = os_str(&bytes[eq + 1..]);
    let spec = parse(&rest).map_err(|m| usage(format!("--inline {value:?}: {m}; {INLINE_FORM}")))?;
    Ok((cid.to_string(), read("--inline", &spec).await?))
}

/// The path and the options; a path that is not UTF-8 is taken whole.
fn parse(value: &OsStr) -> Result<Spec, String> {
    let Some(text) = value.to_str() else {
        return Ok(Spec {
            path: value.into(),
            content_type: None,
            name: None,
        });
    };
    let lower = text.to_ascii_lowercase();
    let starts: Vec<usize> = text
        .match_indices(';')
        .map(|(i, _)| i)
        .filter(|&i| lower[i + 1..].starts_with("type=") || lower[i + 1..].starts_with("name="))
        .collect();
    let path = &text[..starts.first().copied().unwrap_or(text.len())];
    if path.is_empty() {
        return Err("no file before the options".into());
    }
    let mut spec = Spec {
        path: path.into(),
        content_type: None,
        name: None,
    };
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let (key, v) = text[start + 1..end].split_at(4);
        let v = &v[1..];
        if v.is_empty() {
            return Err(format!("{key}= is empty"));
        }
        let slot = if key.eq_ignore_ascii_case("type") {
            &mut spec.content_type
        } else {
            &mut spec.name
        };
        if slot.replace(v.to_string()).is_some() {
            return Err(format!("{key}= is given twice"));
        }
    }
    Ok(spec)
}

/// Reads the file and applies the options; a file that cannot be read is exit 66, a bad type or
/// name exit 65.
async fn read(flag: &str, spec: &Spec) -> Result<Attachment, (u8, Error)> {
    let path = &spec.path;
    let unreadable = |why: String| {
        let hint = match path.to_str() {
            Some(p) if p.contains(';') && p.contains('=') => " (the options are ;type=TYPE and ;name=NAME)",
            _ => "",
        };
        (
            exit::NOINPUT,
            Error::from_input(format!("{flag} {path:?}: cannot read it: {why}{hint}")),
        )
    };
    match tokio::fs::metadata(path).await {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(unreadable("not a regular file".into())),
        Err(e) => return Err(unreadable(e.to_string())),
    }
    tokio::fs::File::open(path)
        .await
        .map_err(|e| unreadable(e.to_string()))?;
    let bad = |e: Error| {
        (
            exit::DATAERR,
            Error::from_input(format!("{flag} {path:?}: {}", e.summary())),
        )
    };
    let mut a = match Attachment::read(path).await {
        Ok(a) => a,
        // The file's own name cannot be shown (it holds a control character): fine when it is
        // renamed, though the type is then not guessed from it.
        Err(_) if spec.name.is_some() => {
            let data = tokio::fs::read(path)
                .await
                .map_err(|e| unreadable(e.to_string()))?;
            Attachment::new("attachment", "application/octet-stream", data).map_err(bad)?
        }
        Err(e) => return Err(bad(e)),
    };
    if let Some(name) = &spec.name {
        a = a.named(name).map_err(bad)?;
    }
    if let Some(t) = &spec.content_type {
        a = a.with_type(t).map_err(bad)?;
    }
    Ok(a)
}

fn os_str(bytes: &[u8]) -> std::ffi::OsString {
    // The bytes came from an OsStr split at an ASCII byte, so they are valid encoded bytes.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(bytes).to_os_string()
    }
    #[cfg(not(unix))]
    {
        String::from_utf8_lossy(bytes).into_owned().into()
    }
}

fn usage(m: String) -> (u8, Error) {
    (exit::USAGE, Error::from_input(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str, t: Option<&str>, n: Option<&str>) -> Spec {
        Spec {
            path: path.into(),
            content_type: t.map(str::to_string),
            name: n.map(str::to_string),
        }
    }

    #[test]
    fn options_after_the_path() {
        let p = |s: &str| parse(OsStr::new(s));
        assert_eq!(p("report.pdf").unwrap(), spec("report.pdf", None, None));
        assert_eq!(
            p("report.bin;type=application/pdf;name=Report.pdf").unwrap(),
            spec("report.bin", Some("application/pdf"), Some("Report.pdf"))
        );
        assert_eq!(
            p("a;b.txt;NAME=x;y.txt;Type=text/plain").unwrap(),
            spec("a;b.txt", Some("text/plain"), Some("x;y.txt"))
        );
        assert_eq!(p("x;nmae=y").unwrap(), spec("x;nmae=y", None, None));
        assert!(p(";type=a/b").unwrap_err().contains("no file"));
        assert!(p("x;type=").unwrap_err().contains("type= is empty"));
        assert!(p("x;name=a;name=b").unwrap_err().contains("twice"));
    }
}
