//! Alert receivers: the one place that speaks to them. A generic webhook (JSON, `Idempotency-Key`, an HMAC-SHA256
//! `X-Berth-Signature`), a Slack-compatible incoming webhook, an ntfy topic, and email over SMTP. Every request is
//! bounded by a timeout; redirects are not followed.

mod email;

use berth_shared::AlertChannelKind;
use sha2::{Digest, Sha256};
use std::time::Duration;

pub use email::SmtpTarget;

/// How long one request to a receiver may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel with its secrets opened, ready to send to.
#[derive(Clone, Debug)]
pub struct Target {
    pub kind: AlertChannelKind,
    pub url: Option<String>,
    /// The webhook's signing key.
    pub secret: Option<String>,
    pub smtp: Option<SmtpTarget>,
}

/// One notification: the JSON document a webhook receives, and the words for people.
#[derive(Clone, Debug)]
pub struct Message {
    /// The idempotency key.
    pub id: String,
    pub body: serde_json::Value,
    pub title: String,
    pub text: String,
    /// An alert opening (rather than resolving or a test): chat and push show it louder.
    pub urgent: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The receiver answered, but not with success.
    #[error("the receiver answered {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Refused { status: u16, body: String },
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("{0}")]
    Transport(String),
    #[error("the channel is missing its {0}")]
    Incomplete(&'static str),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl NotifyError {
    /// The receiver's status code, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            NotifyError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Sends notifications; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Notifier {
    http: reqwest::Client,
}

/// `sha256=<hex>` of HMAC-SHA256(key, body) (RFC 2104), the value of `X-Berth-Signature`.
pub fn signature(key: &str, body: &[u8]) -> String {
    const BLOCK: usize = 64;
    let mut k = key.as_bytes().to_vec();
    if k.len() > BLOCK {
        k = Sha256::digest(&k).to_vec();
    }
    k.resize(BLOCK, 0);
    let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut h = Sha256::new();
    h.update(&inner);
    h.update(body);
    let inner_hash = h.finalize();
    let mut h = Sha256::new();
    h.update(&outer);
    h.update(inner_hash);
    format!("sha256={}", hex::encode(h.finalize()))
}

/// The first 300 characters of a receiver's answer, for the delivery log.
fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &t[..cut]),
        None => t.to_owned(),
    }
}

impl Notifier {
    pub fn new() -> Result<Self, NotifyError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Unexpected(anyhow::anyhow!("HTTP client: {e}")))?;
        Ok(Self { http })
    }

    /// Sends `batch` (one message for a webhook; several are grouped into one message for the other kinds).
    /// Returns the receiver's status code on success.
    pub async fn send(&self, target: &Target, batch: &[Message]) -> Result<u16, NotifyError> {
        let Some(first) = batch.first() else {
            return Ok(0);
        };
        match target.kind {
            AlertChannelKind::Webhook => {
                let url = target
                    .url
                    .as_deref()
                    .ok_or(NotifyError::Incomplete("URL"))?;
                let body = serde_json::to_vec(&first.body)
                    .map_err(|e| NotifyError::Unexpected(e.into()))?;
                let mut req = self
                    .http
                    .post(url)
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", &first.id);
                if let Some(key) = target.secret.as_deref().filter(|k| !k.is_empty()) {
                    req = req.header("X-Berth-Signature", signature(key, &body));
                }
                self.answer(req.body(body)).await
            }
            AlertChannelKind::Slack => {
                let url = target
                    .url
                    .as_deref()
                    .ok_or(NotifyError::Incomplete("URL"))?;
                let text = grouped_text(batch);
                let req = self
                    .http
                    .post(url)
                    .json(&serde_json::json!({ "text": text }));
                self.answer(req).await
            }
            AlertChannelKind::Ntfy => {
                let url = target
                    .url
                    .as_deref()
                    .ok_or(NotifyError::Incomplete("URL"))?;
                let (title, text) = if batch.len() == 1 {
                    (first.title.clone(), first.text.clone())
                } else {
                    (
                        format!("Berth: {} alert changes", batch.len()),
                        batch
                            .iter()
                            .map(|m| format!("• {}", m.title))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                };
                let urgent = batch.iter().any(|m| m.urgent);
                let req = self
                    .http
                    .post(url)
                    .header("Title", header_safe(&title))
                    .header("Priority", if urgent { "high" } else { "default" })
                    .header(
                        "Tags",
                        if urgent {
                            "warning"
                        } else {
                            "white_check_mark"
                        },
                    )
                    .body(text);
                self.answer(req).await
            }
            AlertChannelKind::Email => {
                let smtp = target
                    .smtp
                    .as_ref()
                    .ok_or(NotifyError::Incomplete("SMTP settings"))?;
                email::send(smtp, batch).await
            }
        }
    }

    async fn answer(&self, req: reqwest::RequestBuilder) -> Result<u16, NotifyError> {
        let resp = req.send().await.map_err(|e| {
            NotifyError::Transport(if e.is_timeout() {
                format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
            } else if e.is_connect() {
                format!("could not connect: {}", source_text(&e))
            } else {
                source_text(&e)
            })
        })?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(status);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(NotifyError::Refused {
            status,
            body: excerpt(&body),
        })
    }
}

/// An error with its causes, one line.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cur = s.source();
    }
    text
}

/// HTTP header values are visible ASCII: anything else becomes `?`.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// One chat message for several alerts: the first lines in full, then a count.
fn grouped_text(batch: &[Message]) -> String {
    if batch.len() == 1 {
        return format!("*{}*\n{}", batch[0].title, batch[0].text);
    }
    let mut lines: Vec<String> = vec![format!("*Berth: {} alert changes*", batch.len())];
    for m in batch.iter().take(20) {
        lines.push(format!("• {}", m.title));
    }
    if batch.len() > 20 {
        lines.push(format!("… and {} more", batch.len() - 20));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (test case 6).
        let key = "\u{aa}".repeat(131);
        assert_eq!(
            key.len(),
            262,
            "two bytes per character in UTF-8; still longer than a block"
        );
        assert!(signature(&key, b"x").starts_with("sha256="));
    }

    #[test]
    fn grouped_messages_are_cut() {
        let m = |i: usize| Message {
            id: i.to_string(),
            body: serde_json::json!({}),
            title: format!("alert {i}"),
            text: "t".into(),
            urgent: true,
        };
        let batch: Vec<Message> = (0..25).map(m).collect();
        let text = grouped_text(&batch);
        assert!(text.starts_with("*Berth: 25 alert changes*"));
        assert!(text.contains("• alert 19"));
        assert!(!text.contains("• alert 20"));
        assert!(text.ends_with("… and 5 more"));
        assert_eq!(header_safe("Höst down"), "H?st down");
    }
}
