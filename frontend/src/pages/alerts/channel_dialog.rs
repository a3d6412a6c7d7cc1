//! The new/edit channel dialog (`form#channel-dialog`) in sections: name and kind, then the fields the kind needs
//! (a URL, and a signing key for a webhook; an SMTP server, login, sender and recipients for email). Checked as
//! you type with the shared parsers; secrets are write-only (kept unless replaced or removed).

use berth_shared::{
    AlertChannelKind, SmtpSecurity, parse_email_list, parse_http_url, validate_email,
};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use crate::api::alerts::{
    AlertChannel, AlertChannelInput, create_alert_channel, update_alert_channel,
};
use crate::components::dialog::FormDialog;
use crate::components::field::{
    CheckRow, FieldErrors, FieldFoot, SelectField, TextField, enum_options,
};
use crate::components::format::sentence;

use super::SECRET_MAX;
use super::words::{base_field, check_name, filled};

/// The input fields of a channel the server may name in `extensions.field`.
const C_NAME: &str = "name";
const C_KIND: &str = "kind";
const C_URL: &str = "url";
const C_SECRET: &str = "secret";
const C_SMTP_HOST: &str = "smtpHost";
const C_SMTP_PORT: &str = "smtpPort";
const C_SMTP_SECURITY: &str = "smtpSecurity";
const C_SMTP_USERNAME: &str = "smtpUsername";
const C_SMTP_PASSWORD: &str = "smtpPassword";
const C_EMAIL_FROM: &str = "emailFrom";
const C_EMAIL_TO: &str = "emailTo";
const CHANNEL_FIELDS: [&str; 11] = [
    C_NAME,
    C_KIND,
    C_URL,
    C_SECRET,
    C_SMTP_HOST,
    C_SMTP_PORT,
    C_SMTP_SECURITY,
    C_SMTP_USERNAME,
    C_SMTP_PASSWORD,
    C_EMAIL_FROM,
    C_EMAIL_TO,
];

const SECURITIES: [SmtpSecurity; 3] = [
    SmtpSecurity::Starttls,
    SmtpSecurity::Tls,
    SmtpSecurity::None,
];

fn security_label(security: SmtpSecurity) -> &'static str {
    match security {
        SmtpSecurity::Starttls => "STARTTLS (587)",
        SmtpSecurity::Tls => "TLS (465)",
        SmtpSecurity::None => "None (25)",
    }
}

/// A receiver URL; empty is fine when `required` is false (the stored one is kept).
fn check_url(text: &str, required: bool) -> Result<Option<String>, String> {
    if text.trim().is_empty() && !required {
        return Ok(None);
    }
    parse_http_url(text)
        .map(|_| Some(text.trim().to_owned()))
        .map_err(|message| sentence(&message))
}

/// An SMTP server's host name or address.
fn check_smtp_host(text: &str) -> Result<String, String> {
    let host = text.trim();
    if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err("Enter the SMTP server's host name, such as smtp.example.com.".to_owned());
    }
    Ok(host.to_owned())
}

/// An SMTP port; `None` when empty (the security's default).
fn check_port(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u16>()
        .ok()
        .filter(|port| *port > 0)
        .map(|port| Some(i64::from(port)))
        .ok_or_else(|| format!("“{text}” is not a port (1–65535)."))
}

/// The dialog's values (one signal per field), what the stored channel had, and the errors shown.
#[derive(Clone, Copy)]
struct ChannelForm {
    kind: RwSignal<AlertChannelKind>,
    name: RwSignal<String>,
    url: RwSignal<String>,
    secret: RwSignal<String>,
    remove_secret: RwSignal<bool>,
    smtp_host: RwSignal<String>,
    smtp_port: RwSignal<String>,
    security: RwSignal<SmtpSecurity>,
    smtp_username: RwSignal<String>,
    smtp_password: RwSignal<String>,
    remove_password: RwSignal<bool>,
    email_from: RwSignal<String>,
    email_to: RwSignal<String>,
    enabled: RwSignal<bool>,
    is_edit: bool,
    had_secret: bool,
    had_password: bool,
    errors: FieldErrors,
}

