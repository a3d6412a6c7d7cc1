//! The inventory table (`table#inventory-table`, one `tr.inventory-row[data-id]` per Docker container): every
//! Docker container matching a filter, sorted and paged by the server, virtualized, kept current by the
//! `dockerContainerChanges` feed of the same filter. Each row shows name, host, image, state, Docker's status
//! text, health, the last hour's CPU and memory, ports, age and who owns it (Berth, a compose project); a row whose host does not answer is
//! greyed with when it was last seen. Unmanaged rows have a menu (start, stop, restart, kill, logs, terminal, adopt,
//! remove); managed rows link to their definition. Used by the Containers tab (All) and the host page.

use std::rc::Rc;

use leptos::{html, prelude::*, task::spawn_local};
use leptos_router::hooks::use_navigate;

use super::{
    adopt_dialog::AdoptDialog,
    container_info::{endpoint_address, short_image},
    container_logs::{LogPanel, LogSource},
    dialog::{ConfirmDialog, Pending},
    feed::{Delta, Feed, FeedPhase, Keyed, Query},
    format::short_digest,
    icons::{Icon, IconKind},
    live::LiveState,
    loading::{LoadFailed, LoadingCard},
    menu::{close_on_outside_click, place_under},
    permission::{can, role_needed},
    sort_header::{ServerSortHeader, Sort},
    stats_trend::{TrendCell, Trends},
    table_tools::{ActionsHeader, NoMatchRow},
    terminal::{TerminalDialog, TerminalTarget},
    time::{Timestamp, absolute, relative},
    toast::{Toasts, use_toasts},
    virtual_table::VirtualTable,
};
use crate::api::{
    ApiError, Container, ErrorCode, Host, Live, Role, ServerCode, SortDirection,
    inventory::{
        ChangeKind, DockerAction, DockerContainer, DockerContainerFilter, DockerContainerSort,
        DockerContainerSortKey, DockerPort, docker_container_action, docker_container_count,
        docker_containers, host_docker_containers, remove_docker_container,
        watch_docker_container_changes,
    },
};

/// The row height the CSS gives inventory rows.
const ROW_HEIGHT: f64 = 52.0;
/// Ports shown in a row; the others are counted ("+2").
const PORTS_SHOWN: usize = 2;

impl Keyed for DockerContainer {
    fn key(&self) -> &str {
        &self.id
    }

    /// Live deltas do not carry the image digests (each would cost two lookups per subscriber): a row keeps
    /// those its page brought while it runs the same image.
    fn carry_over(&mut self, older: &Self) {
        if self.update_available.is_none() && self.image_id == older.image_id {
            self.update_available = older.update_available;
            self.latest_digest.clone_from(&older.latest_digest);
            self.image_digest.clone_from(&older.image_digest);
        }
    }
}

/// The list of `filter` in `sort` order, for a [`Feed`]; with a `host`, read through that host
/// (`Host.dockerContainers`).
fn inventory_query(
    filter: DockerContainerFilter,
    sort: DockerContainerSort,
    host: Option<String>,
) -> Query<DockerContainer> {
    let count_filter = filter.clone();
    Query {
        fetch: Rc::new(move |after, first| {
            let filter = filter.clone();
            let host = host.clone();
            Box::pin(async move {
                let first = i64::try_from(first).unwrap_or(i64::MAX);
                match host {
                    Some(host) => {
                        host_docker_containers(&host, &filter, sort, first, after.as_deref())
                            .await?
                            .ok_or_else(|| {
                                ApiError::new(
                                    ErrorCode::Server(ServerCode::NotFound),
                                    "This host was removed.",
                                )
                            })
                    }
                    None => docker_containers(&filter, sort, first, after.as_deref()).await,
                }
            })
        }),
        compare: Rc::new(move |a, b| sort.compare(a, b)),
        count: Rc::new(move || {
            let filter = count_filter.clone();
            Box::pin(async move { docker_container_count(&filter).await })
        }),
    }
}

