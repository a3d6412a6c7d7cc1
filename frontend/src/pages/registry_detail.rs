//! Registry detail (`/storage/registries/:id`): name, live status, URL and last error, refresh progress, and the
//! Images subtab: the registry's repositories (server-side filter, paged with "Load more"), each expandable to
//! its tags (digest, size, architectures, created) with a copy-reference button and "Run…" (the new-container dialog with that image).

use std::{collections::HashSet, time::Duration};

use berth_shared::format_bytes;
use leptos::{html, prelude::*, task::spawn_local};
use leptos_router::hooks::use_params_map;

use crate::{
    api::{
        self, ApiError, ErrorCode, ImageTag, Live, RefreshPhase, Registry, RegistryStatus,
        Repository, Role, ServerCode, bytes_u64,
    },
    components::{
        clipboard::copy_text,
        empty_state::EmptyState,
        format::{sentence, short_digest},
        icons::{Icon, IconKind},
        live::{LiveIndicator, LiveState},
        loading::{ItemPhase, ItemState, Latest, ListPhase, LoadFailed, LoadingCard},
        paged::{LoadMore, Paged, PagedState},
        permission::{can, needs_title},
        registry_form::{RegistryDialog, describe_interval},
        registry_status::{RefreshProgress, RefreshProgressBar, RegistryStatusBadge},
        table_tools::{ActionsHeader, SearchField},
        time::Timestamp,
        toast::use_toasts,
    },
};

/// Repositories per page.
const PAGE_SIZE: i64 = 50;

/// The `/storage/registries/:id` page; a new id renders a fresh page.
#[component]
pub fn RegistryDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id")).unwrap_or_default());
    move || view! { <RegistryDetail id=id.get() /> }
}

/// One registry's page.
#[component]
fn RegistryDetail(id: String) -> impl IntoView {
    let registry_id = StoredValue::new(id.clone());
    let state = RwSignal::new(ItemState::<Registry>::Loading);
    let live = RwSignal::new(LiveState::Connecting);
    let progress = RwSignal::new(None::<RefreshProgress>);
    // Bumped when a refresh ends: the repositories are listed again.
    let listing = RwSignal::new(0_u64);

    let latest = Latest::new();
    let load = move || {
        let id = registry_id.get_value();
        latest.run(async move { api::registry(&id).await }, move |result| {
            if let Ok(Some(registry)) = &result
                && registry.status != RegistryStatus::Refreshing
            {
                progress.set(None);
            }
            state.update(|state| state.settle(result));
        });
    };
    load();

    api::watch_registry_refresh(Some(&id), move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => {
                progress.set(RefreshProgress::from_event(&change));
                let ended = matches!(change.phase, RefreshPhase::Finished | RefreshPhase::Failed);
                state.update(|state| {
                    if let ItemState::Found(registry) = state {
                        *registry = change.registry;
                    }
                });
                if ended {
                    load();
                    listing.update(|n| *n = n.wrapping_add(1));
                }
            }
            Live::Connected { reconnect: true } => {
                load();
                listing.update(|n| *n = n.wrapping_add(1));
            }
            _ => {}
        }
    });

    let phase = Memo::new(move |_| state.with(ItemState::phase));

    move || match phase.get() {
        ItemPhase::Loading => view! {
            <BackLink />
            <LoadingCard text="Loading the registry…" />
        }
        .into_any(),
        ItemPhase::Missing => view! {
            <BackLink />
            <div class="card">
                <EmptyState icon=IconKind::Storage title="Registry not found">
                    <p>"There is no registry with this id. It may have been removed."</p>
                    <div class="empty-state-actions">
                        <a class="btn btn-secondary" href="/storage">
                            "Go to Storage"
                        </a>
                    </div>
                </EmptyState>
            </div>
        }
        .into_any(),
        ItemPhase::Failed(error) => view! {
            <BackLink />
            <LoadFailed
                what="The registry"
                error=error
                on_retry=Callback::new(move |()| {
                    state.set(ItemState::Loading);
                    load();
                })
            />
        }
        .into_any(),
        ItemPhase::Found => {
            let Some(initial) = state.with_untracked(|state| state.found().cloned()) else {
                return ().into_any();
            };
            let registry = Memo::new(move |previous: Option<&Registry>| {
                state
                    .with(|state| state.found().cloned())
                    .or_else(|| previous.cloned())
                    .unwrap_or_else(|| initial.clone())
            });
            let reload = Callback::new(move |()| load());
            view! {
                <BackLink />
                <RegistryHeader registry=registry live=live state=state progress=progress reload=reload />
                <PushHookCard registry=registry state=state />
                <nav class="subtabs" role="tablist" aria-label="Registry sections">
                    <a
                        id="subtab-images"
                        class="subtab active"
                        role="tab"
                        aria-selected="true"
                        aria-current="page"
                        href=move || format!("/storage/registries/{}", registry.with(|r| r.id.clone()))
                    >
                        <Icon kind=IconKind::Storage />
                        <span>"Images"</span>
                        <span class="subtab-count" title="Repositories">
                            {move || registry.with(|r| r.repository_count)}
                        </span>
                    </a>
                </nav>
                <section class="subtab-panel" role="tabpanel" aria-labelledby="subtab-images">
                    <RepositoriesPanel registry=registry listing=listing />
                </section>
            }
            .into_any()
        }
    }
}