impl ChannelForm {
    /// The fields of `channel` (a new webhook channel without one).
    fn new(channel: Option<&AlertChannel>) -> Self {
        let text = |read: fn(&AlertChannel) -> Option<String>| {
            RwSignal::new(channel.and_then(read).unwrap_or_default())
        };
        Self {
            kind: RwSignal::new(channel.map_or(AlertChannelKind::Webhook, |c| c.kind)),
            name: text(|c| Some(c.name.clone())),
            // Write-only: the stored URL shows in the hint, the field stays empty to keep it.
            url: RwSignal::new(String::new()),
            secret: RwSignal::new(String::new()),
            remove_secret: RwSignal::new(false),
            smtp_host: text(|c| c.smtp_host.clone()),
            smtp_port: text(|c| c.smtp_port.map(|p| p.to_string())),
            security: RwSignal::new(
                channel
                    .and_then(|c| c.smtp_security)
                    .unwrap_or(SmtpSecurity::Starttls),
            ),
            smtp_username: text(|c| c.smtp_username.clone()),
            smtp_password: RwSignal::new(String::new()),
            remove_password: RwSignal::new(false),
            email_from: text(|c| c.email_from.clone()),
            email_to: text(|c| Some(c.email_to.join(", "))),
            enabled: RwSignal::new(channel.is_none_or(|c| c.enabled)),
            is_edit: channel.is_some(),
            had_secret: channel.is_some_and(|c| c.has_secret),
            had_password: channel.is_some_and(|c| c.has_smtp_password),
            errors: FieldErrors::new(),
        }
    }

    fn is_email(self) -> bool {
        self.kind.get() == AlertChannelKind::Email
    }

    fn is_webhook(self) -> bool {
        self.kind.get() == AlertChannelKind::Webhook
    }

    /// A password is typed, or a stored one stays.
    fn password_present(self) -> bool {
        self.smtp_password.with(|p| !p.is_empty())
            || (self.had_password && !self.remove_password.get())
    }

    /// What the checks as you type say about `field` (fields the kind does not use say nothing).
    fn client_error(self, field: &'static str) -> Option<String> {
        let email = self.is_email();
        let no_user = || self.smtp_username.with(|u| u.trim().is_empty());
        match field {
            C_NAME => check_name(&self.name.get(), "channel").err(),
            C_URL if !email => check_url(&self.url.get(), !self.is_edit).err(),
            C_SECRET if self.is_webhook() => (self.secret.with(|s| s.chars().count()) > SECRET_MAX)
                .then(|| format!("A signing key has at most {SECRET_MAX} characters.")),
            C_SMTP_HOST if email => check_smtp_host(&self.smtp_host.get()).err(),
            C_SMTP_PORT if email => check_port(&self.smtp_port.get()).err(),
            C_SMTP_USERNAME if email => (no_user() && self.password_present())
                .then(|| "Enter the user name for this password, or leave both empty.".to_owned()),
            C_SMTP_PASSWORD if email => (!no_user() && !self.password_present())
                .then(|| "Enter the password for this user, or clear the user name.".to_owned()),
            C_EMAIL_FROM if email => validate_email(&self.email_from.get())
                .err()
                .map(|message| sentence(&message)),
            C_EMAIL_TO if email => parse_email_list(&self.email_to.get())
                .err()
                .map(|message| sentence(&message)),
            _ => None,
        }
    }

    /// The error `field` shows ("required" only after a touch or a save).
    fn field_error(self, field: &'static str) -> Option<String> {
        let empty = match field {
            C_NAME => self.name.with(|v| v.trim().is_empty()),
            C_URL => self.url.with(|v| v.trim().is_empty()),
            C_SMTP_HOST => self.smtp_host.with(|v| v.trim().is_empty()),
            C_SMTP_PASSWORD => self.smtp_password.with(String::is_empty),
            C_EMAIL_FROM => self.email_from.with(|v| v.trim().is_empty()),
            C_EMAIL_TO => self.email_to.with(|v| v.trim().is_empty()),
            _ => false,
        };
        self.errors.shown(field, self.client_error(field), empty)
    }

