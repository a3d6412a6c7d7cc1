//! Containers tab (`/containers`), in two views chosen by a segmented control and kept in the address
//! (`?view=all`):
//!
//! - **Managed** (default): Berth's container definitions with their live status (the `containerStatus` feed,
//!   applied to the loaded rows in place), hosts, replicas with a scale control, ports, limits, age and actions;
//!   the new/edit dialog.
//! - **All**: the inventory of every Docker container on every host ([`InventoryTable`]), with its own live
//!   deltas, row actions and adoption.
//!
//! Search, host and status filters and the sort order live in the address too (`q`, `host`, `status` / `state`,
//! `health`, `managed`, `project`, `sort`, `dir`) and go to the server, which filters, sorts and pages; the table
//! loads pages as it scrolls and draws only the rows in view.

use std::rc::Rc;

use leptos::prelude::*;
use leptos_router::{
    NavigateOptions,
    hooks::{use_location, use_navigate, use_query_map},
    params::ParamsMap,
};

use crate::{
    api::{
        self, Container, Host, HostStatus, InstanceStatus, Live, Role, SortDirection,
        containers::{ContainerFilter, ContainerSort, ContainerSortKey},
        inventory::{
            DockerContainerFilter, DockerContainerSort, DockerContainerSortKey, HEALTHS, STATES,
        },
    },
    components::{
        badge::{Badge, Tone},
        container_actions::{ChangedMarker, ContainerActions, ContainerModals, Editing, Modals},
        container_info::{HostLinks, PortLinks, hosts_by_name, limits_text, short_image},
        container_scale::ScaleControl,
        container_status::{ContainerStatusBadge, HealthBadge},
        empty_state::EmptyState,
        feed::{Delta, Feed, FeedPhase, Keyed, Query},
        icons::{Icon, IconKind},
        inventory_table::{InventoryTable, grouped},
        live::{LiveIndicator, LiveState},
        loading::{Latest, LoadFailed, LoadingCard},
        page_header::PageHeader,
        permission::{can, needs_title},
        sort_header::{ServerSortHeader, Sort},
        stats_trend::{TrendCell, Trends},
        table_tools::{ActionsHeader, NoMatchRow, SearchField},
        time::Timestamp,
        update_marker::UpdateMarker,
        virtual_table::VirtualTable,
    },
};

/// Columns of the definitions table.
const COLUMNS: usize = 10;
/// The row height the CSS gives definition rows (a second line for "Changed since start").
const ROW_HEIGHT: f64 = 56.0;
/// The longest search the server takes.
const SEARCH_MAX: usize = 200;

/// The query keys of the page's address.
const VIEW: &str = "view";
const SEARCH: &str = "q";
const HOST: &str = "host";
const STATUS: &str = "status";
const STATE: &str = "state";
const HEALTH: &str = "health";
const MANAGED: &str = "managed";
const PROJECT: &str = "project";
const SORT: &str = "sort";
const DIR: &str = "dir";

impl Keyed for Container {
    fn key(&self) -> &str {
        &self.id
    }
}