/// The push hook: off (pushes are seen at the next refresh) or on (the registry tells Berth of each push). A new
/// secret is shown once, with the registry configuration that uses it.
#[component]
fn PushHookCard(registry: Memo<Registry>, state: RwSignal<ItemState<Registry>>) -> impl IntoView {
    let toasts = use_toasts();
    let refused = needs_title(Role::Admin);
    let allowed = refused.is_none();
    let busy = RwSignal::new(false);
    let secret = RwSignal::new(None::<String>);
    let copied = RwSignal::new(None::<Result<(), String>>);
    let snippet_ref = NodeRef::<html::Pre>::new();
    let set_hook = move |on: bool| {
        state.update(|state| {
            if let ItemState::Found(r) = state {
                r.has_hook = on;
            }
        });
    };
    let create = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let id = registry.with_untracked(|r| r.id.clone());
        spawn_local(async move {
            match api::create_registry_hook_secret(&id).await {
                Ok(new_secret) => {
                    secret.set(Some(new_secret));
                    copied.set(None);
                    set_hook(true);
                }
                Err(error) => toasts.error(format!(
                    "Could not create a hook secret: {}",
                    sentence(&error.message)
                )),
            }
            let _ = busy.try_set(false);
        });
    };
    let remove = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        let id = registry.with_untracked(|r| r.id.clone());
        spawn_local(async move {
            match api::remove_registry_hook_secret(&id).await {
                Ok(_) => {
                    secret.set(None);
                    set_hook(false);
                    toasts.success("Push hook turned off: pushes are seen at the next refresh.");
                }
                Err(error) => toasts.error(format!(
                    "Could not turn the push hook off: {}",
                    sentence(&error.message)
                )),
            }
            let _ = busy.try_set(false);
        });
    };
    let endpoint = move || {
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        format!(
            "{origin}/hooks/registry/{}",
            registry.with(|r| r.id.clone())
        )
    };
    let snippet = move |secret: &str| {
        format!(
            "notifications:\n  endpoints:\n    - name: berth\n      url: {}\n      headers:\n        Authorization: [\"Bearer {secret}\"]\n      timeout: 2s\n      threshold: 5\n      backoff: 5s\n",
            endpoint()
        )
    };
    let copy = move |_| {
        let Some(text) = secret.get_untracked().map(|s| snippet(&s)) else {
            return;
        };
        let element = snippet_ref.get_untracked().map(web_sys::Element::from);
        spawn_local(async move {
            copied.set(Some(copy_text(&text, element).await));
        });
    };
    view! {
        <section class="card cap-panel push-hook-card" aria-labelledby="push-hook-title">
            <div class="cap-head">
                <h2 id="push-hook-title" class="card-title">"Push notifications"</h2>
                {move || {
                    if registry.with(|r| r.has_hook) {
                        view! { <span class="tag tag-update push-hook-state">"On"</span> }.into_any()
                    } else {
                        view! { <span class="tag push-hook-state">"Off"</span> }.into_any()
                    }
                }}
            </div>
            <p class="muted">
                {move || {
                    if registry.with(|r| r.has_hook) {
                        "The registry tells Berth of every push: the repository is read again at once, and containers running an older image of a tag show an update."
                    } else {
                        "Pushes are seen at the next refresh. With a hook secret in the registry's notifications, Berth reads a pushed repository again the moment the registry accepts it."
                    }
                }}
            </p>
            {move || {
                secret
                    .get()
                    .map(|s| {
                        view! {
                            <div class="secret-box" role="status" aria-live="polite">
                                <p>
                                    "Add this to the registry's configuration (Docker's registry: "
                                    <code>"notifications.endpoints"</code>
                                    "), then restart it. "
                                    <strong>"The secret will not be shown again."</strong>
                                </p>
                                <pre id="push-hook-snippet" class="hook-snippet mono" node_ref=snippet_ref>
                                    {snippet(&s)}
                                </pre>
                                <div class="secret-actions">
                                    <button id="push-hook-copy" type="button" class="btn btn-secondary btn-sm" on:click=copy>
                                        {move || match copied.get() {
                                            Some(Ok(())) => view! { <Icon kind=IconKind::Check /> <span>"Copied"</span> }.into_any(),
                                            _ => view! { <Icon kind=IconKind::Copy /> <span>"Copy"</span> }.into_any(),
                                        }}
                                    </button>
                                    <button type="button" class="btn btn-ghost btn-sm" on:click=move |_| secret.set(None)>
                                        "I have saved it"
                                    </button>
                                </div>
                                {move || match copied.get() {
                                    Some(Err(message)) => Some(view! { <p class="field-error">{message}</p> }),
                                    _ => None,
                                }}
                            </div>
                        }
                    })
            }}
            <div class="card-actions">
                <button
                    id="push-hook-create"
                    type="button"
                    class="btn btn-secondary btn-sm"
                    title=refused
                    disabled=move || !allowed || busy.get()
                    on:click=create
                >
                    <Icon kind=IconKind::Key />
                    <span>
                        {move || if registry.with(|r| r.has_hook) { "New secret" } else { "Create hook secret" }}
                    </span>
                </button>
                <Show when=move || registry.with(|r| r.has_hook)>
                    <button
                        id="push-hook-remove"
                        type="button"
                        class="btn btn-ghost btn-sm"
                        disabled=move || !allowed || busy.get()
                        on:click=remove
                    >
                        "Turn off"
                    </button>
                </Show>
            </div>
        </section>
    }
}