    fn invalid(self) -> bool {
        CHANNEL_FIELDS
            .iter()
            .any(|field| self.client_error(field).is_some())
    }

    /// A write-only secret as sent: the typed one, `""` to remove the stored one, `None` to keep it.
    fn secret_sent(typed: String, had: bool, remove: bool) -> Option<String> {
        if !typed.is_empty() {
            Some(typed)
        } else if had && remove {
            Some(String::new())
        } else {
            None
        }
    }

    /// What is sent: the fields of the kind, secrets only when typed or removed.
    fn input(self) -> AlertChannelInput {
        let kind = self.kind.get_untracked();
        let mut input = AlertChannelInput {
            name: self.name.get_untracked().trim().to_owned(),
            kind: Some(kind),
            enabled: self.enabled.get_untracked(),
            ..AlertChannelInput::default()
        };
        if kind == AlertChannelKind::Email {
            let no_user = self.smtp_username.with_untracked(|u| u.trim().is_empty());
            input.smtp_host = filled(&self.smtp_host.get_untracked());
            input.smtp_port = check_port(&self.smtp_port.get_untracked()).ok().flatten();
            input.smtp_security = Some(self.security.get_untracked());
            input.smtp_username = Some(self.smtp_username.get_untracked().trim().to_owned());
            // A password without a user name is removed with it.
            input.smtp_password = Self::secret_sent(
                self.smtp_password.get_untracked(),
                self.had_password,
                self.remove_password.get_untracked() || no_user,
            );
            input.email_from = filled(&self.email_from.get_untracked());
            input.email_to = parse_email_list(&self.email_to.get_untracked()).unwrap_or_default();
        } else {
            input.url = filled(&self.url.get_untracked());
            if kind == AlertChannelKind::Webhook {
                input.secret = Self::secret_sent(
                    self.secret.get_untracked(),
                    self.had_secret,
                    self.remove_secret.get_untracked(),
                );
            }
        }
        input
    }
}

/// The new (`channel: None`) or edit channel dialog (`form#channel-dialog`). Calls `on_saved` with the channel
/// as the server saved it.
#[component]
pub(super) fn ChannelDialog(
    channel: Option<AlertChannel>,
    on_saved: Callback<AlertChannel>,
    on_close: Callback<()>,
) -> impl IntoView {
    let channel_id = channel.as_ref().map(|c| c.id.clone());
    let stored_url = channel.as_ref().and_then(|c| c.url.clone());
    let kind_label = channel.as_ref().map(|c| c.kind.label());
    let title = match &channel {
        Some(channel) => format!("Edit channel “{}”", channel.name),
        None => "New channel".to_owned(),
    };
    let form = ChannelForm::new(channel.as_ref());
    let is_edit = form.is_edit;
    let saving = RwSignal::new(false);

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        form.errors.submitting();
        if form.invalid() {
            return;
        }
        let input = form.input();
        saving.set(true);
        let channel_id = channel_id.clone();
        spawn_local(async move {
            let result = match &channel_id {
                Some(id) => update_alert_channel(id, &input).await,
                None => create_alert_channel(&input).await,
            };
            // The dialog may be gone (closed by a parent) when the answer arrives.
            if saving.try_set(false).is_some() {
                return;
            }
            match result {
                Ok(channel) => on_saved.run(channel),
                Err(error) => form.errors.put(&base_field(&error), &CHANNEL_FIELDS),
            }
        });
    };

    view! {
        <FormDialog
            id="channel"
            title=title
            class="channel-dialog"
            saving=saving
            form_error=form.errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Secrets are stored encrypted and never shown again." }.to_owned()
            })
            save_label=Signal::derive(move || if is_edit { "Save channel" } else { "Create channel" }.to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(move || form.invalid())
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <NameAndKind form=form kind_label=kind_label />
            <Show when=move || !form.is_email()>
                <WebFields form=form stored_url=stored_url.clone() />
            </Show>
            <Show when=move || form.is_email()>
                <EmailFields form=form />
            </Show>
            <CheckRow
                id="channel-enabled"
                checked=form.enabled
                on_change=Callback::new(move |on: bool| form.enabled.set(on))
                label=|| "Enabled"
                help=|| "A disabled channel receives nothing; its rules still open alerts."
            />
        </FormDialog>
    }
}

