//! `section#container-revisions` on a container's page: where the last rolling update stands (live, with the
//! reason of a roll back), the Redeploy button (pull and roll to the image's current digest), and the revisions
//! with how many replicas run each and a "Roll back" button for the others; under them the deploy hook (a URL a
//! CI job POSTs to for the same as Redeploy), its token shown once.

use crate::api::Role;
use crate::api::containers::{
    Container, Revision, container_revisions, create_deploy_hook, redeploy_container,
    revoke_deploy_hook, rollback_container,
};
use crate::components::badge::{Badge, Tone};
use crate::components::clipboard::copy_text;
use crate::components::format::short_digest;
use crate::components::permission::needs_title;
use crate::components::time::Timestamp;
use crate::components::toast::use_toasts;
use berth_shared::{DesiredState, RolloutState};
use leptos::prelude::*;
use leptos::task::spawn_local;

fn tone(state: RolloutState) -> Tone {
    match state {
        RolloutState::Rolling => Tone::Warn,
        RolloutState::Succeeded => Tone::Up,
        RolloutState::RolledBack | RolloutState::Failed => Tone::Down,
    }
}

/// Replicas of `container` that run revision `number` (replicas from before revisions count for none).
fn running_on(container: &Container, number: i64) -> usize {
    container
        .instances
        .iter()
        .filter(|i| i.status.is_active() && i.revision == Some(number))
        .count()
}