/// "← Storage".
#[component]
fn BackLink() -> impl IntoView {
    view! {
        <a class="back-link" href="/storage">
            <Icon kind=IconKind::ArrowLeft />
            <span>"Storage"</span>
        </a>
    }
}

/// Name, status badge, URL, the registry's actions (refresh, edit), refresh progress and the last error.
#[component]
fn RegistryHeader(
    registry: Memo<Registry>,
    live: RwSignal<LiveState>,
    state: RwSignal<ItemState<Registry>>,
    progress: RwSignal<Option<RefreshProgress>>,
    reload: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let refreshing = RwSignal::new(false);
    let refresh_refused = needs_title(Role::Operator);
    let refresh_allowed = refresh_refused.is_none();
    let edit_refused = needs_title(Role::Admin);
    let editing = RwSignal::new(false);

    let refresh = move |_| {
        if refreshing.get_untracked() {
            return;
        }
        let current = registry.get_untracked();
        refreshing.set(true);
        spawn_local(async move {
            match api::refresh_registry(&current.id).await {
                Ok(updated) => {
                    toasts.success(format!("Refreshing “{}”…", updated.name));
                    state.update(|state| {
                        if let ItemState::Found(registry) = state {
                            *registry = updated;
                        }
                    });
                    reload.run(());
                }
                Err(error) => toasts.error(format!(
                    "Could not refresh “{}”: {}",
                    current.name,
                    sentence(&error.message)
                )),
            }
            let _ = refreshing.try_set(false);
        });
    };
    let on_saved = Callback::new(move |saved: Registry| {
        editing.set(false);
        toasts.success(format!(
            "Registry “{}” saved; Berth is listing its repositories.",
            saved.name
        ));
        state.set(ItemState::Found(saved));
        reload.run(());
    });
    let on_close = Callback::new(move |()| editing.set(false));

    let last_error = move || {
        registry.with(|r| {
            r.last_error
                .clone()
                .filter(|e| !e.trim().is_empty() && r.status == RegistryStatus::Error)
        })
    };
    let running = move || {
        let refreshing = registry.with(|r| r.status == RegistryStatus::Refreshing);
        let known = progress.get();
        (refreshing || known.is_some()).then(|| known.unwrap_or_default())
    };

    view! {
        <header
            class="page-header registry-header"
            data-registry-id=move || registry.with(|r| r.id.clone())
        >
            <div class="page-header-text">
                <div class="host-title">
                    <h1 id="registry-title">{move || registry.with(|r| r.name.clone())}</h1>
                    <RegistryStatusBadge status=Signal::derive(move || registry.with(|r| r.status)) />
                    <span class="tag registry-kind-tag">
                        {move || {
                            registry
                                .with(|r| match &r.namespace {
                                    Some(namespace) if r.kind == api::RegistryKind::DockerHub => {
                                        format!("{} · {namespace}", r.kind.label())
                                    }
                                    _ => r.kind.label().to_owned(),
                                })
                        }}
                    </span>
                    {move || {
                        registry
                            .with(|r| r.insecure)
                            .then(|| {
                                view! {
                                    <span class="tag tag-warn" title="Plain http or unverified TLS allowed">
                                        "insecure"
                                    </span>
                                }
                            })
                    }}
                    {move || {
                        registry
                            .with(|r| r.has_password || r.username.is_some())
                            .then(|| {
                                view! {
                                    <span class="tag" title="Berth logs in with stored credentials">
                                        <Icon kind=IconKind::Lock />
                                        "credentials"
                                    </span>
                                }
                            })
                    }}
                </div>
                <p class="page-description host-meta">
                    <span id="registry-url" class="mono">
                        {move || registry.with(|r| r.url.clone())}
                    </span>
                    <span class="meta-sep" aria-hidden="true">"·"</span>
                    <span>
                        {move || match registry.with(|r| r.last_refreshed_at.clone()) {
                            Some(at) => view! { "Refreshed " <Timestamp value=at /> }.into_any(),
                            None => view! { "Never refreshed" }.into_any(),
                        }}
                    </span>
                    <span class="meta-sep" aria-hidden="true">"·"</span>
                    <span class="registry-schedule">
                        {move || {
                            let interval = registry.with(|r| r.refresh_interval_seconds);
                            if interval > 0 {
                                format!("Refreshes {}", describe_interval(interval))
                            } else {
                                "Refreshes only on demand".to_owned()
                            }
                        }}
                    </span>
                </p>
            </div>
            <div class="page-actions">
                <LiveIndicator state=live />
                <button
                    type="button"
                    class="btn btn-secondary registry-refresh"
                    title=refresh_refused
                    disabled=move || !refresh_allowed || refreshing.get()
                    on:click=refresh
                >
                    {move || {
                        if refreshing.get() {
                            view! { <span class="spinner spinner-sm" aria-hidden="true"></span> }.into_any()
                        } else {
                            view! { <Icon kind=IconKind::Refresh /> }.into_any()
                        }
                    }}
                    <span>"Refresh"</span>
                </button>
                <button
                    type="button"
                    class="btn btn-secondary registry-edit"
                    disabled=edit_refused.is_some()
                    title=edit_refused
                    on:click=move |_| editing.set(true)
                >
                    <Icon kind=IconKind::Edit />
                    <span>"Edit"</span>
                </button>
            </div>
        </header>
        {move || {
            running()
                .map(|_| {
                    view! {
                        <div class="card registry-refresh-card">
                            <RefreshProgressBar progress=Signal::derive(move || running().unwrap_or_default()) />
                        </div>
                    }
                })
        }}
        {move || {
            last_error()
                .map(|error| {
                    view! {
                        <div class="alert alert-error registry-last-error" role="status">
                            <strong>"Last refresh failed: "</strong>
                            {error}
                        </div>
                    }
                })
        }}
        {move || {
            editing
                .get()
                .then(|| {
                    view! {
                        <RegistryDialog
                            registry=Some(registry.get_untracked())
                            on_saved=on_saved
                            on_close=on_close
                        />
                    }
                })
        }}
    }
}

