//! Email over SMTP (lettre): STARTTLS, TLS from the first byte, or plain for a relay nearby; optional login.
//! One email per batch, its subject naming the alert (or the count).

use super::{Message, NotifyError, REQUEST_TIMEOUT};
use berth_shared::SmtpSecurity;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// An email channel with its password opened.
#[derive(Clone, Debug)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

fn mailbox(text: &str, what: &str) -> Result<Mailbox, NotifyError> {
    text.parse::<Mailbox>().map_err(|e| {
        NotifyError::Transport(format!("the {what} address \"{text}\" is not usable: {e}"))
    })
}

pub(super) async fn send(target: &SmtpTarget, batch: &[Message]) -> Result<u16, NotifyError> {
    let Some(first) = batch.first() else {
        return Ok(0);
    };
    let (subject, text) = if batch.len() == 1 {
        (
            first.title.clone(),
            format!("{}\n\nNotification id: {}\n", first.text, first.id),
        )
    } else {
        let mut body = String::new();
        for m in batch {
            body.push_str(&format!(
                "{}\n{}\nNotification id: {}\n\n",
                m.title, m.text, m.id
            ));
        }
        (format!("Berth: {} alert changes", batch.len()), body)
    };
    let mut mail = lettre::Message::builder()
        .from(mailbox(&target.from, "sender")?)
        .subject(subject);
    for to in &target.to {
        mail = mail.to(mailbox(to, "recipient")?);
    }
    let mail = mail
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| NotifyError::Transport(format!("the email could not be built: {e}")))?;
    let builder = match target.security {
        SmtpSecurity::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&target.host)
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&target.host),
        SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &target.host,
        )),
    }
    .map_err(|e| NotifyError::Transport(format!("SMTP server {}: {e}", target.host)))?;
    let mut builder = builder.port(target.port).timeout(Some(REQUEST_TIMEOUT));
    if let (Some(user), Some(password)) = (&target.username, &target.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = builder.build();
    let sent = tokio::time::timeout(REQUEST_TIMEOUT * 2, transport.send(mail))
        .await
        .map_err(|_| {
            NotifyError::Transport(format!(
                "SMTP server {}:{} did not finish within {} s",
                target.host,
                target.port,
                REQUEST_TIMEOUT.as_secs() * 2
            ))
        })?;
    match sent {
        Ok(response) => Ok(response.code().to_string().parse().unwrap_or(250)),
        Err(e) => {
            let status = e.status().and_then(|c| c.to_string().parse::<u16>().ok());
            match status {
                Some(status) => Err(NotifyError::Refused {
                    status,
                    body: super::source_text(&e),
                }),
                None => Err(NotifyError::Transport(format!(
                    "SMTP server {}:{}: {}",
                    target.host,
                    target.port,
                    super::source_text(&e)
                ))),
            }
        }
    }
}