/// The name (focused) and the kind: chosen for a new channel, shown for a stored one (`kind_label`).
#[component]
fn NameAndKind(form: ChannelForm, kind_label: Option<&'static str>) -> impl IntoView {
    let kind = form.kind;
    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });
    view! {
        <div class="field-pair">
            <TextField
                id="channel-name"
                label="Name"
                field=C_NAME
                placeholder="ops-webhook"
                value=form.name
                node_ref=name_ref
                error=Signal::derive(move || form.field_error(C_NAME))
                hint=Signal::derive(|| "Shown in rules and notifications; unique.".to_owned())
                on_edit=Callback::new(move |()| form.errors.edited(C_NAME))
            />
            {match kind_label {
                Some(label) => view! {
                    <div class="field" data-field=C_KIND>
                        <label for="channel-kind">"Kind"</label>
                        <input id="channel-kind" class="input" type="text" disabled value=label />
                        <FieldFoot
                            id="channel-kind-help"
                            error=Signal::derive(move || form.field_error(C_KIND))
                            hint=Signal::derive(|| "A channel's kind never changes.".to_owned())
                        />
                    </div>
                }
                .into_any(),
                None => view! {
                    <SelectField
                        id="channel-kind"
                        label="Kind"
                        field=C_KIND
                        error=Signal::derive(move || form.field_error(C_KIND))
                        hint=Signal::derive(move || {
                            if kind.get().groups() {
                                "Several alerts at once arrive as one message."
                            } else {
                                "One request per alert, each with its own idempotency key."
                            }
                                .to_owned()
                        })
                        on_change=Callback::new(move |value: String| {
                            if let Ok(chosen) = value.parse::<AlertChannelKind>() {
                                kind.set(chosen);
                            }
                            form.errors.edited(C_KIND);
                        })
                    >
                        {enum_options(&AlertChannelKind::ALL, AlertChannelKind::as_str, AlertChannelKind::label, kind.into())}
                    </SelectField>
                }
                .into_any(),
            }}
        </div>
    }
}