/// The filter box, the repositories (expandable to their tags) and "Load more".
#[component]
fn RepositoriesPanel(registry: Memo<Registry>, listing: RwSignal<u64>) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let expanded = RwSignal::new(HashSet::<String>::new());
    let registry_id = StoredValue::new(registry.with_untracked(|r| r.id.clone()));
    let repos = Paged::new(
        move |after| {
            let id = registry_id.get_value();
            let filter = query.with_untracked(|q| q.trim().to_owned());
            Box::pin(async move {
                let filter = (!filter.is_empty()).then_some(filter);
                api::registry_repositories(&id, filter.as_deref(), PAGE_SIZE, after.as_deref())
                    .await?
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::Server(ServerCode::NotFound),
                            "The registry is gone.",
                        )
                    })
            })
        },
        |repo: &Repository| &repo.name,
    );
    // A new filter, or a finished refresh: start again from the first page (the old rows stay until it is here).
    Effect::new(move |_| {
        query.track();
        listing.track();
        repos.reload();
    });
    let phase = Memo::new(move |_| repos.state.with(PagedState::phase));

    // Why the list is empty when no filter is set.
    let empty_reason = move || {
        registry.with(|r| match r.status {
            RegistryStatus::Error if r.repository_count == 0 => {
                "Nothing listed: the last refresh failed (see above)."
            }
            RegistryStatus::NeverRefreshed | RegistryStatus::Refreshing
                if r.repository_count == 0 =>
            {
                "Not listed yet: the refresh has not finished."
            }
            _ => "The registry holds no repositories (as of the last good refresh).",
        })
    };

    view! {
        <div class="toolbar">
            <SearchField
                id="repo-filter"
                placeholder="Filter repositories by name"
                label="Filter repositories"
                value=query
                on_change=Callback::new(move |text: String| query.set(text.trim().to_owned()))
            />
            <span class="toolbar-count muted" aria-live="polite">
                {move || {
                    if phase.get() == ListPhase::Loading {
                        "Loading…".to_owned()
                    } else {
                        repos.state.with(|state| state.count_text("repository", "repositories"))
                    }
                }}
            </span>
        </div>
        {move || match phase.get() {
            ListPhase::Failed(error) => Some(view! {
                <LoadFailed what="The repositories" error=error on_retry=Callback::new(move |()| repos.restart()) />
            }),
            _ => None,
        }}
        <div id="repo-list" class="card repo-list" aria-busy=move || repos.loading.get().to_string()>
            <For
                each=move || repos.state.with(|state| state.items().to_vec())
                key=|repo| repo.clone()
                let:repo
            >
                <RepoItem repo=repo expanded=expanded />
            </For>
            {move || {
                (phase.get() == ListPhase::Empty)
                    .then(|| {
                        let filtered = !query.with(|q| q.trim().is_empty());
                        if filtered {
                            view! {
                                <div class="table-empty repo-empty">
                                    <Icon kind=IconKind::Search />
                                    <div>
                                        "No repository name contains “" <strong>{move || query.get()}</strong> "”. "
                                        <button
                                            type="button"
                                            class="btn btn-ghost btn-sm"
                                            on:click=move |_| query.set(String::new())
                                        >
                                            "Clear filter"
                                        </button>
                                    </div>
                                </div>
                            }
                            .into_any()
                        } else {
                            view! {
                                <div class="table-empty repo-empty">
                                    <Icon kind=IconKind::Storage />
                                    <div>
                                        {empty_reason}
                                    </div>
                                </div>
                            }
                            .into_any()
                        }
                    })
            }}
            {move || {
                (phase.get() == ListPhase::Loading)
                    .then(|| {
                        view! {
                            <div class="loading-block" aria-busy="true">
                                <span class="spinner" aria-hidden="true"></span>
                                <span class="muted">"Loading repositories…"</span>
                            </div>
                        }
                    })
            }}
        </div>
        <LoadMore paged=repos id="repo-more" failed="More repositories could not be loaded" />
    }
}