/// "10,000".
pub fn grouped(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The badge colour of a Docker state: running is up, on its way somewhere is warn, ended badly is down,
/// ended well or never started is neutral (as Berth's own statuses).
pub fn state_tone(state: &str, exit_code: Option<i64>) -> &'static str {
    match state {
        "running" => "up",
        "restarting" | "removing" | "paused" => "warn",
        "exited" if exit_code == Some(0) => "neutral",
        "exited" | "dead" => "down",
        _ => "neutral",
    }
}

/// What a Docker state means, for the badge's tooltip.
fn state_title(state: &str, exit_code: Option<i64>) -> String {
    match (state, exit_code) {
        ("exited", Some(code)) => format!("Exited with code {code}."),
        ("running", _) => "Running.".to_owned(),
        ("created", _) => "Created, never started.".to_owned(),
        ("paused", _) => "Paused: its processes are frozen.".to_owned(),
        ("restarting", _) => "Docker is restarting it (restart policy).".to_owned(),
        ("removing", _) => "Being removed.".to_owned(),
        ("dead", _) => "Dead: Docker could not stop or remove it cleanly.".to_owned(),
        (other, _) => format!("Docker state “{other}”."),
    }
}

/// The badge colour of a health check's verdict.
fn health_tone(health: &str) -> &'static str {
    match health {
        "healthy" => "up",
        "unhealthy" => "down",
        _ => "warn",
    }
}

/// A port as a row shows it (`8080→80`, `53→53/udp`, `80` when only exposed), without IPv4/IPv6 repeats.
fn port_texts(ports: &[DockerPort]) -> Vec<(String, Option<u16>, Option<String>)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for port in ports {
        if !seen.insert((port.public_port, port.private_port, port.protocol.clone())) {
            continue;
        }
        let inside = if port.protocol == "tcp" {
            port.private_port.to_string()
        } else {
            format!("{}/{}", port.private_port, port.protocol)
        };
        let text = match port.public_port {
            Some(public) => format!("{public}→{inside}"),
            None => inside,
        };
        let linkable = port
            .public_port
            .filter(|_| port.protocol == "tcp")
            .and_then(|p| u16::try_from(p).ok());
        let ip = port
            .ip
            .clone()
            .filter(|ip| !ip.is_empty() && ip != "0.0.0.0" && ip != "::");
        out.push((text, linkable, ip));
    }
    out.sort_by_key(|(_, linkable, _)| linkable.is_none());
    out
}

/// The dialogs the rows open (one of each per table).
#[derive(Clone, Copy)]
struct Dialogs {
    adopting: RwSignal<Option<DockerContainer>>,
    logs: RwSignal<Option<DockerContainer>>,
    terminal: RwSignal<Option<DockerContainer>>,
    removing: Pending<DockerContainer>,
}

/// What every row needs.
#[derive(Clone, Copy)]
struct RowContext {
    feed: Feed<DockerContainer>,
    dialogs: Dialogs,
    hosts: Signal<Vec<Host>>,
    hide_host: bool,
    on_project: Option<Callback<String>>,
    toasts: Toasts,
}

