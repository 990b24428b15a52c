//! The query language of the list, the search box and the long-poll: `from`, `to`,
//! `subject` and `text` fields, plus free words that may appear in any of them.

use serde::Deserialize;

use crate::summary::Summary;

/// Search terms; all given terms must hold. Matching ignores case.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Search {
    /// Words each found in the sender, recipients, subject or body. `from:x`, `to:x`,
    /// `subject:x` and `text:x` words look only there.
    #[serde(default)]
    pub(crate) q: Option<String>,
    #[serde(default)]
    pub(crate) from: Option<String>,
    #[serde(default)]
    pub(crate) to: Option<String>,
    #[serde(default)]
    pub(crate) subject: Option<String>,
    #[serde(default)]
    pub(crate) text: Option<String>,
}

/// Where a term looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Any,
    From,
    To,
    Subject,
    Text,
}

impl Search {
    /// Whether nothing narrows the search.
    pub(crate) fn is_empty(&self) -> bool {
        self.terms().is_empty()
    }

    /// The terms, lower-cased.
    fn terms(&self) -> Vec<(Field, String)> {
        let mut terms = Vec::new();
        for (field, value) in [
            (Field::From, &self.from),
            (Field::To, &self.to),
            (Field::Subject, &self.subject),
            (Field::Text, &self.text),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                terms.push((field, v.trim().to_lowercase()));
            }
        }
        for word in self.q.as_deref().unwrap_or("").split_whitespace() {
            let word = word.to_lowercase();
            let (field, rest) = match word.split_once(':') {
                Some(("from", r)) => (Field::From, r),
                Some(("to", r)) => (Field::To, r),
                Some(("subject", r)) => (Field::Subject, r),
                Some(("text" | "body", r)) => (Field::Text, r),
                _ => (Field::Any, word.as_str()),
            };
            if !rest.is_empty() {
                terms.push((field, rest.to_string()));
            }
        }
        terms
    }

    /// A matcher for summaries, the terms worked out once.
    pub(crate) fn matcher(&self) -> impl Fn(&Summary) -> bool + use<> {
        let terms = self.terms();
        move |s: &Summary| {
            terms.iter().all(|(field, t)| {
                let h = &s.heads;
                match field {
                    Field::From => h.from.contains(t),
                    Field::To => h.to.contains(t),
                    Field::Subject => h.subject.contains(t),
                    Field::Text => s.body.contains(t),
                    Field::Any => {
                        h.from.contains(t) || h.to.contains(t) || h.subject.contains(t) || s.body.contains(t)
                    }
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::tests::received;

    fn summary() -> Summary {
        Summary::of(&received(
            "From: App <app@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: Reset password\r\n\r\n\
             Your token is ABC123\r\n",
        ))
    }

    fn hit(s: Search) -> bool {
        s.matcher()(&summary())
    }

    #[test]
    fn fields_and_free_words() {
        assert!(Search::default().is_empty());
        assert!(hit(Search::default()));
        assert!(hit(Search {
            subject: Some("RESET".into()),
            ..Search::default()
        }));
        assert!(
            hit(Search {
                to: Some("hidden@".into()),
                ..Search::default()
            }),
            "envelope"
        );
        assert!(hit(Search {
            q: Some("token abc123".into()),
            ..Search::default()
        }));
        assert!(hit(Search {
            q: Some("from:app@ subject:reset".into()),
            ..Search::default()
        }));
        assert!(!hit(Search {
            q: Some("subject:token".into()),
            ..Search::default()
        }));
        assert!(!hit(Search {
            text: Some("welcome".into()),
            ..Search::default()
        }));
        assert!(!hit(Search {
            from: Some("bob".into()),
            ..Search::default()
        }));
    }
}