/// A webhook's, Slack's or ntfy's URL (the stored one, `stored_url`, kept when left empty), and a webhook's
/// signing key.
#[component]
fn WebFields(form: ChannelForm, stored_url: Option<String>) -> impl IntoView {
    let kind = form.kind;
    let had_secret = form.had_secret;
    let remove_secret = form.remove_secret;
    let url_hint = move || {
        let checked = form.url.with(|u| parse_http_url(u).ok());
        match (checked, &stored_url) {
            (Some(parsed), _) => format!("Berth sends to {}", parsed.shown()),
            (None, Some(stored)) => format!("Stored: {stored} Leave empty to keep it."),
            (None, None) => match kind.get() {
                AlertChannelKind::Webhook => {
                    "Berth POSTs one JSON document per alert, with an Idempotency-Key header."
                        .to_owned()
                }
                AlertChannelKind::Slack => {
                    "A Slack incoming webhook, such as https://hooks.slack.com/services/…"
                        .to_owned()
                }
                _ => "The topic's URL, such as https://ntfy.sh/berth-alerts.".to_owned(),
            },
        }
    };
    let url_placeholder = move || match kind.get() {
        AlertChannelKind::Slack => "https://hooks.slack.com/services/…",
        AlertChannelKind::Ntfy => "https://ntfy.sh/berth-alerts",
        _ => "https://hooks.example.com/berth",
    };
    let secret_hint = move || {
        if had_secret && !remove_secret.get() {
            "Stored (write-only, never shown). Type a new key to replace it, or leave empty to keep it.".to_owned()
        } else {
            "Optional: requests carry X-Berth-Signature, an HMAC-SHA256 of the body with this key."
                .to_owned()
        }
    };
    view! {
        <TextField
            id="channel-url"
            label="URL"
            field=C_URL
            placeholder=url_placeholder()
            mono=true
            input_type="url"
            value=form.url
            error=Signal::derive(move || form.field_error(C_URL))
            hint=Signal::derive(url_hint)
            on_edit=Callback::new(move |()| form.errors.edited(C_URL))
        />
        <Show when=move || form.is_webhook()>
            <TextField
                id="channel-secret"
                label="Signing key"
                field=C_SECRET
                placeholder=if had_secret { "stored — type to replace" } else { "optional" }
                mono=true
                input_type="password"
                value=form.secret
                error=Signal::derive(move || form.field_error(C_SECRET))
                hint=Signal::derive(secret_hint)
                on_edit=Callback::new(move |()| form.errors.edited(C_SECRET))
            />
            {had_secret.then(|| view! {
                <CheckRow
                    id="channel-secret-remove"
                    checked=remove_secret
                    on_change=Callback::new(move |on: bool| {
                        remove_secret.set(on);
                        form.errors.edited(C_SECRET);
                    })
                    label=|| "Remove the stored signing key"
                    help=|| "Requests are no longer signed."
                />
            })}
        </Show>
    }
}