/// The inventory table with its toolbar (children are the filters; the count is `#inventory-total`), loading,
/// error and empty states, and its dialogs.
#[component]
pub fn InventoryTable(
    /// The server filter; a change starts from the first page again and subscribes to its deltas.
    #[prop(into)]
    filter: Signal<DockerContainerFilter>,
    #[prop(into)] sort: Signal<DockerContainerSort>,
    on_sort: Callback<DockerContainerSort>,
    /// The hosts (their endpoints make the port links).
    #[prop(into)]
    hosts: Signal<Vec<Host>>,
    /// The page's live indicator.
    live: RwSignal<LiveState>,
    /// Clears the user's filters (the "nothing matches" row).
    on_clear: Callback<()>,
    /// Shown instead of the table when there is no Docker container at all (no filter narrows the list).
    #[prop(into)]
    empty: ViewFn,
    /// One host's page: no host column.
    #[prop(optional)]
    hide_host: bool,
    /// A click on a compose project (filters by it).
    #[prop(optional)]
    on_project: Option<Callback<String>>,
    /// One host's page: the list is read through the host (its filter names the same host).
    #[prop(optional, into)]
    host_scope: Option<String>,
    /// The filters, on the left of the toolbar.
    children: Children,
) -> impl IntoView {
    let feed = Feed::<DockerContainer>::new();
    let filter = Memo::new(move |_| filter.get());
    let sort = Memo::new(move |_| sort.get());
    let scope = StoredValue::new(host_scope);
    Effect::new(move |_| {
        feed.restart(inventory_query(filter.get(), sort.get(), scope.get_value()))
    });
    // One subscription per filter: the effect's owner ends the previous one when the filter changes.
    Effect::new(move |_| {
        let filter = filter.get();
        live.set(LiveState::Connecting);
        watch_docker_container_changes(&filter, move |event| {
            LiveState::follow(live, &event);
            match event {
                Live::Event(change) => feed.apply(match change.kind {
                    ChangeKind::Added => Delta::Added(change.container),
                    ChangeKind::Changed => Delta::Changed(change.container),
                    ChangeKind::Removed => Delta::Removed(change.id),
                }),
                Live::Connected { .. } => feed.resync(),
                Live::Error(_) | Live::Disconnected { .. } => {}
            }
        });
    });

    let toasts = use_toasts();
    let dialogs = Dialogs {
        adopting: RwSignal::new(None),
        logs: RwSignal::new(None),
        terminal: RwSignal::new(None),
        removing: Pending::new(),
    };
    let context = RowContext {
        feed,
        dialogs,
        hosts,
        hide_host,
        on_project,
        toasts,
    };

    let phase = Memo::new(move |_| feed.phase.get());
    let nothing_at_all = Memo::new(move |_| {
        feed.rows.with(|rows| rows.total == 0 && rows.is_empty()) && !filter.with(|f| f.narrows())
    });
    let total = Memo::new(move |_| feed.rows.with(|rows| rows.total));
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
    let sort_state = Signal::derive(move || {
        let current = sort.get();
        Sort {
            key: current.by,
            ascending: current.direction.is_ascending(),
        }
    });
    let on_header = Callback::new(move |next: Sort<DockerContainerSortKey>| {
        on_sort.run(DockerContainerSort {
            by: next.key,
            direction: if next.ascending {
                SortDirection::Asc
            } else {
                SortDirection::Desc
            },
        })
    });
    let columns = if hide_host { 10 } else { 11 };
    Trends::provide_inventory();

    let row =
        move |item: Signal<DockerContainer>| view! { <InventoryRow item=item context=context /> };
    let table = move || {
        view! {
            <div class="card table-card inventory-card">
                <VirtualTable
                    feed=feed
                    scroll_id="inventory-scroll"
                    table_id="inventory-table"
                    class=if hide_host { "inventory-table no-host" } else { "inventory-table" }
                    columns=columns
                    row_height=ROW_HEIGHT
                    label="Docker containers"
                    row=row
                    empty=move || {
                        view! {
                            <NoMatchRow
                                columns=if hide_host { "10" } else { "11" }
                                message=Signal::derive(|| "No Docker container matches these filters.".to_owned())
                                on_clear=on_clear
                            />
                        }
                    }
                >
                    <ServerSortHeader
                        label="Name"
                        key=DockerContainerSortKey::Name
                        sort=sort_state
                        on_sort=on_header
                        class="col-name"
                    />
                    {(!hide_host)
                        .then(|| {
                            view! {
                                <ServerSortHeader
                                    label="Host"
                                    key=DockerContainerSortKey::Host
                                    sort=sort_state
                                    on_sort=on_header
                                    class="col-host"
                                />
                            }
                        })}
                    <ServerSortHeader
                        label="Image"
                        key=DockerContainerSortKey::Image
                        sort=sort_state
                        on_sort=on_header
                        class="col-image"
                    />
                    <ServerSortHeader
                        label="State"
                        key=DockerContainerSortKey::State
                        sort=sort_state
                        on_sort=on_header
                        class="col-state"
                    />
                    <th class="col-status">"Status"</th>
                    <th class="col-health">"Health"</th>
                    <th class="col-usage" title="CPU and memory over the last hour">"Last hour"</th>
                    <th class="col-ports">"Ports"</th>
                    <ServerSortHeader
                        label="Created"
                        key=DockerContainerSortKey::Created
                        sort=sort_state
                        on_sort=on_header
                        class="col-created"
                    />
                    <th class="col-owner">"Owner"</th>
                    <ActionsHeader label="Actions" />
                </VirtualTable>
            </div>
        }
    };

    view! {
        <div class="toolbar inventory-toolbar">
            <div class="toolbar-filters">{children()}</div>
            <span class="toolbar-count muted inventory-count" aria-live="polite">
                <Show when=move || feed.loading.get()>
                    <span class="spinner spinner-sm" aria-hidden="true"></span>
                </Show>
                <span id="inventory-total" data-total=move || total.get().to_string()>
                    {count_text}
                </span>
            </span>
        </div>
        {move || match phase.get() {
            FeedPhase::Loading => view! { <LoadingCard text="Loading containers…" /> }.into_any(),
            FeedPhase::Failed(error) => view! {
                <LoadFailed
                    what="The Docker containers"
                    error=error
                    on_retry=Callback::new(move |()| {
                        feed.restart(inventory_query(
                            filter.get_untracked(),
                            sort.get_untracked(),
                            scope.get_value(),
                        ))
                    })
                />
            }
            .into_any(),
            FeedPhase::Ready => {
                if nothing_at_all.get() { empty.run() } else { table().into_any() }
            }
        }}
        <InventoryDialogs context=context />
    }
}

