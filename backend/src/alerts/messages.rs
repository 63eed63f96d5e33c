//! Messages in words: an outbox row's payload rendered, when it is sent, into a subject,
//! a plain-text body and the links it carries, all built from `public_url`.

use serde::{Deserialize, Serialize};

/// What a digest tells of one report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Told {
    /// `new`, `closed` or `changed`.
    pub kind: String,
    pub request_id: i64,
    pub service: String,
    pub status: String,
    pub note: Option<String>,
    pub address: Option<String>,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub at: String,
}

/// The payload of each kind of e-mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// "Please confirm": the only message sent before confirmation.
    Confirm {
        subscription_id: i64,
        token: Option<String>,
        unsubscribe_token: Option<String>,
        area: String,
        /// The language it is written in (en, fr).
        #[serde(default = "english")]
        lang: String,
    },
    /// What happened in a subscription's area since its last digest.
    Digest {
        subscription_id: i64,
        unsubscribe_token: Option<String>,
        area: String,
        events: Vec<Told>,
        #[serde(default = "english")]
        lang: String,
    },
    /// "Is it fixed?", to the reporter of a report just closed.
    Feedback {
        request_id: i64,
        token: Option<String>,
        service: String,
        note: Option<String>,
        address: Option<String>,
    },
}

fn english() -> String {
    crate::i18n::LANGUAGES[0].to_owned()
}

/// Message `key` of the e-mails in `lang`, with `{name}` filled from `values`.
pub fn mail(lang: &str, key: &str, values: &[(&str, &str)]) -> String {
    let mut text = crate::i18n::text(lang, key);
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Confirm { .. } => "confirm",
            Payload::Digest { .. } => "digest",
            Payload::Feedback { .. } => "feedback",
        }
    }

    /// The payload as kept once sent: without the secrets of its links.
    pub fn redacted(&self) -> Payload {
        let mut kept = self.clone();
        match &mut kept {
            Payload::Confirm {
                token,
                unsubscribe_token,
                ..
            } => {
                *token = None;
                *unsubscribe_token = None;
            }
            Payload::Digest {
                unsubscribe_token, ..
            } => *unsubscribe_token = None,
            Payload::Feedback { token, .. } => *token = None,
        }
        kept
    }
}

/// A message ready for a transport.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    /// For the `List-Unsubscribe` header (RFC 8058 one-click): the same link the body
    /// carries.
    pub unsubscribe_url: Option<String>,
}

fn unsubscribe_url(base: &str, subscription_id: i64, token: &str) -> String {
    format!("{base}/alerts/unsubscribe?subscription={subscription_id}&token={token}")
}

