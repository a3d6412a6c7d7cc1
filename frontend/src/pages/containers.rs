//! Containers tab (`/containers`): every container definition across the hosts in one table, with its live
//! status (from the `containerStatus` feed, never polled), hosts, replicas with a scale control (running/desired,
//! − and +), published ports as links, limits and actions (run on any host or a chosen one, stop, restart, edit,
//! delete); sorting, a filter and a status filter; the new/edit dialog.

use std::cmp::Ordering;

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::{
    api::{self, Container, Host, InstanceStatus, Live, Role},
    app::replace,
    components::{
        badge::{Badge, Tone},
        container_actions::{ChangedMarker, ContainerActions, ContainerModals, Editing, Modals},
        container_info::{HostLinks, PortLinks, limits_text, short_image},
        container_scale::ScaleControl,
        container_status::ContainerStatusBadge,
        empty_state::EmptyState,
        icons::{Icon, IconKind},
        live::{LiveIndicator, LiveState},
        loading::{Latest, ListPhase, ListState, LoadFailed, LoadingCard},
        page_header::PageHeader,
        permission::{can, needs_title},
        sort_header::{Sort, SortHeader},
        table_tools::{ActionsHeader, FilterField, NoMatchRow, count_text},
    },
};

/// Columns of the containers table (for placeholder rows).
const COLUMNS: &str = "8";

/// Sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Image,
    Host,
    Status,
}

/// The first host name (containers on no host last when ascending).
fn host_key(container: &Container) -> (bool, String) {
    match container.hosts().first() {
        Some(host) => (false, host.name.to_lowercase()),
        None => (true, String::new()),
    }
}

fn compare(sort: Sort<SortKey>, a: &Container, b: &Container) -> Ordering {
    let name = |c: &Container| c.name.to_lowercase();
    let ordering = match sort.key {
        SortKey::Name => name(a).cmp(&name(b)),
        SortKey::Image => short_image(&a.image).cmp(&short_image(&b.image)),
        SortKey::Host => host_key(a).cmp(&host_key(b)),
        SortKey::Status => a
            .status
            .distance_from_running()
            .cmp(&b.status.distance_from_running()),
    };
    // Ties keep a stable, readable order whatever the direction.
    sort.direct(ordering)
        .then_with(|| name(a).cmp(&name(b)))
        .then_with(|| a.id.cmp(&b.id))
}

/// Whether a container matches the filter text (name, image, host names, status) and the status filter.
fn matches(container: &Container, query: &str, status: Option<InstanceStatus>) -> bool {
    if status.is_some_and(|status| status != container.status) {
        return false;
    }
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return true;
    }
    let mut texts = vec![
        container.name.to_lowercase(),
        container.image.to_lowercase(),
        short_image(&container.image).to_lowercase(),
        container.status.label().to_lowercase(),
        container.status.as_str().to_lowercase(),
    ];
    texts.extend(
        container
            .hosts()
            .into_iter()
            .map(|host| host.name.to_lowercase()),
    );
    texts.iter().any(|text| text.contains(&query))
}

fn same(a: &Container, b: &Container) -> bool {
    a.id == b.id
}

