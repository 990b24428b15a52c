//! [`Attachment`]: a file sent with a message, as a download or a part the HTML shows.

use std::path::Path;
use std::sync::Arc;

use super::fields::{check_text, guess_type};
use crate::error::Error;

/// A file to send with a message: its name, its content type, its bytes.
///
/// Made from memory with [`Attachment::new`], or read from a file without blocking the runtime
/// with [`Attachment::read`]; added with [`MessageBuilder::attach`](super::MessageBuilder::attach) (a download) or
/// [`MessageBuilder::inline`](super::MessageBuilder::inline) (a picture the HTML part shows by its `cid:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub(super) filename: String,
    pub(super) content_type: String,
    pub(super) data: Arc<[u8]>,
}

impl Attachment {
    /// An attachment from memory.
    pub fn new(filename: &str, content_type: &str, data: impl Into<Arc<[u8]>>) -> Result<Self, Error> {
        check_text("attachment name", filename)?;
        check_text("content type", content_type)?;
        if !content_type.contains('/') {
            return Err(Error::input(format!(
                "the content type {content_type:?} is not TYPE/SUBTYPE, such as application/pdf"
            )));
        }
        Ok(Self {
            filename: filename.to_string(),
            content_type: content_type.to_string(),
            data: data.into(),
        })
    }

    /// An attachment from memory, its content type guessed from the name's extension
    /// (`application/octet-stream` when unknown).
    pub fn from_bytes(filename: &str, data: impl Into<Arc<[u8]>>) -> Result<Self, Error> {
        Self::new(filename, &guess_type(Path::new(filename)), data)
    }

    /// Reads a file (on tokio's blocking pool, so the runtime keeps running), named after the
    /// file, its content type guessed from the extension.
    pub async fn read(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let data = tokio::fs::read(path)
            .await
            .map_err(|e| Error::input(format!("cannot read attachment {}: {e}", path.display())))?;
        Self::from_file(path, data)
    }

    pub(super) fn from_file(path: &Path, data: Vec<u8>) -> Result<Self, Error> {
        let name = path
            .file_name()
            .map_or("attachment".into(), |n| n.to_string_lossy());
        Self::new(&name, &guess_type(path), data)
    }

    /// Renamed (the name recipients see).
    pub fn named(mut self, filename: &str) -> Result<Self, Error> {
        check_text("attachment name", filename)?;
        self.filename = filename.to_string();
        Ok(self)
    }

    /// With another content type than the one guessed.
    pub fn with_type(self, content_type: &str) -> Result<Self, Error> {
        Self::new(&self.filename, content_type, self.data)
    }
}
