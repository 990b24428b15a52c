//! Inline images: an HTML body refers to its parts as `cid:…`, which a browser cannot load;
//! they become links to the part on this server.

use super::view::Part;

/// `html` with each `cid:X` of a part of this message replaced by the part's URL.
pub(crate) fn rewrite(html: &str, id: &str, parts: &[Part]) -> String {
    let mut out = html.to_string();
    for p in parts {
        if let Some(cid) = &p.content_id {
            let url = format!("/api/v1/messages/{id}/parts/{}?inline=1", p.index);
            out = out.replace(&format!("cid:{cid}"), &url);
        }
    }
    out
}