/// The Containers page.
#[component]
pub fn ContainersPage() -> impl IntoView {
    let containers = RwSignal::new(ListState::<Container>::Loading);
    // `None` until the hosts are known (the empty state depends on them).
    let hosts = RwSignal::new(None::<Vec<Host>>);
    let host_list = Signal::derive(move || hosts.get().unwrap_or_default());
    let live = RwSignal::new(LiveState::Connecting);
    let filter = RwSignal::new(String::new());
    let status_filter = RwSignal::new(None::<InstanceStatus>);
    let sort = RwSignal::new(Sort {
        key: SortKey::Name,
        ascending: true,
    });
    let modals = Modals::new();
    // `/containers?run=<reference>` (a registry tag's "Run…") opens the new-container dialog with that image;
    // the query is dropped at once so a reload or Back does not open it again.
    if let Some(image) = use_query_map().with_untracked(|query| query.get("run"))
        && !image.trim().is_empty()
    {
        if can(Role::Operator) {
            modals.editing.set(Some(Editing::New(Some(image))));
        }
        let navigate = use_navigate();
        Effect::new(move |_| navigate("/containers", replace()));
    }

    let latest = Latest::new();
    let load = move || {
        latest.run(api::containers::containers(), move |result| {
            containers.update(|state| state.settle(result))
        })
    };
    let latest_hosts = Latest::new();
    let load_hosts = move || {
        latest_hosts.run(api::hosts(), move |result| {
            if let Ok(list) = result {
                hosts.set(Some(list));
            } else if hosts.with_untracked(Option::is_none) {
                hosts.set(Some(Vec::new()));
            }
        })
    };
    load();
    load_hosts();

    // An event carries the container as it is now; the re-fetch that follows (issued after the event, so never
    // older than it) brings everything else and wins over any answer still on its way.
    let put = move |container: Container| {
        containers.update(|state| state.put(container, same));
        load();
    };
    api::containers::watch_container_status(None, move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => put(change.container),
            Live::Connected { reconnect: true } => {
                load();
                load_hosts();
            }
            _ => {}
        }
    });
    let on_changed = Callback::new(put);
    let on_deleted = Callback::new(move |gone: Container| {
        containers.update(|state| {
            if let ListState::Loaded(list) = state {
                list.retain(|c| c.id != gone.id);
            }
        });
        load();
    });

    let phase = Memo::new(move |_| containers.with(ListState::phase));
    let visible = move || {
        let query = filter.get();
        let status = status_filter.get();
        let sort = sort.get();
        let mut list: Vec<Container> = containers.with(|state| {
            state
                .items()
                .iter()
                .filter(|c| matches(c, &query, status))
                .cloned()
                .collect()
        });
        list.sort_by(|a, b| compare(sort, a, b));
        list
    };
    let total = move || containers.with(|state| state.items().len());
    let shown = Memo::new(move |_| {
        let query = filter.get();
        let status = status_filter.get();
        containers.with(|state| {
            state
                .items()
                .iter()
                .filter(|c| matches(c, &query, status))
                .count()
        })
    });
    let clear_filters = Callback::new(move |()| {
        filter.set(String::new());
        status_filter.set(None);
    });

    let table = move || {
        view! {
            <div class="toolbar">
                <div class="toolbar-filters">
                    <FilterField
                        id="containers-filter"
                        placeholder="Filter by name, image, host or status"
                        label="Filter containers"
                        filter=filter
                    />
                    <select
                        id="containers-status-filter"
                        class="input select status-select"
                        aria-label="Show containers with this status"
                        on:change=move |event| status_filter.set(event_target_value(&event).parse().ok())
                    >
                        <option value="" selected=move || status_filter.get().is_none()>
                            "All statuses"
                        </option>
                        {InstanceStatus::ALL
                            .iter()
                            .map(|status| {
                                let status = *status;
                                view! {
                                    <option value=status.as_str() selected=move || status_filter.get() == Some(status)>
                                        {status.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </div>
                <span class="toolbar-count muted" aria-live="polite">
                    {move || count_text(shown.get(), total(), "container", "containers")}
                </span>
            </div>
            <div class="card table-card table-scroll">
                <table id="containers-table" class="table containers-table">
                    <thead>
                        <tr>
                            <SortHeader label="Name" key=SortKey::Name sort=sort />
                            <SortHeader label="Image" key=SortKey::Image sort=sort />
                            <SortHeader label="Host" key=SortKey::Host sort=sort />
                            <SortHeader label="Status" key=SortKey::Status sort=sort />
                            <th>"Replicas"</th>
                            <th>"Ports"</th>
                            <th>"Limits"</th>
                            <ActionsHeader label="Actions" />
                        </tr>
                    </thead>
                    <tbody>
                        <For each=visible key=|container| container.id.clone() let:container>
                            <ContainerRow
                                container=container
                                containers=containers
                                hosts=host_list
                                modals=modals
                                on_changed=on_changed
                            />
                        </For>
                        <Show when=move || shown.get() == 0>
                            <NoMatchRow
                                columns=COLUMNS
                                message=Signal::derive(|| "No container matches these filters.".to_owned())
                                on_clear=clear_filters
                            />
                        </Show>
                    </tbody>
                </table>
            </div>
        }
    };

    view! {
        <PageHeader
            title="Containers"
            description="What to run, where it runs, and the live status of every instance."
        >
            <LiveIndicator state=live />
            <NewContainerButton id="container-new" modals=modals />
        </PageHeader>
        {move || match phase.get() {
            ListPhase::Loading => view! { <LoadingCard text="Loading containers…" /> }.into_any(),
            ListPhase::Failed(error) => view! {
                <LoadFailed
                    what="The containers"
                    error=error
                    on_retry=Callback::new(move |()| {
                        containers.set(ListState::Loading);
                        load();
                    })
                />
            }
            .into_any(),
            ListPhase::Empty => view! { <EmptyContainers hosts=hosts modals=modals /> }.into_any(),
            ListPhase::List => table().into_any(),
        }}
        <ContainerModals modals=modals hosts=host_list on_saved=on_changed on_deleted=on_deleted />
    }
}

/// "+ New container": opens the dialog for a new definition.
#[component]
fn NewContainerButton(id: &'static str, modals: Modals) -> impl IntoView {
    let refused = needs_title(Role::Operator);
    view! {
        <button
            id=id
            type="button"
            class="btn btn-primary"
            disabled=refused.is_some()
            title=refused
            on:click=move |_| modals.editing.set(Some(Editing::New(None)))
        >
            <Icon kind=IconKind::Plus />
            <span>"New container"</span>
        </button>
    }
}

/// No containers yet: what they are, and the next step (a host first, then a container).
#[component]
fn EmptyContainers(hosts: RwSignal<Option<Vec<Host>>>, modals: Modals) -> impl IntoView {
    let no_hosts = move || hosts.with(|h| h.as_ref().is_some_and(Vec::is_empty));
    view! {
        <div class="card">
            <EmptyState icon=IconKind::Containers title="No containers yet">
                <p>
                    "A container definition says what to run: image, command, environment, port mappings, "
                    "CPU and memory limits and restart policy, on a pinned host or on any host that fits. "
                    "Each one is listed here with the status of its instances, updated live from the hosts' "
                    "Docker events."
                </p>
                <div class="status-legend" aria-label="Instance statuses">
                    <Badge tone=Tone::Up>{InstanceStatus::Running.label()}</Badge>
                    <Badge tone=Tone::Warn>{InstanceStatus::Pulling.label()}</Badge>
                    <Badge tone=Tone::Down>{InstanceStatus::Failed.label()}</Badge>
                    <Badge tone=Tone::Neutral>{InstanceStatus::Stopped.label()}</Badge>
                </div>
                <Show
                    when=no_hosts
                    fallback=move || {
                        view! {
                            <div class="empty-state-actions">
                                <NewContainerButton id="container-new-first" modals=modals />
                            </div>
                        }
                    }
                >
                    <p class="muted">"Containers run on hosts, and there is none yet."</p>
                    <div class="empty-state-actions">
                        <a id="container-add-host" class="btn btn-primary" href="/hosts">
                            <Icon kind=IconKind::Hosts />
                            <span>"Add a host first"</span>
                        </a>
                    </div>
                </Show>
            </EmptyState>
        </div>
    }
}

/// One `tr.container-row`. The row stays in place while its container changes (live status, re-fetches): every
/// cell reads the container from the list.
#[component]
fn ContainerRow(
    container: Container,
    containers: RwSignal<ListState<Container>>,
    hosts: Signal<Vec<Host>>,
    modals: Modals,
    on_changed: Callback<Container>,
) -> impl IntoView {
    let id = container.id.clone();
    let current = {
        let id = id.clone();
        Memo::new(move |previous: Option<&Container>| {
            containers
                .with(|state| state.items().iter().find(|c| c.id == id).cloned())
                .or_else(|| previous.cloned())
                .unwrap_or_else(|| container.clone())
        })
    };
    let current: Signal<Container> = current.into();
    let name = move || current.with(|c| c.name.clone());
    let image = move || current.with(|c| c.image.clone());
    let limits = move || current.with(|c| limits_text(&c.resources));

    view! {
        <tr class="container-row" data-container-id=id.clone() data-container-name=name>
            <td class="container-name-cell">
                <a class="container-link" href=format!("/containers/{id}") title=name>
                    {name}
                </a>
                <ChangedMarker container=current on_changed=on_changed />
            </td>
            <td class="container-image">
                <span class="mono" title=image>
                    {move || short_image(&image())}
                </span>
            </td>
            <td class="container-hosts">
                <HostLinks container=current />
            </td>
            <td class="container-status-cell">
                <ContainerStatusBadge status=Signal::derive(move || current.with(|c| c.status)) class="container-status" />
            </td>
            <td class="container-replicas">
                <ScaleControl container=current on_changed=on_changed />
            </td>
            <td class="container-ports">
                <PortLinks container=current />
            </td>
            <td class="container-limits">
                {move || match limits() {
                    Some(text) => view! { <span>{text}</span> }.into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="actions-col">
                <ContainerActions container=current hosts=hosts modals=modals on_changed=on_changed />
            </td>
        </tr>
    }
}
