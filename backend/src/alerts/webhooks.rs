//! Webhooks: city systems that follow report changes get batches of them as JSON,
//! signed with HMAC-SHA256 under the webhook's own secret.
//!
//! Receivers check `X-Upkeep-Signature: sha256=HEX`, where HEX is the HMAC of
//! `{X-Upkeep-Timestamp}.{body}`, and may drop repeats by `X-Upkeep-Delivery`.
//! A webhook reaches only https URLs on public addresses: never loopback, private,
//! link-local or other internal ranges, checked when it is made and again, after
//! resolving its host, at every delivery (a name may be pointed elsewhere meanwhile).

use crate::config::Settings;
use crate::db::outbox::{self, NewMessage};
use crate::db::webhooks::{self as store, WebhookRow};
use crate::db::{Database, DbError};
use chrono::Duration;
use std::net::{IpAddr, ToSocketAddrs};

/// Changes sent in one batch at most.
const BATCH: i64 = 500;
/// How long a change waits before it is sent, in seconds: long enough for any write
/// that started before it to have committed, so none is skipped by the watermark.
const SETTLE_SECONDS: i64 = 5;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                // Shared address space (carrier-grade NAT), benchmarking, reserved.
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || a == 0
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                // Documentation 2001:db8::/32.
                || (first == 0x2001 && v6.segments()[1] == 0x0db8))
        }
    }
}

/// A webhook URL as it may be stored, or why not.
pub fn check_url(text: &str, allow_private: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    let https = url.scheme() == "https";
    if !(https || (allow_private && url.scheme() == "http")) {
        return Err("must start with https://".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not carry a user name or password; the signature proves the sender".into(),
        );
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    let internal = match url.host() {
        None => return Err("must name a host".into()),
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
                || !name.contains('.')
                || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
                    .iter()
                    .any(|suffix| name.ends_with(suffix))
        }
    };
    if internal && !allow_private {
        return Err(
            "must point at a public address, not loopback, a private range or a local name".into(),
        );
    }
    Ok(url)
}

/// Sends `body` to `hook`, signed; `delivery` identifies the batch to the receiver.
pub fn post(
    hook: &WebhookRow,
    body: &str,
    delivery: i64,
    settings: &Settings,
) -> Result<(), String> {
    let url = check_url(&hook.url, settings.webhooks_allow_private)?;
    if !settings.webhooks_allow_private {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        if addresses.is_empty() || addresses.iter().any(|a| !is_public(a.ip())) {
            return Err(format!("{host} resolves to an address that is not public"));
        }
    }
    let timestamp = crate::domain::now().and_utc().timestamp().to_string();
    let signature = super::sign(
        hook.secret.as_bytes(),
        format!("{timestamp}.{body}").as_bytes(),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(15)))
        // A redirect could lead anywhere, internal addresses included.
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(url.as_str())
        .header("content-type", "application/json")
        .header("user-agent", "Upkeep webhooks")
        .header("x-upkeep-delivery", delivery.to_string())
        .header("x-upkeep-timestamp", &timestamp)
        .header("x-upkeep-signature", format!("sha256={signature}"))
        .send(body)
        .map_err(|e| format!("{e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

/// Puts what changed since each webhook's last batch into the outbox, one batch per
/// webhook, in the same transaction as its watermark moves. Returns the batches.
pub fn enqueue_batches(db: &Database) -> Result<usize, DbError> {
    let now = crate::domain::now();
    let settled = now - Duration::seconds(SETTLE_SECONDS);
    let hooks = db.read(store::active)?;
    let mut batches = 0;
    for hook in hooks {
        let queued = db.write(|conn| -> crate::db::DbResult<bool> {
            let (changes, last_request, last_update) = store::changes_after(
                conn,
                hook.last_request_id,
                hook.last_update_id,
                settled,
                BATCH,
            )?;
            if changes.is_empty() {
                return Ok(false);
            }
            let body = serde_json::json!({ "webhook_id": hook.id, "events": changes });
            outbox::enqueue(
                conn,
                &NewMessage {
                    channel: "webhook".into(),
                    kind: "events".into(),
                    recipient: hook.id.to_string(),
                    subscription_id: None,
                    payload: body.to_string(),
                    created_at: now,
                    next_attempt_at: now,
                },
            )?;
            store::advance(conn, hook.id, last_request, last_update)?;
            Ok(true)
        })?;
        batches += usize::from(queued);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_on_public_addresses_are_taken() {
        assert!(check_url("https://hooks.city.example/upkeep", false).is_ok());
        assert!(check_url("https://93.184.216.34/x", false).is_ok());
        for refused in [
            "http://hooks.city.example/x",
            "https://localhost/x",
            "https://api.localhost/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://0.0.0.0/x",
            "https://intranet/x",
            "https://printer.local/x",
            "https://user:pw@hooks.city.example/x",
            "ftp://hooks.city.example/x",
            "not a url",
        ] {
            assert!(check_url(refused, false).is_err(), "{refused} was taken");
        }
    }

    #[test]
    fn tests_and_closed_networks_may_allow_private_addresses() {
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/hook", true).is_err());
    }
}
