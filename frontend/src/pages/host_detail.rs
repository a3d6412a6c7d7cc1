//! Host detail (`/hosts/:id`): name, live status and endpoint, the capabilities panel, the Images subtab (the
//! host's local image cache: pull with live progress, remove) and the Containers subtab (`?tab=containers`: every
//! Docker container on the host, virtualized and live, as on the Containers tab's All view).

use std::{cmp::Ordering, time::Duration};

use berth_shared::{ImageRef, format_bytes};
use gloo_timers::future::sleep;
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::{
    api::{
        self, Host, HostImage, HostStatus, Live, PullPhase, Role, bytes_u64,
        inventory::{DockerContainerFilter, DockerContainerSort, STATES},
    },
    components::{
        container_stats::HostStats,
        dialog::ConfirmDialog,
        empty_state::EmptyState,
        format::{sentence, short_digest, short_image_id},
        host_form::HostDialog,
        host_status::HostStatusBadge,
        icons::{Icon, IconKind},
        inventory_table::InventoryTable,
        live::{LiveIndicator, LiveState},
        loading::{ItemPhase, ItemState, Latest, LoadFailed, LoadingCard},
        permission::{can, needs_title},
        sort_header::{Sort, SortHeader},
        table_tools::{ActionsHeader, SearchField},
        time::Timestamp,
        toast::use_toasts,
    },
};

/// How long a pull waits for the progress feed to be subscribed before it starts anyway.
const FEED_WAIT: Duration = Duration::from_secs(8);
/// Columns of the images table (for placeholder rows).
const IMAGE_COLUMNS: &str = "6";

/// Where the current pull stands. `reference` is normalised, as the server reports it.
#[derive(Clone, Debug, PartialEq)]
enum Pull {
    Idle,
    /// Waiting for the progress feed, then for the first event.
    Waiting {
        reference: String,
    },
    Running {
        reference: String,
        current: u64,
        total: Option<u64>,
    },
    Finished {
        reference: String,
        total: u64,
    },
    Failed {
        reference: String,
        message: String,
    },
}

impl Pull {
    fn reference(&self) -> Option<&str> {
        match self {
            Pull::Idle => None,
            Pull::Waiting { reference }
            | Pull::Running { reference, .. }
            | Pull::Finished { reference, .. }
            | Pull::Failed { reference, .. } => Some(reference),
        }
    }

    fn active(&self) -> bool {
        matches!(self, Pull::Waiting { .. } | Pull::Running { .. })
    }

    /// Bytes known so far: (current, total).
    fn bytes(&self) -> (u64, Option<u64>) {
        match self {
            Pull::Running { current, total, .. } => (*current, *total),
            Pull::Finished { total, .. } => (*total, Some(*total)),
            _ => (0, None),
        }
    }

    /// Takes one progress event of the same reference into account.
    fn apply(&mut self, event: &api::ImagePullEvent) {
        if !self.active() && !matches!(self, Pull::Finished { .. }) {
            return;
        }
        if self.reference() != Some(event.reference.as_str()) {
            return;
        }
        let reference = event.reference.clone();
        let current = event.current_bytes.map(bytes_u64);
        let total = event.total_bytes.map(bytes_u64).filter(|t| *t > 0);
        *self = match (event.phase, self.active()) {
            (PullPhase::Started, true) => Pull::Running {
                reference,
                current: current.unwrap_or(0),
                total,
            },
            (PullPhase::Progress, true) => Pull::Running {
                reference,
                current: current.unwrap_or(self.bytes().0),
                total: total.or(self.bytes().1),
            },
            (PullPhase::Finished, _) => Pull::Finished {
                reference,
                total: total.or(current).unwrap_or(self.bytes().0),
            },
            (PullPhase::Failed, true) => Pull::Failed {
                reference,
                message: event
                    .message
                    .clone()
                    .map(|m| sentence(&m))
                    .unwrap_or_else(|| "The pull failed.".to_owned()),
            },
            _ => return,
        };
    }

    /// Width of the bar, in percent; `None` while the size is unknown (the bar then slides).
    fn percent(&self) -> Option<f64> {
        match self {
            Pull::Finished { .. } => Some(100.0),
            Pull::Running {
                current,
                total: Some(total),
                ..
            } if *total > 0 => Some((*current as f64 / *total as f64 * 100.0).clamp(0.0, 99.0)),
            _ => None,
        }
    }