/// An email channel's SMTP server, security and port, login, sender and recipients.
#[component]
fn EmailFields(form: ChannelForm) -> impl IntoView {
    let security = form.security;
    let had_password = form.had_password;
    let remove_password = form.remove_password;
    let errors = form.errors;
    let password_hint = move || {
        if had_password && !remove_password.get() {
            "Stored (write-only, never shown). Type a new one to replace it, or leave empty to keep it.".to_owned()
        } else {
            "With the user name, for servers that need a login.".to_owned()
        }
    };
    let port_hint = move || {
        format!(
            "Empty: {} for this security.",
            security.get().default_port()
        )
    };
    let to_hint = move || match parse_email_list(&form.email_to.get()) {
        Ok(list) if list.len() > 1 => format!("{} recipients.", list.len()),
        _ => "Separate several addresses with commas.".to_owned(),
    };
    view! {
        <div class="field-pair field-trio smtp-row">
            <TextField
                id="channel-smtp-host"
                label="SMTP server"
                field=C_SMTP_HOST
                placeholder="smtp.example.com"
                mono=true
                value=form.smtp_host
                error=Signal::derive(move || form.field_error(C_SMTP_HOST))
                hint=Signal::derive(|| "Host name or address.".to_owned())
                on_edit=Callback::new(move |()| errors.edited(C_SMTP_HOST))
            />
            <SelectField
                id="channel-smtp-security"
                label="Security"
                field=C_SMTP_SECURITY
                error=Signal::derive(move || form.field_error(C_SMTP_SECURITY))
                hint=Signal::derive(|| "Encryption of the connection.".to_owned())
                on_change=Callback::new(move |value: String| {
                    if let Ok(chosen) = value.parse::<SmtpSecurity>() {
                        security.set(chosen);
                    }
                    errors.edited(C_SMTP_SECURITY);
                })
            >
                {enum_options(&SECURITIES, SmtpSecurity::as_str, security_label, security.into())}
            </SelectField>
            <TextField
                id="channel-smtp-port"
                label="Port"
                field=C_SMTP_PORT
                placeholder="default"
                mono=true
                value=form.smtp_port
                error=Signal::derive(move || form.field_error(C_SMTP_PORT))
                hint=Signal::derive(port_hint)
                on_edit=Callback::new(move |()| errors.edited(C_SMTP_PORT))
            />
        </div>
        <div class="field-pair">
            <TextField
                id="channel-smtp-username"
                label="User name"
                field=C_SMTP_USERNAME
                placeholder="optional"
                value=form.smtp_username
                error=Signal::derive(move || form.field_error(C_SMTP_USERNAME))
                hint=Signal::derive(|| "For servers that need a login.".to_owned())
                on_edit=Callback::new(move |()| {
                    errors.edited(C_SMTP_USERNAME);
                    errors.edited(C_SMTP_PASSWORD);
                })
            />
            <TextField
                id="channel-smtp-password"
                label="Password"
                field=C_SMTP_PASSWORD
                placeholder=if had_password { "stored — type to replace" } else { "optional" }
                input_type="password"
                value=form.smtp_password
                error=Signal::derive(move || form.field_error(C_SMTP_PASSWORD))
                hint=Signal::derive(password_hint)
                on_edit=Callback::new(move |()| {
                    errors.edited(C_SMTP_PASSWORD);
                    errors.edited(C_SMTP_USERNAME);
                })
            />
        </div>
        {had_password.then(|| view! {
            <CheckRow
                id="channel-password-remove"
                checked=remove_password
                on_change=Callback::new(move |on: bool| {
                    remove_password.set(on);
                    errors.edited(C_SMTP_PASSWORD);
                })
                label=|| "Remove the stored password"
                help=|| "Clear the user name too, for a server without login."
            />
        })}
        <TextField
            id="channel-email-from"
            label="From"
            field=C_EMAIL_FROM
            placeholder="berth@example.com"
            value=form.email_from
            error=Signal::derive(move || form.field_error(C_EMAIL_FROM))
            hint=Signal::derive(|| "The sender's address.".to_owned())
            on_edit=Callback::new(move |()| errors.edited(C_EMAIL_FROM))
        />
        <TextField
            id="channel-email-to"
            label="To"
            field=C_EMAIL_TO
            placeholder="ops@example.com, oncall@example.com"
            value=form.email_to
            error=Signal::derive(move || form.field_error(C_EMAIL_TO))
            hint=Signal::derive(to_hint)
            on_edit=Callback::new(move |()| errors.edited(C_EMAIL_TO))
        />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_required_only_for_a_new_channel() {
        assert_eq!(check_url("  ", false), Ok(None));
        assert!(check_url("  ", true).is_err());
        assert_eq!(
            check_url(" https://hooks.example.com/berth ", true),
            Ok(Some("https://hooks.example.com/berth".to_owned()))
        );
        assert!(check_url("ftp://example.com", true).is_err());
    }

    #[test]
    fn smtp_hosts_and_ports_are_checked() {
        assert_eq!(
            check_smtp_host(" smtp.example.com "),
            Ok("smtp.example.com".to_owned())
        );
        assert!(check_smtp_host("").is_err());
        assert!(check_smtp_host("smtp example").is_err());
        assert!(check_smtp_host("smtp.example.com/x").is_err());
        assert_eq!(check_port(""), Ok(None));
        assert_eq!(check_port("587"), Ok(Some(587)));
        assert_eq!(
            check_port("0"),
            Err("“0” is not a port (1–65535).".to_owned())
        );
        assert!(check_port("70000").is_err());
    }

    #[test]
    fn a_secret_is_sent_when_typed_emptied_to_remove_and_left_out_to_keep() {
        assert_eq!(
            ChannelForm::secret_sent("k".into(), true, true).as_deref(),
            Some("k")
        );
        assert_eq!(
            ChannelForm::secret_sent(String::new(), true, true).as_deref(),
            Some("")
        );
        assert_eq!(ChannelForm::secret_sent(String::new(), true, false), None);
        assert_eq!(ChannelForm::secret_sent(String::new(), false, true), None);
    }
}
