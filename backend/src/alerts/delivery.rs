//! Sending what the outbox holds: e-mail through SMTP (or, without `smtp_url`, as
//! files in `outbox_dir`), and webhook batches over HTTPS. Only the server holding the
//! `alerts` lease delivers, and each message is claimed in the database before it is
//! sent, so no message goes twice even when the lease changes hands.

use super::messages::{self, Payload, Rendered};
use crate::config::Settings;
use crate::db::outbox::{self, MessageRow};
use crate::db::{Database, DbError};
use chrono::{Duration, NaiveDateTime};
use lettre::Transport as _;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use std::path::PathBuf;

/// Attempts before a message is given up: with the backoff below, about a day.
const MAX_ATTEMPTS: i32 = 10;
/// How long a claim keeps other servers off a message while it is being sent.
const CLAIM: Duration = Duration::minutes(5);
/// Messages sent per round.
const BATCH: i64 = 200;

enum Transport {
    Smtp(Box<lettre::SmtpTransport>),
    Directory(PathBuf),
}

/// Sends e-mail the way the settings say.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    base: String,
    city: String,
    /// The domain of message ids: the public URL's host.
    domain: String,
}

impl Mailer {
    pub fn new(settings: &Settings) -> Result<Mailer, String> {
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(Box::new(
                lettre::SmtpTransport::from_url(url)
                    .map_err(|e| format!("smtp_url: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    .build(),
            )),
            None => Transport::Directory(settings.outbox_dir.clone()),
        };
        let base = settings.public_base();
        let domain = url::Url::parse(&base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "upkeep.local".into());
        Ok(Mailer {
            transport,
            from: settings.mail_from.clone(),
            base,
            city: settings.city_name.clone(),
            domain,
        })
    }

    /// Renders and sends message `id` to `to`.
    fn send(&self, id: i64, to: &str, rendered: &Rendered) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("the address cannot be written to: {e}"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            // The same id on every attempt: a mail system that got it once can tell.
            .message_id(Some(format!("<outbox-{id}@{}>", self.domain)))
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        if let Some(link) = &rendered.unsubscribe_url {
            builder = builder
                .header(ListUnsubscribe(format!("<{link}>")))
                .header(ListUnsubscribePost);
        }
        // Links are longer than a mail line, so lettre sends the text quoted-printable,
        // which every mail reader decodes.
        let email = builder
            .body(rendered.text.clone())
            .map_err(|e| format!("the message cannot be built: {e}"))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(&email)
                .map(|_| ())
                .map_err(|e| format!("SMTP: {e}")),
            Transport::Directory(dir) => write_file(dir, id, &email.formatted()),
        }
    }
}

/// One file per message, named by its id and written whole (a temporary file renamed),
/// so a reader never sees half a message and a second attempt changes nothing.
fn write_file(dir: &std::path::Path, id: i64, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{id:010}.eml"));
    if path.exists() {
        return Ok(());
    }
    let temporary = dir.join(format!(".{id:010}.eml.part"));
    std::fs::write(&temporary, bytes).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, &path).map_err(|e| format!("{}: {e}", path.display()))
}

#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// RFC 8058: a mail client may unsubscribe with one POST to the List-Unsubscribe link.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// What a round of delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub retrying: usize,
    pub given_up: usize,
}

/// When a message that failed `attempts` times is tried again: 1, 2, 4 … minutes,
/// at most 6 hours; None once it has had its attempts.
fn retry_at(attempts: i32, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let minutes = 1i64 << attempts.clamp(0, 20);
    Some(now + Duration::minutes(minutes.min(6 * 60)))
}

/// Longest a delivery round keeps sending before it lets the other work of the tick
/// run; what is left goes in the next round.
const ROUND: std::time::Duration = std::time::Duration::from_secs(30);

/// Messages sent at once. Each SMTP exchange waits on the network several times per
/// message (about 40 ms a message to a local server, BENCHMARKS.md), so senders work
/// side by side, each on a connection of the transport's pool.
const SENDERS: usize = 8;

