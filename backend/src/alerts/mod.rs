//! What reaches residents and city systems without their coming back to look: area
//! alerts (double opt-in e-mail digests), "is it fixed?" questions when a report
//! closes, and signed webhooks.
//!
//! Every message is first a row in the outbox, written in the same transaction as
//! what it tells of; [`delivery`] sends it later, once, from the server holding the
//! `alerts` lease.

pub mod delivery;
pub mod digests;
pub mod feedback;
pub mod messages;
pub mod subscribe;
pub mod webhooks;

use crate::db::outbox::{self, NewMessage};
use crate::db::{Conn, DbResult};
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A new secret for a link: (what goes in the link, what is stored).
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let raw = hex(&bytes);
    let stored = hash_token(&raw);
    (raw, stored)
}

/// What is stored of a link's secret: its SHA-256, as API keys are stored, so a copy
/// of the database opens nothing.
pub fn hash_token(raw: &str) -> String {
    crate::auth::hash_key(raw)
}

/// A keyed signature of `message` under `key` (HMAC-SHA256), in hex.
pub fn sign(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

/// Whether `signature` is `message` signed under `key`, compared in constant time.
pub fn verify(key: &[u8], message: &[u8], signature: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    let Some(bytes) = unhex(signature) else {
        return false;
    };
    mac.verify_slice(&bytes).is_ok()
}

/// The secret of a subscription's unsubscribe link: derived from the installation's
/// secret, so every message can carry it without the database keeping it.
pub fn unsubscribe_token(salt: &str, subscription_id: i64) -> String {
    sign(
        salt.as_bytes(),
        format!("unsubscribe:{subscription_id}").as_bytes(),
    )
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Stores an e-mail to `recipient`, due at once.
pub fn enqueue_email(
    conn: &mut Conn<'_>,
    recipient: &str,
    subscription_id: Option<i64>,
    payload: &messages::Payload,
    at: NaiveDateTime,
) -> DbResult<i64> {
    outbox::enqueue(
        conn,
        &NewMessage {
            channel: "email".into(),
            kind: payload.kind().into(),
            recipient: recipient.into(),
            subscription_id,
            payload: serde_json::to_string(payload).expect("a payload serialises"),
            created_at: at,
            next_attempt_at: at,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_and_message() {
        let signature = sign(b"key", b"message");
        assert!(verify(b"key", b"message", &signature));
        assert!(!verify(b"other", b"message", &signature));
        assert!(!verify(b"key", b"messages", &signature));
        assert!(!verify(b"key", b"message", "zz"));
        assert!(!verify(b"key", b"message", "é"));
    }

    #[test]
    fn tokens_are_fresh_and_stored_only_as_hashes() {
        let (raw, stored) = new_token();
        let (other, _) = new_token();
        assert_ne!(raw, other);
        assert_eq!(raw.len(), 48);
        assert_eq!(stored, hash_token(&raw));
        assert_ne!(stored, raw);
    }
}