/// One `tr.inventory-row`: the cells repaint from the row's signal; the actions stay (an open menu too).
#[component]
fn InventoryRow(item: Signal<DockerContainer>, context: RowContext) -> impl IntoView {
    let id = item.with_untracked(|c| c.id.clone());
    view! {
        <tr
            class="inventory-row"
            class:not-current=move || item.with(|c| !c.current)
            class:managed=move || item.with(|c| c.managed)
            data-id=id
            data-name=move || item.with(|c| c.name.clone())
            data-state=move || item.with(|c| c.state.clone())
            data-managed=move || item.with(|c| c.managed.to_string())
            data-current=move || item.with(|c| c.current.to_string())
        >
            {move || item.with(|c| cells(c, context))}
            <td class="actions-col">
                <RowActions item=item context=context />
            </td>
        </tr>
    }
}

/// Every cell but the actions, from one snapshot of the row.
fn cells(c: &DockerContainer, context: RowContext) -> impl IntoView + use<> {
    let name = match &c.container {
        Some(definition) => view! {
            <a
                class="inventory-name inventory-definition-link"
                href=format!("/containers/{}", definition.id)
                title=format!("{} (Berth's container “{}”)", c.name, definition.name)
            >
                {c.name.clone()}
            </a>
        }
        .into_any(),
        None => view! {
            <span class="inventory-name" title=format!("{} · {}", c.name, c.docker_id.chars().take(12).collect::<String>())>
                {c.name.clone()}
            </span>
        }
        .into_any(),
    };
    let host = (!context.hide_host).then(|| {
        view! {
            <td class="inventory-host">
                <a href=format!("/hosts/{}", c.host_id) title=c.host_name.clone()>
                    {c.host_name.clone()}
                </a>
            </td>
        }
    });
    let tone = state_tone(&c.state, c.exit_code);
    let status = if c.current {
        view! {
            <span class="inventory-status-text" title=c.status.clone()>
                {c.status.clone()}
            </span>
        }
        .into_any()
    } else {
        view! {
            <span
                class="inventory-stale"
                title=format!(
                    "Its host does not answer: this is the last known state, seen {}.",
                    absolute(&c.last_seen_at),
                )
            >
                {format!("Last seen {}", relative(&c.last_seen_at))}
            </span>
        }
        .into_any()
    };
    let health = match &c.health {
        Some(health) => view! {
            <span class=format!("badge {} inventory-health", health_tone(health)) data-health=health.clone()>
                {health.clone()}
            </span>
        }
        .into_any(),
        None => view! { <span class="muted" title="No health check">"—"</span> }.into_any(),
    };
    view! {
        <td class="inventory-name-cell">{name}</td>
        {host}
        <td class="inventory-image">
            <span class="mono" title=c.image.clone()>
                {short_image(&c.image)}
            </span>
            {(c.update_available == Some(true)).then(|| {
                let title = format!(
                    "The registry has another image for this tag ({}); this container runs {}.",
                    c.latest_digest.as_deref().map(short_digest).unwrap_or_default(),
                    c.image_digest.as_deref().map(short_digest).unwrap_or_default(),
                );
                view! { <span class="tag tag-update update-marker" title=title>"Update"</span> }
            })}
        </td>
        <td class="inventory-state-cell">
            <span
                class=format!("badge {tone} inventory-state")
                data-state=c.state.clone()
                title=state_title(&c.state, c.exit_code)
            >
                {c.state.clone()}
            </span>
        </td>
        <td class="inventory-status">{status}</td>
        <td class="inventory-health-cell">{health}</td>
        <td class="inventory-usage">
            <TrendCell ids=Signal::stored(vec![c.id.clone()]) />
        </td>
        <td class="inventory-ports">{ports(c, context.hosts)}</td>
        <td class="inventory-created">
            <Timestamp value=c.created_at.clone() />
        </td>
        <td class="inventory-owner">{owner(c, context.on_project)}</td>
    }
}