/// Sends the messages due now, as `holder`: batch after batch until none is due or
/// the round's time is up.
pub fn deliver_due(
    db: &Database,
    mailer: &Mailer,
    settings: &Settings,
    holder: &str,
) -> Result<Delivered, DbError> {
    let started = std::time::Instant::now();
    let mut done = Delivered::default();
    loop {
        let now = crate::domain::now();
        let due = db.write(|conn| outbox::claim_due(conn, holder, now, now + CLAIM, BATCH))?;
        if due.is_empty() {
            return Ok(done);
        }
        let share = due.len().div_ceil(SENDERS);
        let rounds: Vec<Result<Delivered, DbError>> = std::thread::scope(|scope| {
            let senders: Vec<_> = due
                .chunks(share)
                .map(|part| scope.spawn(move || deliver_each(db, mailer, settings, part)))
                .collect();
            senders
                .into_iter()
                .map(|s| {
                    s.join()
                        .unwrap_or_else(|_| Err(DbError::Corrupt("a sender panicked".into())))
                })
                .collect()
        });
        for round in rounds {
            let round = round?;
            done.sent += round.sent;
            done.retrying += round.retrying;
            done.given_up += round.given_up;
        }
        if started.elapsed() > ROUND {
            return Ok(done);
        }
    }
}

/// Sends `messages` one after another and records each outcome.
fn deliver_each(
    db: &Database,
    mailer: &Mailer,
    settings: &Settings,
    messages: &[MessageRow],
) -> Result<Delivered, DbError> {
    let mut done = Delivered::default();
    for message in messages {
        let outcome = send_one(db, mailer, settings, message);
        let at = crate::domain::now();
        match outcome {
            Ok(kept) => {
                db.write(|conn| outbox::mark_sent(conn, message.id, &kept, at))?;
                done.sent += 1;
            }
            Err(Failure::Permanent(error)) => {
                tracing::warn!(id = message.id, %error, "message given up");
                db.write(|conn| outbox::mark_failed(conn, message.id, &error, None, at))?;
                done.given_up += 1;
            }
            Err(Failure::Transient(error)) => {
                let next = retry_at(message.attempts, at);
                if next.is_none() {
                    tracing::warn!(id = message.id, %error, "message given up after its attempts");
                    done.given_up += 1;
                } else {
                    tracing::info!(id = message.id, %error, "message will be tried again");
                    done.retrying += 1;
                }
                db.write(|conn| outbox::mark_failed(conn, message.id, &error, next, at))?;
            }
        }
    }
    Ok(done)
}

enum Failure {
    /// Trying again cannot help (a message that cannot be rendered, a retired webhook).
    Permanent(String),
    Transient(String),
}

/// Sends one message; returns the payload to keep.
fn send_one(
    db: &Database,
    mailer: &Mailer,
    settings: &Settings,
    message: &MessageRow,
) -> Result<String, Failure> {
    match message.channel.as_str() {
        "email" => {
            let payload: Payload = serde_json::from_str(&message.payload)
                .map_err(|e| Failure::Permanent(format!("unreadable payload: {e}")))?;
            let rendered = messages::render(&payload, &mailer.base, &mailer.city)
                .map_err(Failure::Permanent)?;
            mailer
                .send(message.id, &message.recipient, &rendered)
                .map_err(Failure::Transient)?;
            Ok(serde_json::to_string(&payload.redacted()).expect("a payload serialises"))
        }
        "webhook" => {
            let id: i64 = message
                .recipient
                .parse()
                .map_err(|_| Failure::Permanent("not a webhook id".into()))?;
            let hook = db
                .read(|conn| crate::db::webhooks::find(conn, id))
                .map_err(|e| Failure::Transient(e.to_string()))?
                .filter(|h| h.retired_at.is_none())
                .ok_or_else(|| Failure::Permanent("the webhook was removed".into()))?;
            super::webhooks::post(&hook, &message.payload, message.id, settings)
                .map_err(Failure::Transient)?;
            Ok(message.payload.clone())
        }
        other => Err(Failure::Permanent(format!("unknown channel '{other}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_six_hours_then_stop() {
        let now = crate::domain::now();
        assert_eq!(retry_at(1, now), Some(now + Duration::minutes(2)));
        assert_eq!(retry_at(3, now), Some(now + Duration::minutes(8)));
        assert_eq!(retry_at(9, now), Some(now + Duration::minutes(360)));
        assert_eq!(retry_at(MAX_ATTEMPTS, now), None);
    }
}
