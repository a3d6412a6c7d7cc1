//! The Channels section: where notifications go, the add/edit dialog whose fields follow the kind, "Send test" with its
//! result in the row.

use std::collections::HashMap;

use berth_shared::AlertChannelKind;
use leptos::{prelude::*, task::spawn_local};

use crate::api::Role;
use crate::api::alerts::{AlertChannel, Delivery, delete_alert_channel, test_alert_channel};
use crate::components::badge::{Badge, Tone};
use crate::components::dialog::{ConfirmDialog, Pending};
use crate::components::empty_state::EmptyState;
use crate::components::format::{sentence, truncate};
use crate::components::icons::{Icon, IconKind};
use crate::components::loading::{ListPhase, ListState, LoadFailed, LoadingCard};
use crate::components::permission::can;
use crate::components::table_tools::ActionsHeader;
use crate::components::toast::use_toasts;

use super::channel_dialog::ChannelDialog;
use super::list::{delivery_tone, status_text};
use super::{AddButton, ERROR_PREVIEW, Shared};

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
    let open_new = Callback::new(move |()| editing.set(Some(EditingChannel::New)));

    view! {
        <section id="channels-section" class="section" role="tabpanel" aria-labelledby="alerts-subtab-channels">
            <div class="section-head">
                <h2 class="section-title">"Where notifications go"</h2>
                <AddButton id="channel-add" label="New channel" on_click=open_new />
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
                                <AddButton id="channel-add-first" label="Create your first channel" primary=true on_click=open_new />
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
