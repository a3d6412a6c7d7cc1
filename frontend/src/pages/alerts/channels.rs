//! The Channels section: where notifications go, the add/edit dialog whose fields follow the kind, "Send test" with its
//! result in the row.

use std::collections::HashMap;

use berth_shared::{
    AlertChannelKind, SmtpSecurity, parse_email_list, parse_http_url, validate_email,
};
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use crate::api::Role;
use crate::api::alerts::{
    AlertChannel, AlertChannelInput, Delivery, create_alert_channel, delete_alert_channel,
    test_alert_channel, update_alert_channel,
};
use crate::components::badge::{Badge, Tone};
use crate::components::dialog::{ConfirmDialog, FormDialog, Pending};
use crate::components::empty_state::EmptyState;
use crate::components::field::{
    CheckRow, FieldErrors, FieldFoot, SelectField, TextField, enum_options,
};
use crate::components::format::{sentence, truncate};
use crate::components::icons::{Icon, IconKind};
use crate::components::loading::{ListPhase, ListState, LoadFailed, LoadingCard};
use crate::components::permission::{can, needs_title};
use crate::components::table_tools::ActionsHeader;
use crate::components::toast::use_toasts;

use super::list::{delivery_tone, status_text};
use super::words::{base_field, check_name, filled};
use super::{ERROR_PREVIEW, SECRET_MAX, Shared};

/// Where a channel sends: its URL as shown, or its SMTP server and recipients.
fn destination(channel: &AlertChannel) -> String {
    match channel.kind {
        AlertChannelKind::Email => {
            let server = match (&channel.smtp_host, channel.smtp_port) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.clone(),
                _ => "?".to_owned(),
            };
            format!("{} → {}", server, channel.email_to.join(", "))
        }
        _ => channel.url.clone().unwrap_or_else(|| "—".to_owned()),
    }
}

/// A channel test: running, or its first attempt.
#[derive(Clone, Debug, PartialEq)]
enum TestState {
    Sending,
    Done(Delivery),
    Failed(String),
}

/// Which channel dialog is open.
#[derive(Clone, Debug, PartialEq)]
enum EditingChannel {
    New,
    Edit(AlertChannel),
}

