//! Hosts tab (`/hosts`): the Docker engines Berth manages, with live status, sorting, filtering, the add/edit
//! dialog and the row actions (maintenance, refresh, remove).

use std::cmp::Ordering;

use berth_shared::format_bytes;
use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::{self, Host, HostStatus, Live, Role, bytes_u64},
    components::{
        badge::{Badge, Tone},
        data_table::{DataTable, TableRules, TableWords},
        dialog::ConfirmDialog,
        empty_state::EmptyState,
        format::truncate,
        host_form::HostDialog,
        host_status::HostStatusBadge,
        icons::{Icon, IconKind},
        live::{LiveIndicator, LiveState},
        loading::{Latest, ListPhase, ListState, LoadFailed, LoadingCard},
        page_header::PageHeader,
        permission::{can, needs_title},
        sort_header::{Sort, SortHeader},
        table_tools::ActionsHeader,
        toast::use_toasts,
    },
};

/// How much of a host's last error the table shows (the whole text is in the tooltip).
const ERROR_PREVIEW: usize = 60;
/// Columns of the hosts table (for placeholder rows).
const COLUMNS: &str = "9";

/// Which host dialog is open.
#[derive(Clone, Debug, PartialEq)]
enum Editing {
    Add,
    Edit(Host),
}

/// Sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Name,
    Endpoint,
    Status,
    Docker,
    Cpus,
    Memory,
    Images,
    LastError,
}

/// Status order for sorting: working hosts first, then the ones that need a look, then the ones switched off.
fn status_rank(status: HostStatus) -> u8 {
    match status {
        HostStatus::Up => 0,
        HostStatus::Maintenance => 1,
        HostStatus::NonResponsive => 2,
        HostStatus::Installing => 3,
        HostStatus::Unknown => 4,
        HostStatus::Down => 5,
    }
}

/// `20.10.24` as `[20, 10, 24]`, so versions sort as numbers.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().unwrap_or(u64::MAX))
        .collect()
}

fn compare(sort: Sort<SortKey>, a: &Host, b: &Host) -> Ordering {
    let caps = |h: &Host| h.capabilities.clone();
    let ordering = match sort.key {
        SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        SortKey::Endpoint => a.endpoint.cmp(&b.endpoint),
        SortKey::Status => status_rank(a.status).cmp(&status_rank(b.status)),
        SortKey::Docker => caps(a)
            .map(|c| version_key(&c.docker_version))
            .cmp(&caps(b).map(|c| version_key(&c.docker_version))),
        SortKey::Cpus => caps(a).map(|c| c.cpus).cmp(&caps(b).map(|c| c.cpus)),
        SortKey::Memory => caps(a)
            .map(|c| c.memory_bytes)
            .cmp(&caps(b).map(|c| c.memory_bytes)),
        SortKey::Images => a.image_count.cmp(&b.image_count),
        SortKey::LastError => a.last_error.cmp(&b.last_error),
    };
    // Ties keep a stable, readable order whatever the direction.
    sort.direct(ordering)
        .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        .then_with(|| a.id.cmp(&b.id))
}

/// Whether a host matches the filter text (lowercased): name, endpoint, or status label / enum name.
fn matches(host: &Host, query: &str) -> bool {
    let status = host.status.as_str().to_lowercase();
    [
        host.name.to_lowercase(),
        host.endpoint.to_lowercase(),
        host.status.label().to_lowercase(),
        status.replace('_', " "),
        status,
    ]
    .iter()
    .any(|text| text.contains(query))
}

/// Puts a host as the server returned it into the list (or appends it).
fn put_host(hosts: RwSignal<ListState<Host>>, host: Host) {
    hosts.update(|state| state.put(host, |a, b| a.id == b.id));
}