/// One `div.repo`: a toggle with the name and tag count, and when open its `table.tags-table`.
#[component]
fn RepoItem(repo: Repository, expanded: RwSignal<HashSet<String>>) -> impl IntoView {
    let name = repo.name.clone();
    let open = {
        let name = name.clone();
        Memo::new(move |_| expanded.with(|set| set.contains(&name)))
    };
    let toggle = {
        let name = name.clone();
        move |_| {
            expanded.update(|set| {
                if !set.remove(&name) {
                    set.insert(name.clone());
                }
            })
        }
    };
    let tag_count = repo.tags.len();
    let tags = StoredValue::new(repo.tags.clone());
    let panel_id = format!("repo-tags-{}", name.replace(['/', '.', ':'], "-"));
    view! {
        <div class="repo" class:open=move || open.get() data-repo=name.clone()>
            <button
                type="button"
                class="repo-toggle"
                aria-expanded=move || open.get().to_string()
                aria-controls=panel_id.clone()
                on:click=toggle
            >
                <span class="repo-chevron" aria-hidden="true">
                    <Icon kind=IconKind::ChevronDown />
                </span>
                <span class="repo-name mono">{name.clone()}</span>
                <span class="repo-tag-count muted">
                    {format!("{tag_count} {}", if tag_count == 1 { "tag" } else { "tags" })}
                </span>
            </button>
            <Show when=move || open.get()>
                <div class="repo-tags table-scroll" id=panel_id.clone()>
                    <table class="table tags-table">
                        <thead>
                            <tr>
                                <th>"Tag"</th>
                                <th>"Digest"</th>
                                <th class="numeric">"Size"</th>
                                <th>"Architectures"</th>
                                <th>"Created"</th>
                                <ActionsHeader label="Actions" />
                            </tr>
                        </thead>
                        <tbody>
                            {tags
                                .get_value()
                                .into_iter()
                                .map(|tag| view! { <TagRow tag=tag /> })
                                .collect_view()}
                            {(tag_count == 0)
                                .then(|| {
                                    view! {
                                        <tr class="placeholder-row empty-row">
                                            <td colspan="6">
                                                <span class="muted">"No tags."</span>
                                            </td>
                                        </tr>
                                    }
                                })}
                        </tbody>
                    </table>
                </div>
            </Show>
        </div>
    }
}