#[component]
pub(super) fn ChannelsSection(shared: Shared) -> impl IntoView {
    let toasts = use_toasts();
    let editing = RwSignal::new(None::<EditingChannel>);
    let pending = Pending::<AlertChannel>::new();
    let tests = RwSignal::new(HashMap::<String, TestState>::new());
    let add_refused = needs_title(Role::Admin);
    let channels = shared.channels;

    let on_saved = Callback::new(move |channel: AlertChannel| {
        let added = matches!(editing.get_untracked(), Some(EditingChannel::New));
        editing.set(None);
        toasts.success(format!(
            "Channel “{}” {}. Send a test to check it.",
            channel.name,
            if added { "created" } else { "saved" }
        ));
        channels.update(|state| state.put(channel, |a, b| a.id == b.id));
        shared.reload_channels();
    });
    let confirm_delete = Callback::new(move |()| {
        pending.confirm(
            |channel: AlertChannel| async move { delete_alert_channel(&channel.id).await },
            move |channel| {
                channels.update(|state| {
                    if let ListState::Loaded(list) = state {
                        list.retain(|c| c.id != channel.id);
                    }
                });
                toasts.success(format!("Channel “{}” deleted.", channel.name));
                shared.reload_channels();
                shared.reload_rules();
            },
        )
    });
    let cancel_delete = Callback::new(move |()| pending.cancel());
    let send_test = Callback::new(move |channel: AlertChannel| {
        if tests.with_untracked(|t| matches!(t.get(&channel.id), Some(TestState::Sending))) {
            return;
        }
        tests.update(|t| {
            t.insert(channel.id.clone(), TestState::Sending);
        });
        spawn_local(async move {
            let result = match test_alert_channel(&channel.id).await {
                Ok(delivery) => TestState::Done(delivery),
                Err(error) => TestState::Failed(sentence(&error.message)),
            };
            tests.try_update(|t| {
                t.insert(channel.id.clone(), result);
            });
        });
    });

    let phase = Memo::new(move |_| channels.with(ListState::phase));
    let sorted = move || {
        let mut list = channels.with(|state| state.items().to_vec());
        list.sort_by_key(|c| c.name.to_lowercase());
        list
    };
    let new_button = move |id: &'static str, label: &'static str, primary: bool| {
        view! {
            <button
                id=id
                type="button"
                class=if primary { "btn btn-primary" } else { "btn btn-secondary" }
                disabled=add_refused.is_some()
                title=add_refused
                on:click=move |_| editing.set(Some(EditingChannel::New))
            >
                <Icon kind=IconKind::Plus />
                <span>{label}</span>
            </button>
        }
    };

    view! {
        <section id="channels-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-channels">
            <div class="section-head">
                <h2 class="section-title">"Where notifications go"</h2>
                {new_button("channel-add", "New channel", false)}
            </div>
            {move || match phase.get() {
                ListPhase::Loading => view! { <LoadingCard text="Loading channels…" /> }.into_any(),
                ListPhase::Failed(error) => view! {
                    <LoadFailed
                        what="The channels"
                        error=error
                        on_retry=Callback::new(move |()| {
                            channels.set(ListState::Loading);
                            shared.reload_channels();
                        })
                    />
                }
                .into_any(),
                ListPhase::Empty => view! {
                    <div class="card">
                        <EmptyState icon=IconKind::Send title="No channels yet">
                            <p>
                                "A channel is where Berth sends alerts: a webhook (one signed JSON document per "
                                "alert), a Slack incoming webhook, an ntfy topic, or email over SMTP. Rules then "
                                "say which alerts go to which channels."
                            </p>
                            <div class="empty-state-actions">
                                {new_button("channel-add-first", "Create your first channel", true)}
                            </div>
                        </EmptyState>
                    </div>
                }
                .into_any(),
                ListPhase::List => view! {
                    <div class="card table-card table-scroll">
                        <table id="channels-table" class="table channels-table">
                            <thead>
                                <tr>
                                    <th>"Name"</th>
                                    <th>"Kind"</th>
                                    <th>"Destination"</th>
                                    <th>"Secret"</th>
                                    <th>"State"</th>
                                    <th>"Test"</th>
                                    <ActionsHeader label="Actions" />
                                </tr>
                            </thead>
                            <tbody>
                                <For each=sorted key=|channel| channel.clone() let:channel>
                                    <ChannelRow
                                        channel=channel
                                        tests=tests
                                        send_test=send_test
                                        editing=editing
                                        to_delete=pending.item
                                    />
                                </For>
                            </tbody>
                        </table>
                    </div>
                }
                .into_any(),
            }}
        </section>
        {move || {
            editing
                .get()
                .map(|mode| {
                    let channel = match mode {
                        EditingChannel::New => None,
                        EditingChannel::Edit(channel) => Some(channel),
                    };
                    view! {
                        <ChannelDialog
                            channel=channel
                            on_saved=on_saved
                            on_close=Callback::new(move |()| editing.set(None))
                        />
                    }
                })
        }}
        {move || {
            pending
                .item
                .get()
                .map(|channel| {
                    let used_by = shared
                        .rules
                        .with(|state| state.items().iter().filter(|r| r.channel_ids.contains(&channel.id)).count());
                    view! {
                        <ConfirmDialog
                            title="Delete this channel?"
                            confirm_label="Delete channel"
                            danger=true
                            busy=pending.busy
                            error=pending.error
                            on_confirm=confirm_delete
                            on_cancel=cancel_delete
                        >
                            <p>
                                "Notifications waiting for "<strong>"“"{channel.name.clone()}"”"</strong>
                                " are dropped"
                                {match used_by {
                                    0 => ".".to_owned(),
                                    1 => " and the rule that uses it forgets it.".to_owned(),
                                    n => format!(" and the {n} rules that use it forget it."),
                                }}
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// The result of a channel's last test, inline (`.channel-test-result[data-state]`).
fn test_result_view(state: Option<TestState>, kind: AlertChannelKind) -> impl IntoView {
    match state {
        None => ().into_any(),
        Some(TestState::Sending) => view! {
            <span class="channel-test-result muted" data-state="SENDING">
                <span class="spinner spinner-sm" aria-hidden="true"></span>
                " Sending…"
            </span>
        }
        .into_any(),
        Some(TestState::Failed(message)) => view! {
            <span class="channel-test-result fail" data-state="ERROR" title=message.clone()>
                {truncate(&message, ERROR_PREVIEW)}
            </span>
        }
        .into_any(),
        Some(TestState::Done(delivery)) => {
            let (tone, word) = delivery_tone(&delivery.state);
            let attempt = delivery.attempts.first().cloned();
            let mut parts = Vec::new();
            if let Some(code) = delivery.last_status_code {
                parts.push(status_text(Some(kind), code));
            }
            if let Some(error) = &delivery.last_error {
                parts.push(error.clone());
            }
            if let Some(attempt) = &attempt {
                parts.push(format!("{} ms", attempt.duration_ms));
            }
            let detail = parts.join(" · ");
            let class = if delivery.state == "DELIVERED" {
                "channel-test-result ok"
            } else {
                "channel-test-result fail"
            };
            view! {
                <span class=class data-state=delivery.state.clone() data-status=delivery.last_status_code.map(|c| c.to_string()) role="status">
                    <Badge tone=tone>{word}</Badge>
                    <span class="channel-test-detail" title=detail.clone()>{truncate(&detail, ERROR_PREVIEW)}</span>
                </span>
            }
            .into_any()
        }
    }
}

/// One `tr.channel-row`.
#[component]
fn ChannelRow(
    channel: AlertChannel,
    tests: RwSignal<HashMap<String, TestState>>,
    send_test: Callback<AlertChannel>,
    editing: RwSignal<Option<EditingChannel>>,
    to_delete: RwSignal<Option<AlertChannel>>,
) -> impl IntoView {
    let admin = can(Role::Admin);
    let id = channel.id.clone();
    let kind = channel.kind;
    let test_state = {
        let id = id.clone();
        Memo::new(move |_| tests.with(|t| t.get(&id).cloned()))
    };
    let sending = move || matches!(test_state.get(), Some(TestState::Sending));
    let secret = match kind {
        AlertChannelKind::Webhook if channel.has_secret => Some("stored"),
        AlertChannelKind::Email if channel.has_smtp_password => Some("password stored"),
        _ => None,
    };
    let name = channel.name.clone();
    let (for_test, for_edit, for_delete) = (channel.clone(), channel.clone(), channel.clone());
    view! {
        <tr class="channel-row" data-id=id.clone() data-name=name.clone() data-kind=kind.as_str()>
            <td class="channel-name">
                <span class="strong">{name.clone()}</span>
            </td>
            <td class="channel-kind">{kind.label()}</td>
            <td class="channel-destination">
                <span class="mono" title=destination(&channel)>{destination(&channel)}</span>
            </td>
            <td class="channel-secret">
                {match secret {
                    Some(text) => view! {
                        <span class="tag" title="Write-only: never shown again">
                            <Icon kind=IconKind::Lock />
                            {text}
                        </span>
                    }
                    .into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="channel-enabled">
                {if channel.enabled {
                    view! { <Badge tone=Tone::Up>"Enabled"</Badge> }.into_any()
                } else {
                    view! { <Badge tone=Tone::Neutral>"Disabled"</Badge> }.into_any()
                }}
            </td>
            <td class="channel-test-cell">
                <div class="channel-test">
                    {admin.then(|| view! {
                        <button
                            type="button"
                            class="btn btn-secondary btn-sm channel-test-button"
                            title="Send a test notification now and show how the receiver answered"
                            aria-label=format!("Send a test through {name}")
                            disabled=sending
                            on:click=move |_| send_test.run(for_test.clone())
                        >
                            {move || if sending() { "Sending…" } else { "Send test" }}
                        </button>
                    })}
                    {move || test_result_view(test_state.get(), kind)}
                </div>
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    {admin.then(|| view! {
                        <button
                            type="button"
                            class="icon-button channel-edit"
                            title="Edit"
                            aria-label=format!("Edit channel {}", for_edit.name)
                            on:click=move |_| editing.set(Some(EditingChannel::Edit(for_edit.clone())))
                        >
                            <Icon kind=IconKind::Edit />
                        </button>
                        <button
                            type="button"
                            class="icon-button danger channel-delete"
                            title="Delete"
                            aria-label=format!("Delete channel {}", for_delete.name)
                            on:click=move |_| to_delete.set(Some(for_delete.clone()))
                        >
                            <Icon kind=IconKind::Trash />
                        </button>
                    })}
                </div>
            </td>
        </tr>
    }
}

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

fn check_smtp_host(text: &str) -> Result<String, String> {
    let host = text.trim();
    if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err("Enter the SMTP server's host name, such as smtp.example.com.".to_owned());
    }
    Ok(host.to_owned())
}

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

/// The new (`channel: None`) or edit channel dialog (`form#channel-dialog`). Calls `on_saved` with the channel
/// as the server saved it.
#[component]
fn ChannelDialog(
    channel: Option<AlertChannel>,
    on_saved: Callback<AlertChannel>,
    on_close: Callback<()>,
) -> impl IntoView {
    let channel_id = channel.as_ref().map(|c| c.id.clone());
    let is_edit = channel.is_some();
    let stored_url = channel.as_ref().and_then(|c| c.url.clone());
    let had_secret = channel.as_ref().is_some_and(|c| c.has_secret);
    let had_password = channel.as_ref().is_some_and(|c| c.has_smtp_password);
    let title = match &channel {
        Some(channel) => format!("Edit channel “{}”", channel.name),
        None => "New channel".to_owned(),
    };
    let kind = RwSignal::new(
        channel
            .as_ref()
            .map_or(AlertChannelKind::Webhook, |c| c.kind),
    );
    let name = RwSignal::new(channel.as_ref().map(|c| c.name.clone()).unwrap_or_default());
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let remove_secret = RwSignal::new(false);
    let smtp_host = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_host.clone())
            .unwrap_or_default(),
    );
    let smtp_port = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_port)
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    let security = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_security)
            .unwrap_or(SmtpSecurity::Starttls),
    );
    let smtp_username = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.smtp_username.clone())
            .unwrap_or_default(),
    );
    let smtp_password = RwSignal::new(String::new());
    let remove_password = RwSignal::new(false);
    let email_from = RwSignal::new(
        channel
            .as_ref()
            .and_then(|c| c.email_from.clone())
            .unwrap_or_default(),
    );
    let email_to = RwSignal::new(
        channel
            .as_ref()
            .map(|c| c.email_to.join(", "))
            .unwrap_or_default(),
    );
    let enabled = RwSignal::new(channel.as_ref().is_none_or(|c| c.enabled));
    let errors = FieldErrors::new();
    let saving = RwSignal::new(false);

    let name_ref = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = name_ref.get() {
            let _ = input.focus();
        }
    });

    let is_email = move || kind.get() == AlertChannelKind::Email;
    let is_webhook = move || kind.get() == AlertChannelKind::Webhook;
    let password_present =
        move || smtp_password.with(|p| !p.is_empty()) || (had_password && !remove_password.get());
    let client_error = move |field: &'static str| -> Option<String> {
        match field {
            C_NAME => check_name(&name.get(), "channel").err(),
            C_URL if !is_email() => check_url(&url.get(), !is_edit).err(),
            C_SECRET if is_webhook() => (secret.with(|s| s.chars().count()) > SECRET_MAX)
                .then(|| format!("A signing key has at most {SECRET_MAX} characters.")),
            C_SMTP_HOST if is_email() => check_smtp_host(&smtp_host.get()).err(),
            C_SMTP_PORT if is_email() => check_port(&smtp_port.get()).err(),
            C_SMTP_USERNAME if is_email() => (smtp_username.with(|u| u.trim().is_empty())
                && password_present())
            .then(|| "Enter the user name for this password, or leave both empty.".to_owned()),
            C_SMTP_PASSWORD if is_email() => (!smtp_username.with(|u| u.trim().is_empty())
                && !password_present())
            .then(|| "Enter the password for this user, or clear the user name.".to_owned()),
            C_EMAIL_FROM if is_email() => validate_email(&email_from.get())
                .err()
                .map(|message| sentence(&message)),
            C_EMAIL_TO if is_email() => parse_email_list(&email_to.get())
                .err()
                .map(|message| sentence(&message)),
            _ => None,
        }
    };
    let field_error = move |field: &'static str| {
        let empty = match field {
            C_NAME => name.with(|v| v.trim().is_empty()),
            C_URL => url.with(|v| v.trim().is_empty()),
            C_SMTP_HOST => smtp_host.with(|v| v.trim().is_empty()),
            C_SMTP_PASSWORD => smtp_password.with(String::is_empty),
            C_EMAIL_FROM => email_from.with(|v| v.trim().is_empty()),
            C_EMAIL_TO => email_to.with(|v| v.trim().is_empty()),
            _ => false,
        };
        errors.shown(field, client_error(field), empty)
    };
    let invalid = move || CHANNEL_FIELDS.iter().any(|f| client_error(f).is_some());

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        errors.submitting();
        if CHANNEL_FIELDS.iter().any(|f| client_error(f).is_some()) {
            return;
        }
        let kind_now = kind.get_untracked();
        let mut input = AlertChannelInput {
            name: name.get_untracked().trim().to_owned(),
            kind: Some(kind_now),
            enabled: enabled.get_untracked(),
            ..AlertChannelInput::default()
        };
        if kind_now == AlertChannelKind::Email {
            input.smtp_host = filled(&smtp_host.get_untracked());
            input.smtp_port = check_port(&smtp_port.get_untracked()).ok().flatten();
            input.smtp_security = Some(security.get_untracked());
            input.smtp_username = Some(smtp_username.get_untracked().trim().to_owned());
            let typed = smtp_password.get_untracked();
            input.smtp_password = if !typed.is_empty() {
                Some(typed)
            } else if had_password
                && (remove_password.get_untracked()
                    || smtp_username.with_untracked(|u| u.trim().is_empty()))
            {
                Some(String::new())
            } else {
                None
            };
            input.email_from = filled(&email_from.get_untracked());
            input.email_to = parse_email_list(&email_to.get_untracked()).unwrap_or_default();
        } else {
            input.url = filled(&url.get_untracked());
            if kind_now == AlertChannelKind::Webhook {
                let typed = secret.get_untracked();
                input.secret = if !typed.is_empty() {
                    Some(typed)
                } else if had_secret && remove_secret.get_untracked() {
                    Some(String::new())
                } else {
                    None
                };
            }
        }
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
                Err(error) => errors.put(&base_field(&error), &CHANNEL_FIELDS),
            }
        });
    };

    let url_hint = move || {
        let checked = url.with(|u| parse_http_url(u).ok());
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
    let to_hint = move || match parse_email_list(&email_to.get()) {
        Ok(list) if list.len() > 1 => format!("{} recipients.", list.len()),
        _ => "Separate several addresses with commas.".to_owned(),
    };
    let kind_label = channel.as_ref().map(|c| c.kind.label());

    view! {
        <FormDialog
            id="channel"
            title=title
            class="channel-dialog"
            saving=saving
            form_error=errors.form
            note=Signal::derive(move || {
                if saving.get() { "Saving…" } else { "Secrets are stored encrypted and never shown again." }.to_owned()
            })
            save_label=Signal::derive(move || if is_edit { "Save channel" } else { "Create channel" }.to_owned())
            busy_label="Saving…"
            save_disabled=Signal::derive(invalid)
            on_submit=Callback::new(on_submit)
            on_close=on_close
        >
            <div class="field-pair">
                <TextField
                    id="channel-name"
                    label="Name"
                    field=C_NAME
                    placeholder="ops-webhook"
                    value=name
                    node_ref=name_ref
                    error=Signal::derive(move || field_error(C_NAME))
                    hint=Signal::derive(|| "Shown in rules and notifications; unique.".to_owned())
                    on_edit=Callback::new(move |()| errors.edited(C_NAME))
                />
                {match kind_label {
                    Some(label) => view! {
                        <div class="field" data-field=C_KIND>
                            <label for="channel-kind">"Kind"</label>
                            <input id="channel-kind" class="input" type="text" disabled value=label />
                            <FieldFoot
                                id="channel-kind-help"
                                error=Signal::derive(move || field_error(C_KIND))
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
                            error=Signal::derive(move || field_error(C_KIND))
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
                                errors.edited(C_KIND);
                            })
                        >
                            {enum_options(&AlertChannelKind::ALL, AlertChannelKind::as_str, AlertChannelKind::label, kind.into())}
                        </SelectField>
                    }
                    .into_any(),
                }}
            </div>
            <Show when=move || !is_email()>
                <TextField
                    id="channel-url"
                    label="URL"
                    field=C_URL
                    placeholder=url_placeholder()
                    mono=true
                    input_type="url"
                    value=url
                    error=Signal::derive(move || field_error(C_URL))
                    hint=Signal::derive(url_hint.clone())
                    on_edit=Callback::new(move |()| errors.edited(C_URL))
                />
            </Show>
            <Show when=is_webhook>
                <TextField
                    id="channel-secret"
                    label="Signing key"
                    field=C_SECRET
                    placeholder=if had_secret { "stored — type to replace" } else { "optional" }
                    mono=true
                    input_type="password"
                    value=secret
                    error=Signal::derive(move || field_error(C_SECRET))
                    hint=Signal::derive(secret_hint)
                    on_edit=Callback::new(move |()| errors.edited(C_SECRET))
                />
                {had_secret.then(|| view! {
                    <CheckRow
                        id="channel-secret-remove"
                        checked=remove_secret
                        on_change=Callback::new(move |on: bool| {
                            remove_secret.set(on);
                            errors.edited(C_SECRET);
                        })
                        label=|| "Remove the stored signing key"
                        help=|| "Requests are no longer signed."
                    />
                })}
            </Show>
            <Show when=is_email>
                <div class="field-pair field-trio smtp-row">
                    <TextField
                        id="channel-smtp-host"
                        label="SMTP server"
                        field=C_SMTP_HOST
                        placeholder="smtp.example.com"
                        mono=true
                        value=smtp_host
                        error=Signal::derive(move || field_error(C_SMTP_HOST))
                        hint=Signal::derive(|| "Host name or address.".to_owned())
                        on_edit=Callback::new(move |()| errors.edited(C_SMTP_HOST))
                    />
                    <SelectField
                        id="channel-smtp-security"
                        label="Security"
                        field=C_SMTP_SECURITY
                        error=Signal::derive(move || field_error(C_SMTP_SECURITY))
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
                        value=smtp_port
                        error=Signal::derive(move || field_error(C_SMTP_PORT))
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
                        value=smtp_username
                        error=Signal::derive(move || field_error(C_SMTP_USERNAME))
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
                        value=smtp_password
                        error=Signal::derive(move || field_error(C_SMTP_PASSWORD))
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
                    value=email_from
                    error=Signal::derive(move || field_error(C_EMAIL_FROM))
                    hint=Signal::derive(|| "The sender's address.".to_owned())
                    on_edit=Callback::new(move |()| errors.edited(C_EMAIL_FROM))
                />
                <TextField
                    id="channel-email-to"
                    label="To"
                    field=C_EMAIL_TO
                    placeholder="ops@example.com, oncall@example.com"
                    value=email_to
                    error=Signal::derive(move || field_error(C_EMAIL_TO))
                    hint=Signal::derive(to_hint)
                    on_edit=Callback::new(move |()| errors.edited(C_EMAIL_TO))
                />
            </Show>
            <CheckRow
                id="channel-enabled"
                checked=enabled
                on_change=Callback::new(move |on: bool| enabled.set(on))
                label=|| "Enabled"
                help=|| "A disabled channel receives nothing; its rules still open alerts."
            />
        </FormDialog>
    }
}