    /// "1.2 MiB of 3.4 MiB (35 %)".
    fn text(&self) -> String {
        match self {
            Pull::Idle | Pull::Failed { .. } => String::new(),
            Pull::Waiting { .. } => "Starting…".to_owned(),
            Pull::Running { current, total, .. } => match (total, self.percent()) {
                (Some(total), Some(percent)) => format!(
                    "{} of {} ({} %)",
                    format_bytes(*current),
                    format_bytes(*total),
                    percent.floor()
                ),
                _ if *current == 0 => "Starting…".to_owned(),
                _ => format!("{} downloaded", format_bytes(*current)),
            },
            Pull::Finished { total, .. } if *total > 0 => format!(
                "{} of {} (100 %)",
                format_bytes(*total),
                format_bytes(*total)
            ),
            Pull::Finished { .. } => "Done (100 %)".to_owned(),
        }
    }
}

/// Waits until the feed is live (or the page is gone, or `limit` passed).
async fn wait_until_live(state: RwSignal<LiveState>, limit: Duration) {
    let start = js_sys::Date::now();
    loop {
        match state.try_get_untracked() {
            Some(LiveState::Live) | None => return,
            Some(_) => {}
        }
        if js_sys::Date::now() - start > limit.as_millis() as f64 {
            return;
        }
        sleep(Duration::from_millis(50)).await;
    }
}

/// The `/hosts/:id` page; a new id renders a fresh page.
#[component]
pub fn HostDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id")).unwrap_or_default());
    move || view! { <HostDetail id=id.get() /> }
}

/// Sortable columns of the images table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageSortKey {
    Reference,
    Size,
    Pulled,
}

fn compare_images(sort: Sort<ImageSortKey>, a: &HostImage, b: &HostImage) -> Ordering {
    let ordering = match sort.key {
        ImageSortKey::Reference => a.reference.cmp(&b.reference),
        ImageSortKey::Size => a.size_bytes.cmp(&b.size_bytes),
        ImageSortKey::Pulled => a.pulled_at.cmp(&b.pulled_at),
    };
    sort.direct(ordering)
        .then_with(|| a.reference.cmp(&b.reference))
}

/// One host's page.
#[component]
fn HostDetail(id: String) -> impl IntoView {
    let host_id = StoredValue::new(id.clone());
    let state = RwSignal::new(ItemState::<Host>::Loading);
    let live = RwSignal::new(LiveState::Connecting);
    let pull_live = RwSignal::new(LiveState::Connecting);
    let pull = RwSignal::new(Pull::Idle);

    let latest = Latest::new();
    let load = move || {
        let id = host_id.get_value();
        latest.run(async move { api::host(&id).await }, move |result| {
            state.update(|state| state.settle(result));
        });
    };
    load();

    api::watch_host_status(Some(&id), move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => {
                state.update(|state| {
                    if let ItemState::Found(host) = state {
                        host.status = change.status;
                        host.last_error = change.host.last_error.clone();
                        host.last_seen_at = change.host.last_seen_at.clone();
                        host.maintenance = change.host.maintenance;
                    }
                });
                load();
            }
            Live::Connected { reconnect: true } => load(),
            _ => {}
        }
    });
    api::watch_image_pulls(&id, move |event| {
        LiveState::follow(pull_live, &event);
        if let Live::Event(progress) = event {
            let before = pull.get_untracked();
            pull.update(|pull| pull.apply(&progress));
            if progress.phase == PullPhase::Finished
                && before.reference() == Some(progress.reference.as_str())
            {
                load();
            }
        }
    });

    let phase = Memo::new(move |_| state.with(ItemState::phase));

    move || match phase.get() {
        ItemPhase::Loading => view! {
            <BackLink />
            <LoadingCard text="Loading the host…" />
        }
        .into_any(),
        ItemPhase::Missing => view! {
            <BackLink />
            <div class="card">
                <EmptyState icon=IconKind::Hosts title="Host not found">
                    <p>"There is no host with this id. It may have been removed."</p>
                    <div class="empty-state-actions">
                        <a class="btn btn-secondary" href="/hosts">
                            "Go to Hosts"
                        </a>
                    </div>
                </EmptyState>
            </div>
        }
        .into_any(),
        ItemPhase::Failed(error) => view! {
            <BackLink />
            <LoadFailed
                what="The host"
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
            let host = Memo::new(move |previous: Option<&Host>| {
                state
                    .with(|state| state.found().cloned())
                    .or_else(|| previous.cloned())
                    .unwrap_or_else(|| initial.clone())
            });
            let reload = Callback::new(move |()| load());
            let query = use_query_map();
            let containers_tab =
                Memo::new(move |_| query.with(|q| q.get_str("tab") == Some("containers")));
            let base = move || format!("/hosts/{}", host.with(|h| h.id.clone()));
            view! {
                <BackLink />
                <HostHeader host=host live=live state=state reload=reload />
                <CapabilitiesPanel host=host />
                <HostStats host_id=host.with_untracked(|h| h.id.clone()) />
                <nav class="subtabs" role="tablist" aria-label="Host sections">
                    <a
                        id="subtab-images"
                        class="subtab"
                        class:active=move || !containers_tab.get()
                        role="tab"
                        aria-selected=move || (!containers_tab.get()).to_string()
                        aria-current=move || (!containers_tab.get()).then_some("page")
                        href=base
                    >
                        <Icon kind=IconKind::Storage />
                        <span>"Images"</span>
                        <span class="subtab-count">{move || host.with(|h| h.images.len())}</span>
                    </a>
                    <a
                        id="subtab-containers"
                        class="subtab"
                        class:active=move || containers_tab.get()
                        role="tab"
                        aria-selected=move || containers_tab.get().to_string()
                        aria-current=move || containers_tab.get().then_some("page")
                        href=move || format!("{}?tab=containers", base())
                    >
                        <Icon kind=IconKind::Containers />
                        <span>"Containers"</span>
                    </a>
                </nav>
                {move || {
                    if containers_tab.get() {
                        view! {
                            <section
                                id="host-containers"
                                class="subtab-panel"
                                role="tabpanel"
                                aria-labelledby="subtab-containers"
                            >
                                <HostContainers host=host />
                            </section>
                        }
                            .into_any()
                    } else {
                        view! {
                            <section class="subtab-panel" role="tabpanel" aria-labelledby="subtab-images">
                                <PullForm host=host pull=pull pull_live=pull_live reload=reload />
                                <ImagesTable host=host reload=reload />
                            </section>
                        }
                            .into_any()
                    }
                }}
            }
            .into_any()
        }
    }
}