/// The published ports, TCP ones as links to the host (or the address they are bound to).
fn ports(c: &DockerContainer, hosts: Signal<Vec<Host>>) -> AnyView {
    let list = port_texts(&c.ports);
    if list.is_empty() {
        return view! { <span class="muted">"—"</span> }.into_any();
    }
    let address = hosts.with_untracked(|hosts| {
        hosts
            .iter()
            .find(|host| host.id == c.host_id)
            .map(|host| endpoint_address(&host.endpoint))
    });
    let all = list
        .iter()
        .map(|(text, _, _)| text.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let extra = list.len().saturating_sub(PORTS_SHOWN);
    let shown = list
        .into_iter()
        .take(PORTS_SHOWN)
        .map(|(text, linkable, ip)| {
            let target = ip.or_else(|| address.clone());
            match (linkable, target) {
                (Some(port), Some(target)) => {
                    let url = format!("http://{target}:{port}/");
                    view! {
                        <a class="port-link mono" href=url.clone() target="_blank" rel="noopener noreferrer" title=url>
                            {text}
                        </a>
                    }
                    .into_any()
                }
                _ => view! { <span class="port-text mono">{text}</span> }.into_any(),
            }
        })
        .collect_view();
    view! {
        <span class="inventory-port-list" title=all>
            {shown}
            {(extra > 0).then(|| view! { <span class="muted port-more">{format!("+{extra}")}</span> })}
        </span>
    }
    .into_any()
}

/// Who owns it: Berth (a definition), a compose project, or nobody in particular.
fn owner(c: &DockerContainer, on_project: Option<Callback<String>>) -> AnyView {
    let managed = c.managed.then(|| {
        view! {
            <span class="tag tag-accent inventory-managed" title="Created by Berth: its definition decides what runs">
                "Berth"
            </span>
        }
    });
    let project = c.compose_project.clone().map(|project| {
        let title = match &c.compose_service {
            Some(service) => format!("Compose project “{project}”, service “{service}”"),
            None => format!("Compose project “{project}”"),
        };
        let data = project.clone();
        match on_project {
            Some(on_project) => {
                let chosen = project.clone();
                view! {
                    <button
                        type="button"
                        class="tag inventory-project"
                        data-project=data
                        title=format!("{title}: show only its containers")
                        on:click=move |_| on_project.run(chosen.clone())
                    >
                        {project}
                    </button>
                }
                .into_any()
            }
            None => view! {
                <span class="tag inventory-project" data-project=data title=title>
                    {project}
                </span>
            }
            .into_any(),
        }
    });
    if managed.is_none() && project.is_none() {
        return view! { <span class="muted" title="Not Berth's, not part of a compose project">"—"</span> }
            .into_any();
    }
    view! { <span class="inventory-owner-tags">{managed} {project}</span> }.into_any()
}

/// A managed row's link to its definition, or an unmanaged row's menu.
#[component]
fn RowActions(item: Signal<DockerContainer>, context: RowContext) -> impl IntoView {
    let definition = Memo::new(move |_| item.with(|c| c.container.clone()));
    move || match definition.get() {
        Some(definition) => view! {
            <a
                class="btn btn-ghost btn-sm inventory-definition"
                href=format!("/containers/{}", definition.id)
                title=format!("Managed by Berth: open the container “{}”", definition.name)
            >
                "Definition"
            </a>
        }
        .into_any(),
        None => view! { <RowMenu item=item context=context /> }.into_any(),
    }
}

/// The "…" button of an unmanaged row and its menu.
#[component]
fn RowMenu(item: Signal<DockerContainer>, context: RowContext) -> impl IntoView {
    let open = RwSignal::new(false);
    let placement = RwSignal::new(String::new());
    let wrapper = NodeRef::<html::Div>::new();
    let button_ref = NodeRef::<html::Button>::new();
    let busy = RwSignal::new(None::<DockerAction>);
    let toggle = move |_| {
        if open.get_untracked() {
            open.set(false);
            return;
        }
        if let Some(button) = button_ref.get_untracked() {
            placement.set(place_under(&button, 300.0));
        }
        open.set(true);
    };
    view! {
        <div class="row-menu inventory-actions" node_ref=wrapper>
            <button
                type="button"
                class="icon-button inventory-menu-button"
                node_ref=button_ref
                title="Actions"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                aria-label=move || format!("Actions for {}", item.with(|c| c.name.clone()))
                on:click=toggle
            >
                {move || {
                    if busy.get().is_some() {
                        view! { <span class="spinner spinner-sm" aria-hidden="true"></span> }.into_any()
                    } else {
                        view! { <Icon kind=IconKind::More /> }.into_any()
                    }
                }}
            </button>
            <Show when=move || open.get()>
                <RowMenuList item=item context=context open=open wrapper=wrapper placement=placement busy=busy />
            </Show>
        </div>
    }
}

/// The open menu of a row (closes on a click elsewhere, Escape, scrolling).
#[component]
fn RowMenuList(
    item: Signal<DockerContainer>,
    context: RowContext,
    open: RwSignal<bool>,
    wrapper: NodeRef<html::Div>,
    placement: RwSignal<String>,
    busy: RwSignal<Option<DockerAction>>,
) -> impl IntoView {
    close_on_outside_click(open, wrapper);
    let operator = can(Role::Operator);
    let admin = can(Role::Admin);
    let snapshot = item.get_untracked();
    let current = snapshot.current;
    let running = matches!(snapshot.state.as_str(), "running" | "restarting" | "paused");
    let offline = "Its host does not answer.";
    // Why an engine action is not offered: the role, the host, or the state.
    let refusal = move |needs_running: Option<bool>| -> Option<&'static str> {
        if !operator {
            Some(role_needed(Role::Operator))
        } else if !current {
            Some(offline)
        } else {
            match needs_running {
                Some(true) if !running => Some("It is not running."),
                Some(false) if running => Some("It is running."),
                _ => None,
            }
        }
    };
    let act = move |action: DockerAction| {
        open.set(false);
        perform(context, busy, item.get_untracked(), action);
    };
    let item_button = move |class: &'static str,
                            icon: IconKind,
                            label: &'static str,
                            refused: Option<&'static str>,
                            on_click: Callback<()>| {
        view! {
            <button
                type="button"
                class=format!("menu-item {class}")
                role="menuitem"
                disabled=refused.is_some() || busy.get_untracked().is_some()
                title=refused
                on:click=move |_| on_click.run(())
            >
                <Icon kind=icon />
                <span class="menu-item-label">{label}</span>
            </button>
        }
    };
    view! {
        <div class="menu inventory-menu" role="menu" style=move || placement.get()>
            <div class="menu-header">
                <span class="muted">"Docker container"</span>
                <strong class="inventory-menu-name">{snapshot.name.clone()}</strong>
            </div>
            {item_button(
                "inventory-start",
                IconKind::Play,
                "Start",
                refusal(Some(false)),
                Callback::new(move |()| act(DockerAction::Start)),
            )}
            {item_button(
                "inventory-stop",
                IconKind::Stop,
                "Stop",
                refusal(Some(true)),
                Callback::new(move |()| act(DockerAction::Stop)),
            )}
            {item_button(
                "inventory-restart",
                IconKind::Refresh,
                "Restart",
                refusal(None),
                Callback::new(move |()| act(DockerAction::Restart)),
            )}
            {item_button(
                "inventory-kill",
                IconKind::Close,
                "Kill",
                refusal(Some(true)),
                Callback::new(move |()| act(DockerAction::Kill)),
            )}
            {item_button(
                "inventory-logs",
                IconKind::Terminal,
                "Logs",
                (!current).then_some(offline),
                Callback::new(move |()| {
                    open.set(false);
                    context.dialogs.logs.set(Some(item.get_untracked()));
                }),
            )}
            {item_button(
                "inventory-terminal",
                IconKind::Terminal,
                "Terminal",
                refusal(Some(true)),
                Callback::new(move |()| {
                    open.set(false);
                    context.dialogs.terminal.set(Some(item.get_untracked()));
                }),
            )}
            <div class="menu-separator" role="separator"></div>
            {item_button(
                "inventory-adopt",
                IconKind::Plus,
                "Adopt…",
                (!operator).then(|| role_needed(Role::Operator)),
                Callback::new(move |()| {
                    open.set(false);
                    context.dialogs.adopting.set(Some(item.get_untracked()));
                }),
            )}
            {admin
                .then(|| {
                    item_button(
                        "inventory-remove danger",
                        IconKind::Trash,
                        "Remove…",
                        None,
                        Callback::new(move |()| {
                            open.set(false);
                            context.dialogs.removing.item.set(Some(item.get_untracked()));
                        }),
                    )
                })}
        </div>
    }
}