#[component]
pub fn Revisions(
    #[prop(into)] container: Signal<Container>,
    on_changed: Callback<Container>,
) -> impl IntoView {
    let toasts = use_toasts();
    let refused = needs_title(Role::Operator);
    let allowed = refused.is_none();
    let revisions = RwSignal::new(Vec::<Revision>::new());
    let failed = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Read again whenever the rollout or the revisions the replicas run change.
    let marker = Memo::new(move |_| {
        container.with(|c| {
            let mut runs: Vec<Option<i64>> = c.instances.iter().map(|i| i.revision).collect();
            runs.sort_unstable();
            (c.id.clone(), c.rollout.clone(), runs)
        })
    });
    Effect::new(move |_| {
        let (id, _, _) = marker.get();
        spawn_local(async move {
            match container_revisions(&id).await {
                Ok(list) => {
                    revisions.try_set(list);
                    failed.try_set(None);
                }
                Err(error) => {
                    failed.try_set(Some(error.message));
                }
            }
        });
    });
    let running = move || container.with(|c| c.desired_state == DesiredState::Running);
    let rolling = move || {
        container.with(|c| {
            c.rollout
                .as_ref()
                .is_some_and(|r| r.state == RolloutState::Rolling)
        })
    };
    let redeploy = move |_| {
        let (id, name) = container.with_untracked(|c| (c.id.clone(), c.name.clone()));
        busy.set(true);
        spawn_local(async move {
            match redeploy_container(&id).await {
                Ok(c) => {
                    if c.rollout
                        .as_ref()
                        .is_some_and(|r| r.state == RolloutState::Rolling)
                    {
                        toasts.success(format!("Rolling out “{name}”"));
                    } else {
                        toasts.success(format!("“{name}” already runs the image's current digest"));
                    }
                    on_changed.run(c);
                }
                Err(error) => {
                    toasts.error(format!("Could not redeploy “{name}”: {}", error.message))
                }
            }
            busy.try_set(false);
        });
    };
    let roll_back = move |number: i64| {
        let (id, name) = container.with_untracked(|c| (c.id.clone(), c.name.clone()));
        busy.set(true);
        spawn_local(async move {
            match rollback_container(&id, number).await {
                Ok(c) => {
                    toasts.success(format!("Rolling “{name}” back to revision {number}"));
                    on_changed.run(c);
                }
                Err(error) => toasts.error(format!(
                    "Could not roll “{name}” back to revision {number}: {}",
                    error.message
                )),
            }
            busy.try_set(false);
        });
    };
    let redeploy_title = move || {
        if let Some(why) = refused {
            return why.to_owned();
        }
        if !running() {
            return "Run the container first: a redeploy replaces running replicas".to_owned();
        }
        if rolling() {
            return "A rollout is under way".to_owned();
        }
        "Pull the image and replace the replicas one batch at a time, each healthy before the next"
            .to_owned()
    };

    let status = move || {
        container.with(|c| {
            c.rollout.clone().map(|r| {
                let label = match r.state {
                    RolloutState::Rolling => format!(
                        "Rolling out revision {} ({} of {} replicas)",
                        r.to_revision,
                        running_on(c, r.to_revision),
                        c.replicas
                    ),
                    other => format!(
                        "{}: revision {} → {}",
                        other.label(),
                        r.from_revision,
                        r.to_revision
                    ),
                };
                view! {
                    <div class="rollout-status" data-state=r.state.as_str()>
                        <Badge tone=tone(r.state)>{label}</Badge>
                        {r.reason.map(|reason| view! { <span class="rollout-reason">{reason}</span> })}
                    </div>
                }
            })
        })
    };

    view! {
        <section id="container-revisions" class="subtab-panel revisions-section" aria-labelledby="container-revisions-title">
            <div class="section-head">
                <h2 id="container-revisions-title" class="section-title">
                    "Revisions"
                </h2>
                <button
                    type="button"
                    class="btn btn-secondary redeploy-button"
                    disabled=move || !allowed || !running() || rolling() || busy.get()
                    title=redeploy_title
                    on:click=redeploy
                >
                    "Redeploy"
                </button>
            </div>
            {status}
            <div class="card table-card table-scroll">
                <table class="table revisions-table">
                    <thead>
                        <tr>
                            <th class="numeric">"Revision"</th>
                            <th>"Image digest"</th>
                            <th class="numeric">"Definition version"</th>
                            <th>"Made"</th>
                            <th>"By"</th>
                            <th class="numeric">"Replicas on it"</th>
                            <th class="actions-col">
                                <span class="visually-hidden">"Actions"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || revisions.get()
                            key=|r| r.number
                            let:revision
                        >
                            {
                                let number = revision.number;
                                let version = revision.version;
                                let on_it = move || container.with(|c| running_on(c, number));
                                let current = move || {
                                    container.with(|c| match &c.rollout {
                                        Some(r) => r.target() == number,
                                        None => running_on(c, number) > 0,
                                    })
                                };
                                let same_version = move || container.with(|c| c.version == version);
                                let digest = revision.image_digest.clone();
                                view! {
                                    <tr class="revision-row" data-revision=number>
                                        <td class="numeric">{number}</td>
                                        <td class="mono" title=digest.clone().unwrap_or_default()>
                                            {digest.as_deref().map(short_digest).unwrap_or_else(|| "—".to_owned())}
                                        </td>
                                        <td class="numeric">{version}</td>
                                        <td><Timestamp value=revision.created_at.clone() /></td>
                                        <td>{revision.created_by.clone().unwrap_or_else(|| "Berth".to_owned())}</td>
                                        <td class="numeric">{on_it}</td>
                                        <td class="actions-col">
                                            <Show
                                                when=move || !current()
                                                fallback=|| view! { <span class="tag">"current"</span> }
                                            >
                                                <button
                                                    type="button"
                                                    class="btn btn-small btn-secondary rollback-button"
                                                    disabled=move || {
                                                        !allowed || !running() || rolling() || busy.get() || !same_version()
                                                    }
                                                    title=move || {
                                                        if !same_version() {
                                                            "Made from an earlier version of the definition: only revisions of the current one can be rolled back to".to_owned()
                                                        } else {
                                                            format!("Replace the replicas with revision {number}, one batch at a time")
                                                        }
                                                    }
                                                    on:click=move |_| roll_back(number)
                                                >
                                                    "Roll back"
                                                </button>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            }
                        </For>
                    </tbody>
                    <Show when=move || revisions.with(Vec::is_empty)>
                        <tbody>
                            <tr>
                                <td colspan="7">
                                    <div class="table-empty">
                                        {move || match failed.get() {
                                            Some(error) => format!("The revisions could not be read: {error}"),
                                            None => "No revisions yet: the first run records one, and every redeploy another.".to_owned(),
                                        }}
                                    </div>
                                </td>
                            </tr>
                        </tbody>
                    </Show>
                </table>
            </div>
            <DeployHook container=container on_changed=on_changed />
        </section>
    }
}

/// `#deploy-hook`: on or off, a new token's URL shown once (with a `curl` line to copy), revoke.
#[component]
fn DeployHook(container: Signal<Container>, on_changed: Callback<Container>) -> impl IntoView {
    let toasts = use_toasts();
    let refused = needs_title(Role::Operator);
    let allowed = refused.is_none();
    let busy = RwSignal::new(false);
    let token = RwSignal::new(None::<String>);
    let copied = RwSignal::new(None::<Result<(), String>>);
    // Set by a create or revoke here until the container's own record says so.
    let set_here = RwSignal::new(None::<bool>);
    let has = move || {
        set_here
            .get()
            .unwrap_or_else(|| container.with(|c| c.has_deploy_hook))
    };
    let url = move |token: &str| {
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        format!("{origin}/hooks/deploy/{token}")
    };
    let create = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let id = container.with_untracked(|c| c.id.clone());
        spawn_local(async move {
            match create_deploy_hook(&id).await {
                Ok(new_token) => {
                    token.set(Some(new_token));
                    copied.set(None);
                    set_here.set(Some(true));
                }
                Err(error) => {
                    toasts.error(format!("Could not create a deploy hook: {}", error.message))
                }
            }
            busy.try_set(false);
        });
    };
    let revoke = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let id = container.with_untracked(|c| c.id.clone());
        spawn_local(async move {
            match revoke_deploy_hook(&id).await {
                Ok(c) => {
                    token.set(None);
                    set_here.set(Some(false));
                    toasts.success("Deploy hook revoked: its URL answers 404 from now on.");
                    on_changed.run(c);
                }
                Err(error) => toasts.error(format!(
                    "Could not revoke the deploy hook: {}",
                    error.message
                )),
            }
            busy.try_set(false);
        });
    };
    let copy = move |_| {
        let Some(text) = token
            .get_untracked()
            .map(|t| format!("curl -fsS -X POST {}", url(&t)))
        else {
            return;
        };
        spawn_local(async move {
            copied.set(Some(copy_text(&text, None).await));
        });
    };
    view! {
        <div id="deploy-hook" class="card cap-panel deploy-hook-card">
            <div class="cap-head">
                <h3 class="card-title">"Deploy hook"</h3>
                {move || if has() {
                    view! { <span class="tag tag-update deploy-hook-state">"On"</span> }.into_any()
                } else {
                    view! { <span class="tag deploy-hook-state">"Off"</span> }.into_any()
                }}
            </div>
            <p class="muted">
                "A URL a CI job POSTs to after pushing the image: Berth pulls it and rolls the replicas out, like Redeploy. Anyone with the URL can do that; a revoked or wrong one answers 404."
            </p>
            {move || token.get().map(|t| {
                let line = format!("curl -fsS -X POST {}", url(&t));
                view! {
                    <div class="secret-box" role="status" aria-live="polite">
                        <p><strong>"The URL will not be shown again."</strong></p>
                        <pre id="deploy-hook-snippet" class="hook-snippet mono">{line}</pre>
                        <div class="secret-actions">
                            <button type="button" class="btn btn-secondary btn-sm" on:click=copy>
                                {move || if matches!(copied.get(), Some(Ok(()))) { "Copied" } else { "Copy" }}
                            </button>
                            <button type="button" class="btn btn-ghost btn-sm" on:click=move |_| token.set(None)>
                                "I have saved it"
                            </button>
                        </div>
                        {move || match copied.get() {
                            Some(Err(message)) => Some(view! { <p class="field-error">{message}</p> }),
                            _ => None,
                        }}
                    </div>
                }
            })}
            <div class="card-actions">
                <button
                    id="deploy-hook-create"
                    type="button"
                    class="btn btn-secondary btn-sm"
                    title=refused
                    disabled=move || !allowed || busy.get()
                    on:click=create
                >
                    {move || if has() { "New URL" } else { "Create deploy hook" }}
                </button>
                <Show when=has>
                    <button
                        id="deploy-hook-revoke"
                        type="button"
                        class="btn btn-ghost btn-sm"
                        disabled=move || !allowed || busy.get()
                        on:click=revoke
                    >
                        "Revoke"
                    </button>
                </Show>
            </div>
        </div>
    }
}