/// The host's Docker containers: a search and a state filter (kept on this page only), the inventory table with
/// its own live deltas.
#[component]
fn HostContainers(host: Memo<Host>) -> impl IntoView {
    let host_id = host.with_untracked(|h| h.id.clone());
    let scope = host_id.clone();
    let search = RwSignal::new(String::new());
    let state_filter = RwSignal::new(String::new());
    let sort = RwSignal::new(DockerContainerSort::default());
    let live = RwSignal::new(LiveState::Connecting);
    let filter = Signal::derive(move || {
        let search = search.get();
        let state = state_filter.get();
        DockerContainerFilter {
            host_id: Some(host_id.clone()),
            search: (!search.is_empty()).then_some(search),
            state: (!state.is_empty()).then_some(state),
            ..DockerContainerFilter::default()
        }
    });
    let hosts = Signal::derive(move || vec![host.get()]);
    let on_sort = Callback::new(move |next: DockerContainerSort| sort.set(next));
    let on_clear = Callback::new(move |()| {
        search.set(String::new());
        state_filter.set(String::new());
    });
    let up = move || host.with(|h| h.status == HostStatus::Up);
    let empty = move || {
        view! {
            <div class="card">
                <EmptyState icon=IconKind::Containers title="No Docker containers on this host">
                    {move || {
                        if up() {
                            view! {
                                <p>
                                    "Containers appear here as soon as they are created on the host: by Berth, by "
                                    "Compose or by hand."
                                </p>
                            }
                                .into_any()
                        } else {
                            view! {
                                <p>
                                    "The host does not answer, so Berth has not listed its containers yet. "
                                    "Check the error above and Refresh once the host is back."
                                </p>
                            }
                                .into_any()
                        }
                    }}
                    <div class="empty-state-actions">
                        <a class="btn btn-secondary" href="/containers">
                            <Icon kind=IconKind::Containers />
                            <span>"Go to Containers"</span>
                        </a>
                    </div>
                </EmptyState>
            </div>
        }
    };
    view! {
        <InventoryTable
            filter=filter
            sort=sort
            on_sort=on_sort
            hosts=hosts
            live=live
            on_clear=on_clear
            empty=empty
            hide_host=true
            host_scope=scope
        >
            <SearchField
                id="inventory-search"
                placeholder="Name, image or label"
                label="Search this host's Docker containers"
                value=search
                max_length=200
                on_change=Callback::new(move |text: String| search.set(text.trim().to_owned()))
            />
            <select
                id="inventory-state-filter"
                class="input select filter-select"
                aria-label="Show containers in this state"
                on:change=move |event| state_filter.set(event_target_value(&event))
            >
                <option value="" selected=move || state_filter.with(String::is_empty)>
                    "All states"
                </option>
                {STATES
                    .iter()
                    .map(|state| {
                        view! {
                            <option value=*state selected=move || state_filter.with(|s| s == state)>
                                {*state}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <LiveIndicator state=live />
        </InventoryTable>
    }
}

/// "← All hosts".
#[component]
fn BackLink() -> impl IntoView {
    view! {
        <a class="back-link" href="/hosts">
            <Icon kind=IconKind::ArrowLeft />
            <span>"All hosts"</span>
        </a>
    }
}

/// Name, status badge, endpoint and the host's actions (refresh, edit).
#[component]
fn HostHeader(
    host: Memo<Host>,
    live: RwSignal<LiveState>,
    state: RwSignal<ItemState<Host>>,
    reload: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let refreshing = RwSignal::new(false);
    let editing = RwSignal::new(false);
    let refresh_refused = needs_title(Role::Operator);
    let refresh_allowed = refresh_refused.is_none();
    let edit_refused = needs_title(Role::Admin);

    let refresh = move |_| {
        if refreshing.get_untracked() {
            return;
        }
        let current = host.get_untracked();
        refreshing.set(true);
        spawn_local(async move {
            match api::refresh_host(&current.id).await {
                Ok(updated) => {
                    toasts.success(format!(
                        "“{}” checked: {}.",
                        updated.name,
                        updated.status.label().to_lowercase()
                    ));
                    reload.run(());
                }
                Err(error) => toasts.error(format!(
                    "Could not refresh “{}”: {}",
                    current.name, error.message
                )),
            }
            refreshing.set(false);
        });
    };
    let on_saved = Callback::new(move |saved: Host| {
        editing.set(false);
        toasts.success(format!(
            "Host “{}” saved: {}.",
            saved.name,
            saved.status.label().to_lowercase()
        ));
        state.update(|state| {
            if let ItemState::Found(host) = state {
                let images = std::mem::take(&mut host.images);
                *host = Host { images, ..saved };
            }
        });
        reload.run(());
    });
    let on_close = Callback::new(move |()| editing.set(false));

    let last_error = move || {
        host.with(|h| {
            h.last_error
                .clone()
                .filter(|e| !e.trim().is_empty() && h.status != api::HostStatus::Up)
        })
    };

    view! {
        <header class="page-header host-header" data-host-id=move || host.with(|h| h.id.clone())>
            <div class="page-header-text">
                <div class="host-title">
                    <h1 id="host-title">{move || host.with(|h| h.name.clone())}</h1>
                    <HostStatusBadge status=Signal::derive(move || host.with(|h| h.status)) />
                    {move || {
                        host.with(|h| h.tls)
                            .then(|| {
                                view! {
                                    <span class="tag" title="Reached over TLS">
                                        <Icon kind=IconKind::Lock />
                                        "TLS"
                                    </span>
                                }
                            })
                    }}
                    {move || {
                        (!host.with(|h| h.docker_support))
                            .then(|| view! { <span class="tag">"Docker support off"</span> })
                    }}
                </div>
                <p class="page-description host-meta">
                    <span id="host-endpoint" class="mono">
                        {move || host.with(|h| h.endpoint.clone())}
                    </span>
                    {move || {
                        host.with(|h| h.last_seen_at.clone())
                            .map(|at| {
                                view! {
                                    <span class="meta-sep" aria-hidden="true">"·"</span>
                                    <span>"Last seen " <Timestamp value=at /></span>
                                }
                            })
                    }}
                </p>
            </div>
            <div class="page-actions">
                <LiveIndicator state=live />
                <button
                    type="button"
                    class="btn btn-secondary host-refresh"
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
                    class="btn btn-secondary host-edit"
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
            last_error()
                .map(|error| {
                    view! {
                        <div class="alert alert-error host-last-error" role="status">
                            <strong>"Last error: "</strong>
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
                        <HostDialog host=Some(host.get_untracked()) on_saved=on_saved on_close=on_close />
                    }
                })
        }}
    }
}

/// `#host-capabilities`: what the engine reported at the last check.
#[component]
fn CapabilitiesPanel(host: Memo<Host>) -> impl IntoView {
    let item = |key: &'static str, label: &'static str, value: Signal<String>| {
        view! {
            <div class="cap" data-cap=key>
                <dt>{label}</dt>
                <dd title=move || value.get()>{move || value.get()}</dd>
            </div>
        }
    };
    let cap = move |pick: fn(&api::HostCapabilities) -> String| {
        Signal::derive(move || {
            host.with(|h| h.capabilities.as_ref().map(pick))
                .unwrap_or_default()
        })
    };
    let checked_at = move || host.with(|h| h.capabilities.as_ref().map(|c| c.checked_at.clone()));
    view! {
        <section id="host-capabilities" class="card cap-panel" aria-labelledby="host-capabilities-title">
            <div class="cap-head">
                <h2 id="host-capabilities-title" class="card-title">
                    "Capabilities"
                </h2>
                {move || {
                    checked_at()
                        .map(|at| {
                            view! {
                                <span class="muted cap-checked" data-cap="checked-at">
                                    "Checked " <Timestamp value=at />
                                </span>
                            }
                        })
                }}
            </div>
            <Show
                when=move || host.with(|h| h.capabilities.is_some())
                fallback=move || {
                    view! {
                        <p class="muted cap-missing">
                            {move || {
                                if host.with(|h| h.docker_support) {
                                    "Not known yet: the engine has not answered a check. Refresh to try again."
                                } else {
                                    "Docker support is off for this host, so Berth does not contact its engine."
                                }
                            }}
                        </p>
                    }
                }
            >
                <dl class="cap-grid">
                    {item("docker-version", "Docker version", cap(|c| c.docker_version.clone()))}
                    {item("api-version", "API version", cap(|c| c.api_version.clone()))}
                    {item("os", "Operating system", cap(|c| c.operating_system.clone()))}
                    {item("kernel", "Kernel", cap(|c| c.kernel_version.clone()))}
                    {item("architecture", "Architecture", cap(|c| c.architecture.clone()))}
                    {item("cpus", "CPUs", cap(|c| c.cpus.to_string()))}
                    {item("memory", "Memory", cap(|c| format_bytes(bytes_u64(c.memory_bytes))))}
                    {item("storage-driver", "Storage driver", cap(|c| c.storage_driver.clone()))}
                </dl>
            </Show>
        </section>
    }
}

/// The pull form: a reference checked as you type with the server's parser, and the live progress of the pull.
#[component]
fn PullForm(
    host: Memo<Host>,
    pull: RwSignal<Pull>,
    pull_live: RwSignal<LiveState>,
    reload: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let input_ref = NodeRef::<html::Input>::new();
    let reference = RwSignal::new(String::new());
    let parsed = move || reference.with(|r| ImageRef::parse(r.trim()));
    let field_error = move || {
        if reference.with(|r| r.trim().is_empty()) {
            return None;
        }
        parsed().err().map(|error| sentence(&error.to_string()))
    };
    let busy = move || pull.with(Pull::active);
    let pull_refused = needs_title(Role::Operator);
    let pull_allowed = pull_refused.is_none();

    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if pull.with_untracked(Pull::active) {
            return;
        }
        if let Some(input) = input_ref.get_untracked() {
            reference.set(input.value());
        }
        let raw = reference.get_untracked().trim().to_owned();
        let Ok(image) = ImageRef::parse(&raw) else {
            return;
        };
        let normalised = image.to_string();
        let current = host.get_untracked();
        pull.set(Pull::Waiting {
            reference: normalised.clone(),
        });
        spawn_local(async move {
            // Subscribe before pulling: the page's imagePull feed must be live, or the first events are lost.
            wait_until_live(pull_live, FEED_WAIT).await;
            match api::pull_image(&current.id, &raw).await {
                Ok(_) => {
                    pull.update(|state| {
                        if state.reference() == Some(normalised.as_str()) && state.active() {
                            let total = match state.bytes() {
                                (current, Some(total)) => total.max(current),
                                (current, None) => current,
                            };
                            *state = Pull::Finished {
                                reference: normalised.clone(),
                                total,
                            };
                        }
                    });
                    toasts.success(format!(
                        "Pulled {} onto “{}”.",
                        image.familiar(),
                        current.name
                    ));
                    reference.set(String::new());
                    if let Some(input) = input_ref.get_untracked() {
                        input.set_value("");
                    }
                    reload.run(());
                }
                Err(error) => pull.update(|state| {
                    if state.reference() == Some(normalised.as_str()) && state.active() {
                        *state = Pull::Failed {
                            reference: normalised.clone(),
                            message: error.message,
                        };
                    }
                }),
            }
        });
    };

    let hint = move || match parsed() {
        Ok(image) => format!("Pulls {image}."),
        Err(_) => "A reference such as nginx:1.25 or registry.example.com/team/app:2.".to_owned(),
    };

    view! {
        <form id="pull-form" class="card pull-card" novalidate on:submit=on_submit>
            <div class="form-row">
                <div class="field grow">
                    <label for="pull-reference">"Pull an image onto this host"</label>
                    <input
                        id="pull-reference"
                        name="reference"
                        class="input input-mono"
                        type="text"
                        autocomplete="off"
                        autocapitalize="none"
                        spellcheck="false"
                        placeholder="registry.example.com/team/app:2"
                        node_ref=input_ref
                        class:invalid=move || field_error().is_some()
                        aria-invalid=move || field_error().is_some().to_string()
                        aria-describedby="pull-reference-help"
                        on:input=move |event| reference.set(event_target_value(&event))
                        on:change=move |event| reference.set(event_target_value(&event))
                    />
                    <div class="field-foot">
                        <span
                            id="pull-reference-help"
                            class=move || if field_error().is_some() { "field-error" } else { "field-hint" }
                        >
                            {move || field_error().unwrap_or_else(hint)}
                        </span>
                    </div>
                </div>
                <button
                    id="pull-submit"
                    type="submit"
                    class="btn btn-primary"
                    title=pull_refused
                    disabled=move || !pull_allowed || busy() || parsed().is_err()
                    aria-busy=move || busy().to_string()
                >
                    {move || {
                        if busy() {
                            view! {
                                <span class="spinner spinner-on-accent" aria-hidden="true"></span>
                                <span>"Pulling…"</span>
                            }
                                .into_any()
                        } else {
                            view! {
                                <Icon kind=IconKind::Download />
                                <span>"Pull"</span>
                            }
                                .into_any()
                        }
                    }}
                </button>
            </div>
            {move || match pull.get() {
                Pull::Idle => None,
                Pull::Failed { reference, message } => Some(
                    view! {
                        <p id="pull-error" class="form-error pull-error" role="alert">
                            <Icon kind=IconKind::AlertCircle />
                            <span>"Could not pull " <code>{reference}</code> ": " {message}</span>
                        </p>
                    }
                    .into_any(),
                ),
                state => Some(view! { <PullProgress state=state /> }.into_any()),
            }}
        </form>
    }
}

/// The progress bar and its text for a running or finished pull.
#[component]
fn PullProgress(state: Pull) -> impl IntoView {
    let percent = state.percent();
    let finished = matches!(state, Pull::Finished { .. });
    let text = state.text();
    let reference = state.reference().unwrap_or_default().to_owned();
    let class = match (finished, percent) {
        (true, _) => "progress up",
        (false, None) => "progress indeterminate",
        (false, Some(_)) => "progress",
    };
    let width = percent.map_or_else(String::new, |p| format!("{p:.1}%"));
    view! {
        <div class="pull-status" data-phase=if finished { "finished" } else { "running" }>
            <div class="progress-label">
                <span class="pull-what">
                    {if finished { "Pulled " } else { "Pulling " }} <code>{reference}</code>
                </span>
                <span id="pull-progress-text">{text}</span>
            </div>
            <div
                id="pull-progress"
                class=class
                role="progressbar"
                aria-label="Pull progress"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=percent.map(|p| p.floor().to_string())
            >
                <div class="progress-bar" style:width=width></div>
            </div>
        </div>
    }
}

/// `table#host-images`: the host's image cache, with Remove (confirmed) on each row.
#[component]
fn ImagesTable(host: Memo<Host>, reload: Callback<()>) -> impl IntoView {
    let toasts = use_toasts();
    let sort = RwSignal::new(Sort {
        key: ImageSortKey::Reference,
        ascending: true,
    });
    let images = move || {
        let sort = sort.get();
        let mut list = host.with(|h| h.images.clone());
        list.sort_by(|a, b| compare_images(sort, a, b));
        list
    };
    let empty = move || host.with(|h| h.images.is_empty());

    let to_remove = RwSignal::new(None::<HostImage>);
    let removing = RwSignal::new(false);
    let remove_error = RwSignal::new(None::<String>);
    let confirm_remove = Callback::new(move |()| {
        let Some(image) = to_remove.get_untracked() else {
            return;
        };
        if removing.get_untracked() {
            return;
        }
        let current = host.get_untracked();
        removing.set(true);
        remove_error.set(None);
        spawn_local(async move {
            match api::remove_host_image(&current.id, &image.reference).await {
                Ok(()) => {
                    to_remove.set(None);
                    toasts.success(format!(
                        "Removed {} from “{}”.",
                        image.reference, current.name
                    ));
                    reload.run(());
                }
                Err(error) => remove_error.set(Some(error.message)),
            }
            removing.set(false);
        });
    });
    let cancel_remove = Callback::new(move |()| {
        if !removing.get_untracked() {
            to_remove.set(None);
            remove_error.set(None);
        }
    });

    view! {
        <div class="card table-card table-scroll">
            <table id="host-images" class="table images-table">
                <thead>
                    <tr>
                        <SortHeader label="Reference" key=ImageSortKey::Reference sort=sort />
                        <th>"Image ID"</th>
                        <th>"Digest"</th>
                        <SortHeader label="Size" key=ImageSortKey::Size sort=sort class="numeric" />
                        <SortHeader label="Pulled" key=ImageSortKey::Pulled sort=sort />
                        <ActionsHeader label="Actions" />
                    </tr>
                </thead>
                <tbody>
                    <For each=images key=|image| image.clone() let:image>
                        <ImageRow image=image to_remove=to_remove />
                    </For>
                    {move || {
                        empty()
                            .then(|| {
                                view! {
                                    <tr class="placeholder-row empty-row">
                                        <td colspan=IMAGE_COLUMNS>
                                            <div class="table-empty">
                                                <Icon kind=IconKind::Storage />
                                                <div>
                                                    <strong>"No images on this host."</strong>
                                                    " Pull one above; containers need their image on the host."
                                                </div>
                                            </div>
                                        </td>
                                    </tr>
                                }
                            })
                    }}
                </tbody>
            </table>
        </div>
        {move || {
            to_remove
                .get()
                .map(|image| {
                    view! {
                        <ConfirmDialog
                            title="Remove this image?"
                            confirm_label="Remove image"
                            danger=true
                            busy=removing
                            error=remove_error
                            on_confirm=confirm_remove
                            on_cancel=cancel_remove
                        >
                            <p>
                                <code>{image.reference.clone()}</code>
                                " is removed from the host's local cache. Pull it again to use it."
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// One `tr.image-row`.
#[component]
fn ImageRow(image: HostImage, to_remove: RwSignal<Option<HostImage>>) -> impl IntoView {
    let shown = ImageRef::parse(&image.reference)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| image.reference.clone());
    let digest = match image.digest.clone() {
        Some(digest) => view! {
            <code class="digest" title=digest.clone()>
                {short_digest(&digest)}
            </code>
        }
        .into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let pulled = match image.pulled_at.clone() {
        Some(at) => view! { <Timestamp value=at /> }.into_any(),
        None => view! { <span class="muted" title="Pulled outside Berth or before it knew the host">"—"</span> }
            .into_any(),
    };
    let label = format!("Remove image {}", image.reference);
    let reference = image.reference.clone();
    let reference_title = image.reference.clone();
    let image_id = image.image_id.clone();
    let short_id = short_image_id(&image.image_id);
    let size = format_bytes(bytes_u64(image.size_bytes));
    view! {
        <tr class="image-row" data-reference=reference>
            <td class="image-reference">
                <span class="mono strong" title=reference_title>
                    {shown}
                </span>
            </td>
            <td>
                <code class="image-id" title=image_id>
                    {short_id}
                </code>
            </td>
            <td>{digest}</td>
            <td class="numeric">{size}</td>
            <td>{pulled}</td>
            <td class="actions-col">
                {can(Role::Admin).then(|| view! {
                    <button
                        type="button"
                        class="btn btn-danger-ghost btn-sm image-remove"
                        aria-label=label
                        on:click=move |_| to_remove.set(Some(image.clone()))
                    >
                        "Remove"
                    </button>
                })}
            </td>
        </tr>
    }
}