/// `payload` in words, with links under `base` (the configured public URL).
pub fn render(payload: &Payload, base: &str, city: &str) -> Result<Rendered, String> {
    let missing = || "the message's link secret was already removed".to_owned();
    match payload {
        Payload::Confirm {
            subscription_id,
            token,
            unsubscribe_token,
            area,
            lang,
        } => {
            let token = token.as_deref().ok_or_else(missing)?;
            let unsubscribe = unsubscribe_token
                .as_deref()
                .map(|t| unsubscribe_url(base, *subscription_id, t));
            let confirm = format!("{base}/alerts/confirm?token={token}");
            let mut text = mail(
                lang,
                "mail.confirm.body",
                &[("city", city), ("area", area), ("link", &confirm)],
            );
            if let Some(link) = &unsubscribe {
                text.push_str(&mail(lang, "mail.stop", &[("link", link)]));
            }
            Ok(Rendered {
                subject: mail(
                    lang,
                    "mail.confirm.subject",
                    &[("city", city), ("area", area)],
                ),
                text,
                unsubscribe_url: unsubscribe,
            })
        }
        Payload::Digest {
            subscription_id,
            unsubscribe_token,
            area,
            events,
            lang,
        } => {
            let token = unsubscribe_token.as_deref().ok_or_else(missing)?;
            let link = unsubscribe_url(base, *subscription_id, token);
            let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
            let counts: Vec<String> = ["new", "closed", "changed"]
                .into_iter()
                .map(|kind| (kind, count(kind)))
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| {
                    let form = if n == 1 { "one" } else { "other" };
                    mail(
                        lang,
                        &format!("mail.count.{kind}.{form}"),
                        &[("count", &n.to_string())],
                    )
                })
                .collect();
            let mut text = mail(lang, "mail.digest.heading", &[("area", area)]);
            for event in events {
                let verb = mail(lang, &format!("mail.verb.{}", event.kind), &[]);
                let place = event
                    .address
                    .as_deref()
                    .map(|a| format!(", {a}"))
                    .unwrap_or_default();
                text.push_str(&mail(
                    lang,
                    "mail.digest.line",
                    &[
                        ("verb", &verb),
                        ("service", &event.service),
                        ("id", &event.request_id.to_string()),
                        ("when", event.at.replace('T', " ").trim_end_matches('Z')),
                        ("place", &place),
                        ("link", &format!("{base}/report/{}", event.request_id)),
                    ],
                ));
                if let Some(note) = event.note.as_deref().filter(|n| !n.is_empty()) {
                    text.push_str(&format!("  {note}\n"));
                }
            }
            text.push_str(&mail(lang, "mail.digest.footer", &[("link", &link)]));
            Ok(Rendered {
                subject: mail(
                    lang,
                    "mail.digest.subject",
                    &[
                        ("city", city),
                        ("counts", &counts.join(", ")),
                        ("area", area),
                    ],
                ),
                text,
                unsubscribe_url: Some(link),
            })
        }
        Payload::Feedback {
            request_id,
            token,
            service,
            note,
            address,
        } => {
            let token = token.as_deref().ok_or_else(missing)?;
            let place = address
                .as_deref()
                .map(|a| format!(" at {a}"))
                .unwrap_or_default();
            let mut text =
                format!("Your report {request_id} ({service}{place}) has been closed.\n");
            if let Some(note) = note.as_deref().filter(|n| !n.is_empty()) {
                text.push_str(&format!("The city's note: {note}\n"));
            }
            text.push_str(&format!(
                "\nIs it fixed? Tell us in two clicks, no account needed:\n{base}/feedback/{token}\n\n\
                 If it is not fixed, your answer reopens the report and sends it back to a crew.\n\
                 The link works once, for 30 days.\n"
            ));
            Ok(Rendered {
                subject: format!("{city}: is it fixed? (report {request_id})"),
                text,
                unsubscribe_url: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_names_each_report_and_carries_its_unsubscribe_link() {
        let payload = Payload::Digest {
            subscription_id: 7,
            unsubscribe_token: Some("abc".into()),
            area: "within 300 m of 43.05, -76.15".into(),
            events: vec![
                Told {
                    kind: "new".into(),
                    request_id: 12,
                    service: "Pothole".into(),
                    status: "open".into(),
                    note: None,
                    address: Some("1 Main St".into()),
                    at: "2026-12-01T10:00:00Z".into(),
                },
                Told {
                    kind: "closed".into(),
                    request_id: 9,
                    service: "Pothole".into(),
                    status: "fixed".into(),
                    note: Some("Repaired by a city crew.".into()),
                    address: None,
                    at: "2026-12-01T09:00:00Z".into(),
                },
            ],
            lang: "en".into(),
        };
        let rendered = render(&payload, "https://city.example", "Testville").unwrap();
        assert_eq!(
            rendered.subject,
            "Testville: 1 new report, 1 report closed within 300 m of 43.05, -76.15"
        );
        assert!(rendered.text.contains("https://city.example/report/12"));
        assert!(rendered.text.contains("Repaired by a city crew."));
        assert_eq!(
            rendered.unsubscribe_url.as_deref(),
            Some("https://city.example/alerts/unsubscribe?subscription=7&token=abc")
        );
        assert!(
            rendered
                .text
                .contains(rendered.unsubscribe_url.as_deref().unwrap())
        );
    }

    fn digest_in(lang: &str, kinds: &[&str]) -> Payload {
        Payload::Digest {
            subscription_id: 1,
            unsubscribe_token: Some("t".into()),
            area: "x".into(),
            events: kinds
                .iter()
                .map(|kind| Told {
                    kind: (*kind).into(),
                    request_id: 5,
                    service: "Nid-de-poule".into(),
                    status: "open".into(),
                    note: None,
                    address: None,
                    at: "2026-12-01T10:00:00Z".into(),
                })
                .collect(),
            lang: lang.into(),
        }
    }

    #[test]
    fn every_message_reads_in_each_language_with_no_key_left_unwritten() {
        for lang in crate::i18n::LANGUAGES {
            let confirm = Payload::Confirm {
                subscription_id: 1,
                token: Some("t".into()),
                unsubscribe_token: Some("u".into()),
                area: "x".into(),
                lang: lang.into(),
            };
            for payload in [
                confirm,
                digest_in(lang, &["new"]),
                digest_in(
                    lang,
                    &["new", "new", "closed", "closed", "changed", "changed"],
                ),
                digest_in(lang, &["closed", "changed"]),
            ] {
                let rendered = render(&payload, "https://city.example", "Ville").unwrap();
                for text in [&rendered.subject, &rendered.text] {
                    assert!(
                        !text.contains("mail."),
                        "{lang}: a key is missing in {text}"
                    );
                    assert!(
                        !text.contains('{'),
                        "{lang}: a value is not filled in {text}"
                    );
                }
            }
        }
        let french = render(&digest_in("fr", &["new", "new"]), "https://x", "Ville").unwrap();
        assert_eq!(french.subject, "Ville : 2 nouveaux signalements x");
        assert!(french.text.contains("Arrêter ces messages en un clic"));
    }

    #[test]
    fn a_sent_payload_keeps_no_link_secrets_and_cannot_be_rendered_again() {
        let payload = Payload::Feedback {
            request_id: 3,
            token: Some("secret".into()),
            service: "Pothole".into(),
            note: None,
            address: None,
        };
        let kept = payload.redacted();
        assert!(!serde_json::to_string(&kept).unwrap().contains("secret"));
        assert!(render(&kept, "http://x", "X").is_err());
    }
}