/// The Hosts page.
#[component]
pub fn HostsPage() -> impl IntoView {
    let toasts = use_toasts();
    let hosts = RwSignal::new(ListState::<Host>::Loading);
    let live = RwSignal::new(LiveState::Connecting);
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new(Sort {
        key: SortKey::Name,
        ascending: true,
    });
    let editing = RwSignal::new(None::<Editing>);
    let add_refused = needs_title(Role::Admin);

    // Only the newest request may write the list (events can trigger several in a row).
    let latest = Latest::new();
    let load = move || {
        latest.run(api::hosts(), move |result| {
            hosts.update(|state| state.settle(result));
        });
    };
    load();

    api::watch_host_status(None, move |event| {
        LiveState::follow(live, &event);
        match event {
            Live::Event(change) => {
                // Update the row at once; the re-fetch then brings everything else (it is cheap).
                if hosts.with_untracked(|state| matches!(state, ListState::Loaded(_))) {
                    put_host(
                        hosts,
                        Host {
                            status: change.status,
                            ..change.host
                        },
                    );
                }
                load();
            }
            Live::Connected { reconnect: true } => load(),
            _ => {}
        }
    });

    let phase = Memo::new(move |_| hosts.with(ListState::phase));

    // Removing: the host waiting for confirmation, and the request's state.
    let to_remove = RwSignal::new(None::<Host>);
    let removing = RwSignal::new(false);
    let remove_error = RwSignal::new(None::<String>);
    let confirm_remove = Callback::new(move |()| {
        let Some(host) = to_remove.get_untracked() else {
            return;
        };
        if removing.get_untracked() {
            return;
        }
        removing.set(true);
        remove_error.set(None);
        spawn_local(async move {
            match api::remove_host(&host.id).await {
                Ok(()) => {
                    hosts.update(|state| {
                        if let ListState::Loaded(list) = state {
                            list.retain(|h| h.id != host.id);
                        }
                    });
                    to_remove.set(None);
                    toasts.success(format!("Host “{}” removed.", host.name));
                    load();
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

    let on_saved = Callback::new(move |host: Host| {
        let added = matches!(editing.get_untracked(), Some(Editing::Add));
        editing.set(None);
        let verb = if added { "added" } else { "saved" };
        toasts.success(format!(
            "Host “{}” {verb}: {}.",
            host.name,
            host.status.label().to_lowercase()
        ));
        put_host(hosts, host);
        load();
    });
    let on_close = Callback::new(move |()| editing.set(None));

    let table = move || {
        view! {
            <DataTable
                list=hosts
                filter=filter
                sort=sort
                rules=TableRules { matches, compare, key: |host: &Host| host.id.clone() }
                words=TableWords {
                    filter_id: "hosts-filter",
                    filter_placeholder: "Filter by name, endpoint or status",
                    filter_label: "Filter hosts",
                    one: "host",
                    many: "hosts",
                }
                table_id="hosts-table"
                class="hosts-table"
                columns=COLUMNS
                row=move |host| view! { <HostRow host=host hosts=hosts editing=editing to_remove=to_remove /> }
            >
                <SortHeader label="Name" key=SortKey::Name sort=sort />
                <SortHeader label="Endpoint" key=SortKey::Endpoint sort=sort />
                <SortHeader label="Status" key=SortKey::Status sort=sort />
                <SortHeader label="Docker" key=SortKey::Docker sort=sort />
                <SortHeader label="CPUs" key=SortKey::Cpus sort=sort class="numeric" />
                <SortHeader label="Memory" key=SortKey::Memory sort=sort class="numeric" />
                <SortHeader label="Images" key=SortKey::Images sort=sort class="numeric" />
                <SortHeader label="Last error" key=SortKey::LastError sort=sort />
                <ActionsHeader label="Actions" />
            </DataTable>
        }
    };

    view! {
        <PageHeader
            title="Hosts"
            description="The Docker engines Berth manages, their capabilities and their local images."
        >
            <LiveIndicator state=live />
            <button
                id="host-add"
                type="button"
                class="btn btn-primary"
                disabled=add_refused.is_some()
                title=add_refused
                on:click=move |_| editing.set(Some(Editing::Add))
            >
                <Icon kind=IconKind::Plus />
                <span>"Add host"</span>
            </button>
        </PageHeader>
        {move || match phase.get() {
            ListPhase::Loading => view! { <LoadingCard text="Loading hosts…" /> }.into_any(),
            ListPhase::Failed(error) => view! {
                <LoadFailed
                    what="The hosts"
                    error=error
                    on_retry=Callback::new(move |()| {
                        hosts.set(ListState::Loading);
                        load();
                    })
                />
            }
            .into_any(),
            ListPhase::Empty => view! {
                <div class="card">
                    <EmptyState icon=IconKind::Hosts title="No hosts yet">
                        <p>
                            "Hosts are the Docker engines Berth manages, reached by unix socket, TCP, or TCP with TLS. "
                            "For each host Berth shows whether it is up, its Docker and API version, operating system, "
                            "kernel, architecture, CPUs, memory and storage driver, and the images it holds locally."
                        </p>
                        <div class="status-legend" aria-label="Host statuses">
                            <Badge tone=Tone::Up>{HostStatus::Up.label()}</Badge>
                            <Badge tone=Tone::Down>{HostStatus::NonResponsive.label()}</Badge>
                            <Badge tone=Tone::Warn>{HostStatus::Maintenance.label()}</Badge>
                            <Badge tone=Tone::Neutral>{HostStatus::Down.label()}</Badge>
                        </div>
                        <div class="empty-state-actions">
                            <button
                                id="host-add-first"
                                type="button"
                                class="btn btn-primary"
                                disabled=add_refused.is_some()
                                title=add_refused
                                on:click=move |_| editing.set(Some(Editing::Add))
                            >
                                <Icon kind=IconKind::Plus />
                                <span>"Add your first host"</span>
                            </button>
                        </div>
                    </EmptyState>
                </div>
            }
            .into_any(),
            ListPhase::List => table().into_any(),
        }}
        {move || {
            editing
                .get()
                .map(|mode| {
                    let host = match mode {
                        Editing::Add => None,
                        Editing::Edit(host) => Some(host),
                    };
                    view! { <HostDialog host=host on_saved=on_saved on_close=on_close /> }
                })
        }}
        {move || {
            to_remove
                .get()
                .map(|host| {
                    view! {
                        <ConfirmDialog
                            title="Remove this host?"
                            confirm_label="Remove host"
                            danger=true
                            busy=removing
                            error=remove_error
                            on_confirm=confirm_remove
                            on_cancel=cancel_remove
                        >
                            <p>
                                "Berth forgets "<strong>"“"{host.name.clone()}"”"</strong>" ("
                                <code>{host.endpoint.clone()}</code>
                                "). The engine, its containers and its images are left as they are."
                            </p>
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// One `tr.host-row`. The row stays in place while its host changes (live status, re-fetches): every cell
/// reads the host from the list.
#[component]
fn HostRow(
    host: Host,
    hosts: RwSignal<ListState<Host>>,
    editing: RwSignal<Option<Editing>>,
    to_remove: RwSignal<Option<Host>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let id = host.id.clone();
    let current = {
        let id = id.clone();
        Memo::new(move |previous: Option<&Host>| {
            hosts
                .with(|state| state.items().iter().find(|h| h.id == id).cloned())
                .or_else(|| previous.cloned())
                .unwrap_or_else(|| host.clone())
        })
    };
    let maintenance_busy = RwSignal::new(false);
    let refresh_busy = RwSignal::new(false);
    let admin = can(Role::Admin);
    let operator = can(Role::Operator);

    let toggle_maintenance = move |_| {
        if maintenance_busy.get_untracked() {
            return;
        }
        let host = current.get_untracked();
        let on = !host.maintenance;
        maintenance_busy.set(true);
        spawn_local(async move {
            match api::set_host_maintenance(&host.id, on).await {
                Ok(updated) => {
                    toasts.success(if on {
                        format!(
                            "“{}” is in maintenance: nothing new is scheduled on it.",
                            updated.name
                        )
                    } else {
                        format!("“{}” is out of maintenance.", updated.name)
                    });
                    put_host(hosts, updated);
                }
                Err(error) => toasts.error(format!(
                    "Could not change maintenance of “{}”: {}",
                    host.name, error.message
                )),
            }
            maintenance_busy.set(false);
        });
    };
    let refresh = move |_| {
        if refresh_busy.get_untracked() {
            return;
        }
        let host = current.get_untracked();
        refresh_busy.set(true);
        spawn_local(async move {
            match api::refresh_host(&host.id).await {
                Ok(updated) => {
                    toasts.success(format!(
                        "“{}” checked: {}.",
                        updated.name,
                        updated.status.label().to_lowercase()
                    ));
                    put_host(hosts, updated);
                }
                Err(error) => toasts.error(format!(
                    "Could not refresh “{}”: {}",
                    host.name, error.message
                )),
            }
            refresh_busy.set(false);
        });
    };

    let name = move || current.with(|h| h.name.clone());
    let caps = move |pick: fn(&api::HostCapabilities) -> String| {
        current.with(|h| h.capabilities.as_ref().map(pick))
    };
    let dash = || view! { <span class="muted">"—"</span> };
    let maintenance = move || current.with(|h| h.maintenance);
    let href = format!("/hosts/{id}");

    view! {
        <tr
            class="host-row"
            class:in-maintenance=maintenance
            data-host-id=id.clone()
            data-host-name=name
        >
            <td class="host-name-cell">
                <a class="host-link" href=href title=name>
                    {name}
                </a>
                {move || {
                    current
                        .with(|h| h.tls)
                        .then(|| {
                            view! {
                                <span class="tls-mark" title="Reached over TLS">
                                    <Icon kind=IconKind::Lock />
                                    <span class="visually-hidden">"TLS"</span>
                                </span>
                            }
                        })
                }}
            </td>
            <td class="host-endpoint">
                <span class="mono" title=move || current.with(|h| h.endpoint.clone())>
                    {move || current.with(|h| h.endpoint.clone())}
                </span>
            </td>
            <td class="host-status-cell">
                <HostStatusBadge status=Signal::derive(move || current.with(|h| h.status)) />
            </td>
            <td class="host-docker">
                {move || caps(|c| c.docker_version.clone()).map_or_else(|| dash().into_any(), |v| v.into_any())}
            </td>
            <td class="numeric host-cpus">
                {move || caps(|c| c.cpus.to_string()).map_or_else(|| dash().into_any(), |v| v.into_any())}
            </td>
            <td class="numeric host-memory">
                {move || {
                    caps(|c| format_bytes(bytes_u64(c.memory_bytes)))
                        .map_or_else(|| dash().into_any(), |v| v.into_any())
                }}
            </td>
            <td class="numeric host-image-count">{move || current.with(|h| h.image_count)}</td>
            <td class="host-error">
                {move || match current.with(|h| h.last_error.clone()).filter(|e| !e.trim().is_empty()) {
                    Some(error) => view! {
                        <span class="error-text" title=error.clone()>
                            {truncate(&error, ERROR_PREVIEW)}
                        </span>
                    }
                    .into_any(),
                    None => dash().into_any(),
                }}
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    {admin.then(|| view! {
                    <button
                        type="button"
                        class="icon-button host-edit"
                        title="Edit"
                        aria-label=move || format!("Edit host {}", name())
                        on:click=move |_| editing.set(Some(Editing::Edit(current.get_untracked())))
                    >
                        <Icon kind=IconKind::Edit />
                    </button>
                    <button
                        type="button"
                        class="icon-button host-maintenance"
                        class:active=maintenance
                        aria-pressed=move || maintenance().to_string()
                        title=move || if maintenance() { "End maintenance" } else { "Start maintenance" }
                        aria-label=move || {
                            if maintenance() {
                                format!("End maintenance of {}", name())
                            } else {
                                format!("Start maintenance of {}", name())
                            }
                        }
                        disabled=move || maintenance_busy.get()
                        on:click=toggle_maintenance
                    >
                        {move || {
                            if maintenance_busy.get() {
                                view! { <span class="spinner spinner-sm" aria-hidden="true"></span> }.into_any()
                            } else {
                                view! { <Icon kind=IconKind::Wrench /> }.into_any()
                            }
                        }}
                    </button>
                    })}
                    {operator.then(|| view! {
                    <button
                        type="button"
                        class="icon-button host-refresh"
                        title="Refresh: check the engine, its capabilities and images now"
                        aria-label=move || format!("Refresh host {}", name())
                        disabled=move || refresh_busy.get()
                        on:click=refresh
                    >
                        {move || {
                            if refresh_busy.get() {
                                view! { <span class="spinner spinner-sm" aria-hidden="true"></span> }.into_any()
                            } else {
                                view! { <Icon kind=IconKind::Refresh /> }.into_any()
                            }
                        }}
                    </button>
                    })}
                    {admin.then(|| view! {
                    <button
                        type="button"
                        class="icon-button danger host-remove"
                        title="Remove"
                        aria-label=move || format!("Remove host {}", name())
                        on:click=move |_| to_remove.set(Some(current.get_untracked()))
                    >
                        <Icon kind=IconKind::Trash />
                    </button>
                    })}
                </div>
            </td>
        </tr>
    }
}
