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
    },
    /// What happened in a subscription's area since its last digest.
    Digest {
        subscription_id: i64,
        unsubscribe_token: Option<String>,
        area: String,
        events: Vec<Told>,
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
        } => {
            let token = token.as_deref().ok_or_else(missing)?;
            let unsubscribe = unsubscribe_token
                .as_deref()
                .map(|t| unsubscribe_url(base, *subscription_id, t));
            let mut text = format!(
                "Someone, probably you, asked {city} to e-mail this address about problems reported {area}.\n\n\
                 To start receiving these alerts, open this link and press \"Confirm\":\n{base}/alerts/confirm?token={token}\n\n\
                 If you did not ask for this, ignore this message: nothing more will be sent, and the request expires in 48 hours.\n"
            );
            if let Some(link) = &unsubscribe {
                text.push_str(&format!("\nStop these messages: {link}\n"));
            }
            Ok(Rendered {
                subject: format!("{city}: confirm your alerts for problems {area}"),
                text,
                unsubscribe_url: unsubscribe,
            })
        }
        Payload::Digest {
            subscription_id,
            unsubscribe_token,
            area,
            events,
        } => {
            let token = unsubscribe_token.as_deref().ok_or_else(missing)?;
            let link = unsubscribe_url(base, *subscription_id, token);
            let new = events.iter().filter(|e| e.kind == "new").count();
            let closed = events.iter().filter(|e| e.kind == "closed").count();
            let changed = events.len() - new - closed;
            let mut counts = Vec::new();
            if new > 0 {
                counts.push(plural(new, "new report", "new reports"));
            }
            if closed > 0 {
                counts.push(plural(closed, "report closed", "reports closed"));
            }
            if changed > 0 {
                counts.push(plural(changed, "update", "updates"));
            }
            let mut text = format!("What happened {area}:\n\n");
            for event in events {
                let verb = match event.kind.as_str() {
                    "new" => "Reported",
                    "closed" => "Closed",
                    _ => "Updated",
                };
                text.push_str(&format!(
                    "- {verb}: {} (report {}), {}{}\n  {base}/report/{}\n",
                    event.service,
                    event.request_id,
                    event.at.replace('T', " ").trim_end_matches('Z'),
                    event
                        .address
                        .as_deref()
                        .map(|a| format!(", {a}"))
                        .unwrap_or_default(),
                    event.request_id,
                ));
                if let Some(note) = event.note.as_deref().filter(|n| !n.is_empty()) {
                    text.push_str(&format!("  {note}\n"));
                }
            }
            text.push_str(&format!(
                "\nYou receive at most one of these messages an hour.\nStop these messages with one click: {link}\n"
            ));
            Ok(Rendered {
                subject: format!("{city}: {} {area}", counts.join(", ")),
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

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
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