/// One `tr.tag-row` with its copy-reference button and "Run…" link.
#[component]
fn TagRow(tag: ImageTag) -> impl IntoView {
    let toasts = use_toasts();
    let copied = RwSignal::new(false);
    let reference_ref = NodeRef::<html::Code>::new();
    let reference = tag.reference.clone();
    let copy = {
        let reference = reference.clone();
        move |_| {
            let reference = reference.clone();
            let element = reference_ref.get_untracked().map(web_sys::Element::from);
            spawn_local(async move {
                match copy_text(&reference, element).await {
                    Ok(()) => {
                        let _ = copied.try_set(true);
                        set_timeout(
                            move || {
                                let _ = copied.try_set(false);
                            },
                            Duration::from_secs(2),
                        );
                    }
                    Err(message) => toasts.error(message),
                }
            });
        }
    };
    let digest = match tag.digest.clone() {
        Some(digest) => view! {
            <code class="digest" title=digest.clone()>
                {short_digest(&digest)}
            </code>
        }
        .into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let size = match tag.size_bytes {
        Some(bytes) => {
            view! { <span title=format!("{bytes} bytes")>{format_bytes(bytes_u64(bytes))}</span> }
                .into_any()
        }
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let architectures = if tag.architectures.is_empty() {
        view! { <span class="muted">"—"</span> }.into_any()
    } else {
        tag.architectures
            .iter()
            .map(|arch| view! { <span class="tag arch">{arch.clone()}</span> })
            .collect_view()
            .into_any()
    };
    let created = match tag.created_at.clone() {
        Some(at) => view! { <Timestamp value=at /> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let label = format!("Copy {}", tag.reference);
    // "Run…" opens the Containers tab's new-container dialog with this reference as the image.
    let run = can(Role::Operator).then(|| {
        let href = format!(
            "/containers?run={}",
            String::from(js_sys::encode_uri_component(&tag.reference))
        );
        let title = format!("New container from {}", tag.reference);
        view! {
            <a class="btn btn-ghost btn-sm tag-run" href=href title=title.clone() aria-label=title>
                <Icon kind=IconKind::Play />
                <span>"Run…"</span>
            </a>
        }
    });
    view! {
        <tr class="tag-row" data-tag=tag.name.clone() data-reference=reference.clone()>
            <td class="tag-name">
                <span class="mono strong">{tag.name.clone()}</span>
                <code class="tag-reference visually-hidden" node_ref=reference_ref>
                    {reference.clone()}
                </code>
            </td>
            <td>{digest}</td>
            <td class="numeric">{size}</td>
            <td class="tag-arches">{architectures}</td>
            <td>{created}</td>
            <td class="actions-col">
                {run}
                <button
                    type="button"
                    class="btn btn-ghost btn-sm tag-copy"
                    title=reference.clone()
                    aria-label=label
                    on:click=copy
                >
                    {move || {
                        if copied.get() {
                            view! {
                                <Icon kind=IconKind::Check />
                                <span>"Copied"</span>
                            }
                                .into_any()
                        } else {
                            view! {
                                <Icon kind=IconKind::Copy />
                                <span>"Copy"</span>
                            }
                                .into_any()
                        }
                    }}
                </button>
            </td>
        </tr>
    }
}