/// Runs one action on a row's container; the answer replaces the row (its delta follows on the live feed).
fn perform(
    context: RowContext,
    busy: RwSignal<Option<DockerAction>>,
    container: DockerContainer,
    action: DockerAction,
) {
    if busy.get_untracked().is_some() {
        return;
    }
    busy.set(Some(action));
    let toasts = context.toasts;
    let feed = context.feed;
    spawn_local(async move {
        match docker_container_action(&container.id, action).await {
            Ok(updated) => {
                toasts.success(format!(
                    "{}: “{}” is {} now.",
                    action.label(),
                    updated.name,
                    updated.state
                ));
                feed.put(updated);
            }
            Err(error) => toasts.error(format!(
                "Could not {} “{}”: {}",
                action.verb(),
                container.name,
                error.message
            )),
        }
        busy.try_set(None);
    });
}

/// The table's dialogs: adopt, logs, and the remove confirmation.
#[component]
fn InventoryDialogs(context: RowContext) -> impl IntoView {
    let dialogs = context.dialogs;
    let toasts = context.toasts;
    let feed = context.feed;
    let navigate = use_navigate();
    let on_adopted = Callback::new(move |container: Container| {
        dialogs.adopting.set(None);
        toasts.success(format!("Adopted: Berth now manages “{}”.", container.name));
        navigate(&format!("/containers/{}", container.id), Default::default());
    });
    let close_adopt = Callback::new(move |()| dialogs.adopting.set(None));
    let close_logs = Callback::new(move |()| dialogs.logs.set(None));
    let close_terminal = Callback::new(move |()| dialogs.terminal.set(None));
    let confirm_remove = Callback::new(move |()| {
        dialogs.removing.confirm(
            |container: DockerContainer| async move { remove_docker_container(&container.id).await },
            move |container| {
                toasts.success(format!(
                    "Removed “{}” from {}.",
                    container.name, container.host_name
                ));
                feed.forget(&container.id);
            },
        )
    });
    let cancel_remove = Callback::new(move |()| dialogs.removing.cancel());
    view! {
        {move || {
            dialogs
                .adopting
                .get()
                .map(|container| {
                    view! { <AdoptDialog container=container on_close=close_adopt on_adopted=on_adopted /> }
                })
        }}
        {move || {
            dialogs
                .logs
                .get()
                .map(|container| view! { <InventoryLogs container=container on_close=close_logs /> })
        }}
        {move || {
            dialogs
                .terminal
                .get()
                .map(|container| {
                    view! {
                        <TerminalDialog
                            target=TerminalTarget::DockerContainer(container.id.clone())
                            title=format!("{} on {}", container.name, container.host_name)
                            on_close=close_terminal
                        />
                    }
                })
        }}
        {move || {
            dialogs
                .removing
                .item
                .get()
                .map(|container| {
                    let running = container.state == "running";
                    view! {
                        <ConfirmDialog
                            title="Remove this Docker container?"
                            confirm_label="Remove container"
                            danger=true
                            busy=dialogs.removing.busy
                            error=dialogs.removing.error
                            on_confirm=confirm_remove
                            on_cancel=cancel_remove
                        >
                            <p>
                                <strong>"“"{container.name.clone()}"”"</strong>
                                " is removed from " {container.host_name.clone()}
                                ". Its image and named volumes stay."
                            </p>
                            {running
                                .then(|| {
                                    view! {
                                        <p class="muted">"It is running: it is stopped first."</p>
                                    }
                                })}
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// A Docker container's output in a dialog (`#inventory-logs-dialog`, lines in `#inventory-logs`).
#[component]
fn InventoryLogs(container: DockerContainer, on_close: Callback<()>) -> impl IntoView {
    let keydown = window_event_listener(leptos::ev::keydown, move |event| {
        if event.key() == "Escape" {
            on_close.run(());
        }
    });
    on_cleanup(move || keydown.remove());
    let running = container.state == "running";
    let title = format!("{} on {}", container.name, container.host_name);
    view! {
        <div class="modal-backdrop">
            <div
                id="inventory-logs-dialog"
                class="modal modal-wide modal-logs"
                role="dialog"
                aria-modal="true"
                aria-label=format!("Logs of {}", container.name)
            >
                <div class="modal-logs-close">
                    <button
                        type="button"
                        class="icon-button"
                        id="inventory-logs-close"
                        aria-label="Close"
                        on:click=move |_| on_close.run(())
                    >
                        <Icon kind=IconKind::Close />
                    </button>
                </div>
                <LogPanel
                    source=LogSource::DockerContainer(container.id.clone())
                    title=title
                    running=running
                />
            </div>
        </div>
    }
}