/// A query value, `None` when missing or blank.
fn param(map: &ParamsMap, key: &str) -> Option<String> {
    map.get_str(key)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// The Managed view's filter and order, from the address.
fn managed_state(map: &ParamsMap) -> (ContainerFilter, ContainerSort) {
    let filter = ContainerFilter {
        search: param(map, SEARCH),
        host_id: param(map, HOST),
        status: param(map, STATUS).and_then(|s| s.parse().ok()),
    };
    let sort = ContainerSort {
        by: param(map, SORT)
            .and_then(|s| ContainerSortKey::from_query(&s))
            .unwrap_or_default(),
        direction: SortDirection::from_query(map.get_str(DIR)),
    };
    (filter, sort)
}

/// The All view's filter and order, from the address.
fn inventory_state(map: &ParamsMap) -> (DockerContainerFilter, DockerContainerSort) {
    let filter = DockerContainerFilter {
        search: param(map, SEARCH),
        host_id: param(map, HOST),
        state: param(map, STATE).filter(|s| STATES.contains(&s.as_str())),
        health: param(map, HEALTH).filter(|h| HEALTHS.contains(&h.as_str())),
        managed: match map.get_str(MANAGED) {
            Some("yes") => Some(true),
            Some("no") => Some(false),
            _ => None,
        },
        compose_project: param(map, PROJECT),
    };
    let sort = DockerContainerSort {
        by: param(map, SORT)
            .and_then(|s| DockerContainerSortKey::from_query(&s))
            .unwrap_or_default(),
        direction: SortDirection::from_query(map.get_str(DIR)),
    };
    (filter, sort)
}

/// Whether a definition matches the Managed filter as the server reads it (for rows arriving on the live feed,
/// which is not filtered).
fn matches(filter: &ContainerFilter, container: &Container) -> bool {
    if filter
        .status
        .is_some_and(|status| status != container.status)
    {
        return false;
    }
    if let Some(host) = &filter.host_id {
        let on_host = container.hosts().iter().any(|h| &h.id == host)
            || container.host.as_ref().is_some_and(|h| &h.id == host);
        if !on_host {
            return false;
        }
    }
    match &filter.search {
        Some(search) => {
            let search = search.to_lowercase();
            container.name.to_lowercase().contains(&search)
                || container.image.to_lowercase().contains(&search)
        }
        None => true,
    }
}

/// The definitions of `filter` in `sort` order, for a [`Feed`].
fn managed_query(filter: ContainerFilter, sort: ContainerSort) -> Query<Container> {
    let count_filter = filter.clone();
    Query {
        fetch: Rc::new(move |after, first| {
            let filter = filter.clone();
            Box::pin(async move {
                let first = i64::try_from(first).unwrap_or(i64::MAX);
                api::containers::containers_page(&filter, sort, first, after.as_deref()).await
            })
        }),
        compare: Rc::new(move |a, b| sort.compare(a, b)),
        count: Rc::new(move || {
            let filter = count_filter.clone();
            Box::pin(async move { api::containers::container_count(&filter).await })
        }),
    }
}

/// The page's address: its query, and changes to some of its keys (`None` removes one) that keep the scroll
/// position and replace the history entry (filters, order) or add one (the view).
#[derive(Clone, Copy)]
struct Address {
    query: Memo<ParamsMap>,
    write: Callback<(ParamsMap, bool)>,
}

impl Address {
    fn new() -> Self {
        let query = use_query_map();
        let navigate = use_navigate();
        let pathname = use_location().pathname;
        let write = Callback::new(move |(map, replace): (ParamsMap, bool)| {
            let path = pathname.get_untracked();
            navigate(
                &format!("{path}{}", map.to_query_string()),
                NavigateOptions {
                    replace,
                    scroll: false,
                    ..NavigateOptions::default()
                },
            );
        });
        Self { query, write }
    }

    /// Changes filters or the order (the history entry is replaced).
    fn set(&self, changes: &[(&'static str, Option<String>)]) {
        self.change(changes, true);
    }

    fn change(&self, changes: &[(&'static str, Option<String>)], replace: bool) {
        let mut map = self.query.get_untracked();
        for (key, value) in changes {
            match value {
                Some(value) => map.replace(*key, value.clone()),
                None => {
                    map.remove(key);
                }
            }
        }
        self.write.run((map, replace));
    }

    fn get(&self, key: &'static str) -> Signal<String> {
        let query = self.query;
        Signal::derive(move || query.with(|map| map.get(key).unwrap_or_default()))
    }
}

/// The Containers page.
#[component]
pub fn ContainersPage() -> impl IntoView {
    let address = Address::new();
    let view_all = Memo::new(move |_| address.query.with(|map| map.get_str(VIEW) == Some("all")));
    // `None` until the hosts are known (the empty states depend on them).
    let hosts = RwSignal::new(None::<Vec<Host>>);
    let host_list = Signal::derive(move || hosts.get().unwrap_or_default());
    let live = RwSignal::new(LiveState::Connecting);
    let modals = Modals::new();
    let managed = Feed::<Container>::new();

    // `/containers?run=<reference>` (a registry tag's "Run…") opens the new-container dialog with that image;
    // the key is dropped at once so a reload or Back does not open it again.
    if let Some(image) = address.query.with_untracked(|map| map.get("run"))
        && !image.trim().is_empty()
    {
        if can(Role::Operator) {
            modals.editing.set(Some(Editing::New(Some(image))));
        }
        Effect::new(move |_| address.set(&[("run", None)]));
    }

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
    load_hosts();

    // A container as an action or the dialog answered: in place when loaded, else placed if it matches the
    // Managed filter (a new one), the count asked again.
    let on_changed = Callback::new(move |container: Container| {
        let matches = address
            .query
            .with_untracked(|map| matches(&managed_state(map).0, &container));
        managed.apply(Delta::Upsert {
            item: container,
            matches,
        });
    });
    let on_deleted = Callback::new(move |gone: Container| managed.forget(&gone.id));
    let switch = move |all: bool| {
        if all == view_all.get_untracked() {
            return;
        }
        // Search and host mean the same in both views; the rest does not. Back returns to the other view.
        address.change(
            &[
                (VIEW, all.then(|| "all".to_owned())),
                (STATUS, None),
                (STATE, None),
                (HEALTH, None),
                (MANAGED, None),
                (PROJECT, None),
                (SORT, None),
                (DIR, None),
            ],
            false,
        );
    };

    view! {
        <PageHeader
            title="Containers"
            description="What to run, where it runs, and every Docker container on your hosts."
        >
            <LiveIndicator state=live />
            <NewContainerButton id="container-new" modals=modals />
        </PageHeader>
        <div class="view-switch-row">
            <div class="segmented" role="tablist" aria-label="Which containers">
                <button
                    id="containers-view-managed"
                    type="button"
                    role="tab"
                    class="segment"
                    class:active=move || !view_all.get()
                    aria-selected=move || (!view_all.get()).to_string()
                    on:click=move |_| switch(false)
                >
                    "Managed"
                </button>
                <button
                    id="containers-view-all"
                    type="button"
                    role="tab"
                    class="segment"
                    class:active=move || view_all.get()
                    aria-selected=move || view_all.get().to_string()
                    on:click=move |_| switch(true)
                >
                    "All"
                </button>
            </div>
            <span class="view-switch-note muted">
                {move || {
                    if view_all.get() {
                        "Every Docker container on every host: Berth's, Compose's and the rest."
                    } else {
                        "The containers Berth runs from its definitions."
                    }
                }}
            </span>
        </div>
        {move || {
            if view_all.get() {
                view! {
                    <AllView address=address hosts=hosts host_list=host_list live=live modals=modals />
                }
                    .into_any()
            } else {
                view! {
                    <ManagedView
                        address=address
                        feed=managed
                        hosts=hosts
                        host_list=host_list
                        live=live
                        modals=modals
                        on_changed=on_changed
                        reload_hosts=Callback::new(move |()| load_hosts())
                    />
                }
                    .into_any()
            }
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

/// A host select (`All hosts`, then each host by name) bound to the address key `host`.
#[component]
fn HostFilter(id: &'static str, address: Address, host_list: Signal<Vec<Host>>) -> impl IntoView {
    let chosen = address.get(HOST);
    view! {
        <select
            id=id
            class="input select filter-select"
            aria-label="Show containers on this host"
            on:change=move |event| {
                let value = event_target_value(&event);
                address.set(&[(HOST, (!value.is_empty()).then_some(value))]);
            }
        >
            <option value="" selected=move || chosen.with(String::is_empty)>
                "All hosts"
            </option>
            <For each=move || hosts_by_name(host_list.get()) key=|host| host.id.clone() let:host>
                {
                    let id = host.id.clone();
                    view! {
                        <option value=host.id.clone() selected=move || chosen.with(|c| *c == id)>
                            {host.name.clone()}
                        </option>
                    }
                }
            </For>
        </select>
    }
}

/// A select of fixed choices (`(value, label)`, the first the "all" choice with value "") bound to address `key`.
#[component]
fn ChoiceFilter(
    id: &'static str,
    label: &'static str,
    key: &'static str,
    address: Address,
    choices: Vec<(&'static str, String)>,
) -> impl IntoView {
    let chosen = address.get(key);
    view! {
        <select
            id=id
            class="input select filter-select"
            aria-label=label
            on:change=move |event| {
                let value = event_target_value(&event);
                address.set(&[(key, (!value.is_empty()).then_some(value))]);
            }
        >
            {choices
                .into_iter()
                .map(|(value, text)| {
                    view! {
                        <option value=value selected=move || chosen.with(|c| c == value)>
                            {text}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

/// The Managed view: Berth's definitions.
#[component]
fn ManagedView(
    address: Address,
    feed: Feed<Container>,
    hosts: RwSignal<Option<Vec<Host>>>,
    host_list: Signal<Vec<Host>>,
    live: RwSignal<LiveState>,
    modals: Modals,
    on_changed: Callback<Container>,
    reload_hosts: Callback<()>,
) -> impl IntoView {
    let state = Memo::new(move |_| address.query.with(managed_state));
    let filter = Memo::new(move |_| state.with(|(filter, _)| filter.clone()));
    let sort = Memo::new(move |_| state.with(|(_, sort)| *sort));
    Effect::new(move |_| feed.restart(managed_query(filter.get(), sort.get())));

    live.set(LiveState::Connecting);
    // Every definition's changes (the feed is not filtered): a loaded row changes in place; one that starts or
    // stops matching the filter comes or goes.
    api::containers::watch_container_status(None, move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => {
                let matches = filter.with_untracked(|filter| matches(filter, &change.container));
                feed.apply(Delta::Upsert {
                    item: change.container,
                    matches,
                });
            }
            Live::Connected { reconnect } => {
                feed.resync();
                if reconnect {
                    reload_hosts.run(());
                }
            }
            Live::Error(_) | Live::Disconnected { .. } => {}
        }
    });

    let phase = Memo::new(move |_| feed.phase.get());
    let total = Memo::new(move |_| feed.rows.with(|rows| rows.total));
    let nothing_at_all = Memo::new(move |_| {
        feed.rows.with(|rows| rows.total == 0 && rows.is_empty())
            && filter.with(ContainerFilter::is_empty)
    });
    let sort_state = Signal::derive(move || {
        let current = sort.get();
        Sort {
            key: current.by,
            ascending: current.direction.is_ascending(),
        }
    });
    let on_sort = Callback::new(move |next: Sort<ContainerSortKey>| {
        address.set(&[
            (SORT, Some(next.key.as_query().to_owned())),
            (
                DIR,
                (!next.ascending).then(|| SortDirection::Desc.as_query().to_owned()),
            ),
        ]);
    });
    let clear = Callback::new(move |()| {
        address.set(&[(SEARCH, None), (HOST, None), (STATUS, None)]);
    });
    let status_choices = std::iter::once(("", "All statuses".to_owned()))
        .chain(
            InstanceStatus::ALL
                .iter()
                .map(|status| (status.as_str(), status.label().to_owned())),
        )
        .collect::<Vec<_>>();
    let count_text = move || {
        if phase.get() != FeedPhase::Ready {
            return "…".to_owned();
        }
        let total = total.get();
        format!(
            "{} {}",
            grouped(total),
            if total == 1 {
                "container"
            } else {
                "containers"
            }
        )
    };

    Trends::provide();
    let row = move |container: Signal<Container>| {
        view! { <ContainerRow container=container hosts=host_list modals=modals on_changed=on_changed /> }
    };
    let table = move || {
        view! {
            <div class="card table-card">
                <VirtualTable
                    feed=feed
                    scroll_id="containers-scroll"
                    table_id="containers-table"
                    class="containers-table"
                    columns=COLUMNS
                    row_height=ROW_HEIGHT
                    label="Containers"
                    row=row
                    empty=move || {
                        view! {
                            <NoMatchRow
                                columns="10"
                                message=Signal::derive(|| "No container matches these filters.".to_owned())
                                on_clear=clear
                            />
                        }
                    }
                >
                    <ServerSortHeader
                        label="Name"
                        key=ContainerSortKey::Name
                        sort=sort_state
                        on_sort=on_sort
                        class="col-name"
                    />
                    <ServerSortHeader
                        label="Image"
                        key=ContainerSortKey::Image
                        sort=sort_state
                        on_sort=on_sort
                        class="col-image"
                    />
                    <th class="col-host">"Host"</th>
                    <ServerSortHeader
                        label="Status"
                        key=ContainerSortKey::Status
                        sort=sort_state
                        on_sort=on_sort
                        class="col-status"
                    />
                    <th class="col-replicas">"Replicas"</th>
                    <th class="col-ports">"Ports"</th>
                    <th class="col-limits">"Limits"</th>
                    <th class="col-usage" title="CPU (100 % = one core) and memory of the last hour">
                        "Last hour"
                    </th>
                    <ServerSortHeader
                        label="Created"
                        key=ContainerSortKey::Created
                        sort=sort_state
                        on_sort=on_sort
                        class="col-created"
                    />
                    <ActionsHeader label="Actions" />
                </VirtualTable>
            </div>
        }
    };

    view! {
        <div class="toolbar">
            <div class="toolbar-filters">
                <SearchField
                    id="containers-filter"
                    placeholder="Search names and images"
                    label="Search containers"
                    value=address.get(SEARCH)
                    max_length=SEARCH_MAX
                    on_change=Callback::new(move |text: String| {
                        let text = text.trim().to_owned();
                        address.set(&[(SEARCH, (!text.is_empty()).then_some(text))]);
                    })
                />
                <HostFilter id="containers-host-filter" address=address host_list=host_list />
                <ChoiceFilter
                    id="containers-status-filter"
                    label="Show containers with this status"
                    key=STATUS
                    address=address
                    choices=status_choices
                />
            </div>
            <span class="toolbar-count muted" aria-live="polite">
                <Show when=move || feed.loading.get()>
                    <span class="spinner spinner-sm" aria-hidden="true"></span>
                </Show>
                <span id="containers-total" data-total=move || total.get().to_string()>
                    {count_text}
                </span>
            </span>
        </div>
        {move || match phase.get() {
            FeedPhase::Loading => view! { <LoadingCard text="Loading containers…" /> }.into_any(),
            FeedPhase::Failed(error) => view! {
                <LoadFailed
                    what="The containers"
                    error=error
                    on_retry=Callback::new(move |()| {
                        feed.restart(managed_query(filter.get_untracked(), sort.get_untracked()))
                    })
                />
            }
            .into_any(),
            FeedPhase::Ready => {
                if nothing_at_all.get() {
                    view! { <EmptyContainers hosts=hosts modals=modals /> }.into_any()
                } else {
                    table().into_any()
                }
            }
        }}
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
                            <p class="muted">
                                "Containers already running on your hosts are listed under All; adopt one to "
                                "let Berth manage it."
                            </p>
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

/// One `tr.container-row`. The row stays in place while its container changes (live status, answers to
/// actions): every cell reads the row's signal.
#[component]
fn ContainerRow(
    container: Signal<Container>,
    hosts: Signal<Vec<Host>>,
    modals: Modals,
    on_changed: Callback<Container>,
) -> impl IntoView {
    let id = container.with_untracked(|c| c.id.clone());
    let name = move || container.with(|c| c.name.clone());
    let image = move || container.with(|c| c.image.clone());
    let limits = move || container.with(|c| limits_text(&c.resources));
    let created = move || container.with(|c| c.created_at.clone());

    view! {
        <tr class="container-row" data-container-id=id.clone() data-container-name=name>
            <td class="container-name-cell">
                <a class="container-link" href=format!("/containers/{id}") title=name>
                    {name}
                </a>
                <ChangedMarker container=container on_changed=on_changed compact=true />
                <UpdateMarker container=container />
            </td>
            <td class="container-image">
                <span class="mono" title=image>
                    {move || short_image(&image())}
                </span>
            </td>
            <td class="container-hosts">
                <HostLinks container=container />
            </td>
            <td class="container-status-cell">
                <ContainerStatusBadge status=Signal::derive(move || container.with(|c| c.status)) class="container-status" />
                // A second line: each running instance's health check (when it has one), compact.
                <div class="health-line">
                    {move || {
                        container
                            .with(|c| {
                                c.instances
                                    .iter()
                                    .filter_map(|i| {
                                        i.health
                                            .filter(|h| *h != berth_shared::Health::None)
                                            .map(|h| (h, i.health_output.clone(), i.replica))
                                    })
                                    .collect::<Vec<_>>()
                            })
                            .into_iter()
                            .map(|(health, output, replica)| {
                                view! { <HealthBadge health=health output=output replica=replica /> }
                            })
                            .collect_view()
                    }}
                </div>
            </td>
            <td class="container-replicas">
                <ScaleControl container=container on_changed=on_changed />
            </td>
            <td class="container-ports">
                <PortLinks container=container />
            </td>
            <td class="container-limits">
                {move || match limits() {
                    Some(text) => view! { <span>{text}</span> }.into_any(),
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                }}
            </td>
            <td class="container-usage">
                <TrendCell ids=Signal::derive(move || {
                    container
                        .with(|c| {
                            c.instances
                                .iter()
                                .filter(|i| i.docker_id.is_some())
                                .map(|i| i.id.clone())
                                .collect::<Vec<_>>()
                        })
                })
                />
            </td>
            <td class="container-created">{move || view! { <Timestamp value=created() /> }}</td>
            <td class="actions-col">
                <ContainerActions container=container hosts=hosts modals=modals on_changed=on_changed />
            </td>
        </tr>
    }
}

/// The All view: every Docker container on every host.
#[component]
fn AllView(
    address: Address,
    hosts: RwSignal<Option<Vec<Host>>>,
    host_list: Signal<Vec<Host>>,
    live: RwSignal<LiveState>,
    modals: Modals,
) -> impl IntoView {
    let state = Memo::new(move |_| address.query.with(inventory_state));
    let filter = Signal::derive(move || state.with(|(filter, _)| filter.clone()));
    let sort = Signal::derive(move || state.with(|(_, sort)| *sort));
    let on_sort = Callback::new(move |next: DockerContainerSort| {
        address.set(&[
            (SORT, Some(next.by.as_query().to_owned())),
            (
                DIR,
                (next.direction == SortDirection::Desc)
                    .then(|| SortDirection::Desc.as_query().to_owned()),
            ),
        ]);
    });
    let clear = Callback::new(move |()| {
        address.set(&[
            (SEARCH, None),
            (HOST, None),
            (STATE, None),
            (HEALTH, None),
            (MANAGED, None),
            (PROJECT, None),
        ]);
    });
    let on_project = Callback::new(move |project: String| {
        address.set(&[(PROJECT, Some(project))]);
    });
    let state_choices = std::iter::once(("", "All states".to_owned()))
        .chain(STATES.iter().map(|state| (*state, capitalised(state))))
        .collect::<Vec<_>>();
    let health_choices = std::iter::once(("", "Any health".to_owned()))
        .chain(HEALTHS.iter().map(|health| {
            let label = if *health == "none" {
                "No health check".to_owned()
            } else {
                capitalised(health)
            };
            (*health, label)
        }))
        .collect::<Vec<_>>();
    let owner_choices = vec![
        ("", "Any owner".to_owned()),
        ("yes", "Managed by Berth".to_owned()),
        ("no", "Not managed".to_owned()),
    ];
    let empty = move || view! { <EmptyInventory hosts=hosts address=address modals=modals /> };

    view! {
        <InventoryTable
            filter=filter
            sort=sort
            on_sort=on_sort
            hosts=host_list
            live=live
            on_clear=clear
            empty=empty
            on_project=on_project
        >
            <SearchField
                id="inventory-search"
                placeholder="Name, image or label"
                label="Search Docker containers"
                value=address.get(SEARCH)
                max_length=SEARCH_MAX
                on_change=Callback::new(move |text: String| {
                    let text = text.trim().to_owned();
                    address.set(&[(SEARCH, (!text.is_empty()).then_some(text))]);
                })
            />
            <HostFilter id="inventory-host-filter" address=address host_list=host_list />
            <ChoiceFilter
                id="inventory-state-filter"
                label="Show containers in this state"
                key=STATE
                address=address
                choices=state_choices
            />
            <ChoiceFilter
                id="inventory-health-filter"
                label="Show containers with this health"
                key=HEALTH
                address=address
                choices=health_choices
            />
            <ChoiceFilter
                id="inventory-managed-filter"
                label="Managed by Berth or not"
                key=MANAGED
                address=address
                choices=owner_choices
            />
            <ProjectFilter address=address />
        </InventoryTable>
    }
}

/// "Running".
fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The compose project filter (`#inventory-project-filter`): an exact project name; a click on a row's project
/// fills it.
#[component]
fn ProjectFilter(address: Address) -> impl IntoView {
    let project = address.get(PROJECT);
    view! {
        <div class="project-filter">
            <SearchField
                id="inventory-project-filter"
                placeholder="Compose project"
                label="Show the containers of this compose project"
                value=project
                max_length=SEARCH_MAX
                on_change=Callback::new(move |text: String| {
                    let text = text.trim().to_owned();
                    address.set(&[(PROJECT, (!text.is_empty()).then_some(text))]);
                })
            />
        </div>
    }
}

/// No Docker container to list: no host yet, no host answering, or hosts without containers.
#[component]
fn EmptyInventory(
    hosts: RwSignal<Option<Vec<Host>>>,
    address: Address,
    modals: Modals,
) -> impl IntoView {
    let no_hosts = move || hosts.with(|h| h.as_ref().is_some_and(Vec::is_empty));
    let none_up = move || {
        hosts.with(|h| {
            h.as_ref().is_some_and(|list| {
                !list.is_empty() && list.iter().all(|host| host.status != HostStatus::Up)
            })
        })
    };
    let define = move |_| {
        address.set(&[(VIEW, None)]);
        if can(Role::Operator) {
            modals.editing.set(Some(Editing::New(None)));
        }
    };
    move || {
        if no_hosts() {
            view! {
                <div class="card">
                    <EmptyState icon=IconKind::Hosts title="No hosts yet">
                        <p>
                            "This view lists every Docker container on your hosts — Berth's, Compose's and the "
                            "ones started by hand — as soon as a host is added."
                        </p>
                        <div class="empty-state-actions">
                            <a id="inventory-add-host" class="btn btn-primary" href="/hosts">
                                <Icon kind=IconKind::Hosts />
                                <span>"Add a host"</span>
                            </a>
                        </div>
                    </EmptyState>
                </div>
            }
            .into_any()
        } else if none_up() {
            view! {
                <div class="card">
                    <EmptyState icon=IconKind::Hosts title="No host answers">
                        <p>
                            "Berth has not been able to list any host's containers yet: none of your hosts is up. "
                            "Check their status and errors on the Hosts tab; the list fills as soon as one answers."
                        </p>
                        <div class="empty-state-actions">
                            <a id="inventory-check-hosts" class="btn btn-secondary" href="/hosts">
                                <Icon kind=IconKind::Hosts />
                                <span>"Check the hosts"</span>
                            </a>
                        </div>
                    </EmptyState>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="card">
                    <EmptyState icon=IconKind::Containers title="No Docker containers on your hosts">
                        <p>
                            "Containers started with " <code>"docker run"</code> " or Compose appear here by "
                            "themselves, with Berth's own. Define one in Berth to run it on a host that fits."
                        </p>
                        <div class="empty-state-actions">
                            <button
                                id="inventory-new-container"
                                type="button"
                                class="btn btn-primary"
                                disabled=!can(Role::Operator)
                                title=needs_title(Role::Operator)
                                on:click=define
                            >
                                <Icon kind=IconKind::Plus />
                                <span>"New container"</span>
                            </button>
                        </div>
                    </EmptyState>
                </div>
            }
            .into_any()
        }
    }
}
