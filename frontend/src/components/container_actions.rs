//! What can be done to a container: Run (a menu: any host, or a host by name), Stop, Restart, Edit and Delete as
//! buttons ([`ContainerActions`]), the "changed since start" marker with Apply now ([`ChangedMarker`]), and the
//! dialogs Edit and Delete open ([`ContainerModals`], one per page). Mutations answer once the change is
//! recorded; the status then arrives on the page's live feed.

use std::future::Future;

use leptos::{html, prelude::*, task::spawn_local};

use super::{
    container_form::ContainerDialog,
    container_info::hosts_by_name,
    dialog::ConfirmDialog,
    icons::{Icon, IconKind},
    menu::{close_on_outside_click, place_under},
    permission::can,
    toast::{Toasts, use_toasts},
};
use crate::api::{
    self, ApiError, Container, Host, HostStatus, Role,
    containers::{Lifecycle, container_lifecycle, run_container},
};

/// Which container dialog is open.
#[derive(Clone, Debug, PartialEq)]
pub enum Editing {
    /// A new definition, its image prefilled when given (the "Run…" action of a registry's tag).
    New(Option<String>),
    Edit(Box<Container>),
}

/// The dialogs of a page's containers: the one being edited (or a new one) and the one waiting for a delete
/// confirmation.
#[derive(Clone, Copy)]
pub struct Modals {
    pub editing: RwSignal<Option<Editing>>,
    pub deleting: RwSignal<Option<Container>>,
}

impl Default for Modals {
    fn default() -> Self {
        Self::new()
    }
}

impl Modals {
    pub fn new() -> Self {
        Self {
            editing: RwSignal::new(None),
            deleting: RwSignal::new(None),
        }
    }
}

/// The edit dialog and the delete confirmation, when open.
#[component]
pub fn ContainerModals(
    modals: Modals,
    #[prop(into)] hosts: Signal<Vec<Host>>,
    /// A container was created or saved (as the server answered).
    on_saved: Callback<Container>,
    on_deleted: Callback<Container>,
) -> impl IntoView {
    let toasts = use_toasts();
    let deleting = RwSignal::new(false);
    let delete_error = RwSignal::new(None::<String>);
    let saved = Callback::new(move |container: Container| {
        let created = matches!(modals.editing.get_untracked(), Some(Editing::New(_)));
        modals.editing.set(None);
        toasts.success(if created {
            format!("Container “{}” created. Run it when you are ready.", container.name)
        } else if container.changed_since_start {
            format!(
                "Container “{}” saved. Apply it to restart the running instances with the new definition.",
                container.name
            )
        } else {
            format!("Container “{}” saved.", container.name)
        });
        on_saved.run(container);
    });
    let close = Callback::new(move |()| modals.editing.set(None));
    let confirm_delete = Callback::new(move |()| {
        let Some(container) = modals.deleting.get_untracked() else {
            return;
        };
        if deleting.get_untracked() {
            return;
        }
        deleting.set(true);
        delete_error.set(None);
        spawn_local(async move {
            match api::containers::delete_container(&container.id).await {
                Ok(()) => {
                    modals.deleting.set(None);
                    toasts.success(format!("Container “{}” deleted.", container.name));
                    on_deleted.run(container);
                }
                Err(error) => delete_error.set(Some(error.message)),
            }
            deleting.try_set(false);
        });
    });
    let cancel_delete = Callback::new(move |()| {
        if !deleting.get_untracked() {
            modals.deleting.set(None);
            delete_error.set(None);
        }
    });

    view! {
        {move || {
            modals
                .editing
                .get()
                .map(|mode| {
                    let (container, image) = match mode {
                        Editing::New(image) => (None, image),
                        Editing::Edit(container) => (Some(*container), None),
                    };
                    view! {
                        <ContainerDialog
                            container=container
                            image=image
                            hosts=hosts
                            on_saved=saved
                            on_close=close
                        />
                    }
                })
        }}
        {move || {
            modals
                .deleting
                .get()
                .map(|container| {
                    let active = container.is_active();
                    view! {
                        <ConfirmDialog
                            title="Delete this container?"
                            confirm_label="Delete container"
                            danger=true
                            busy=deleting
                            error=delete_error
                            on_confirm=confirm_delete
                            on_cancel=cancel_delete
                        >
                            <p>
                                "Berth forgets the definition of "<strong>"“"{container.name.clone()}"”"</strong>
                                " and removes its Docker containers from the hosts. Images stay."
                            </p>
                            {active
                                .then(|| {
                                    view! {
                                        <p class="muted">
                                            "It is running: stop it first, or the server refuses to delete it."
                                        </p>
                                    }
                                })}
                        </ConfirmDialog>
                    }
                })
        }}
    }
}

/// Runs one container mutation with a busy marker and a toast; the answer goes to `on_changed`.
fn perform(
    toasts: Toasts,
    busy: RwSignal<Option<&'static str>>,
    which: &'static str,
    request: impl Future<Output = Result<Container, ApiError>> + 'static,
    done: impl FnOnce(&Container) -> String + 'static,
    on_changed: Callback<Container>,
) {
    if busy.get_untracked().is_some() {
        return;
    }
    busy.set(Some(which));
    spawn_local(async move {
        match request.await {
            Ok(container) => {
                toasts.success(done(&container));
                on_changed.run(container);
            }
            Err(error) => toasts.error(format!("Could not {which}: {}", error.message)),
        }
        busy.try_set(None);
    });
}

/// Runs a container (on `host`, else its pinned host, else where the scheduler says).
fn run(
    toasts: Toasts,
    busy: RwSignal<Option<&'static str>>,
    container: Container,
    host: Option<Host>,
    on_changed: Callback<Container>,
) {
    let host_id = host.as_ref().map(|h| h.id.clone());
    let place = match (&host, &container.host) {
        (Some(host), _) => format!("on “{}”", host.name),
        (None, Some(pinned)) => format!("on its host “{}”", pinned.name),
        (None, None) => "on a host Berth picks".to_owned(),
    };
    let name = container.name.clone();
    let verb = if container.is_active() {
        "Applying the current definition to"
    } else {
        "Starting"
    };
    perform(
        toasts,
        busy,
        "run",
        async move { run_container(&container.id, host_id.as_deref()).await },
        move |_| format!("{verb} “{name}” {place}…"),
        on_changed,
    );
}

/// The buttons of a container: Run (menu), Stop, Restart, Edit, Delete. `labelled` shows text buttons (a page
/// header); otherwise icon buttons (a table row).
#[component]
pub fn ContainerActions(
    #[prop(into)] container: Signal<Container>,
    #[prop(into)] hosts: Signal<Vec<Host>>,
    modals: Modals,
    on_changed: Callback<Container>,
    #[prop(optional)] labelled: bool,
) -> impl IntoView {
    if !can(Role::Operator) {
        return ().into_any();
    }
    let toasts = use_toasts();
    let busy = RwSignal::new(None::<&'static str>);
    let name = move || container.with(|c| c.name.clone());
    let active = move || container.with(Container::is_active);
    let lifecycle = move |action: Lifecycle| {
        let current = container.get_untracked();
        let (which, verb) = match action {
            Lifecycle::Stop => ("stop", "Stopping"),
            Lifecycle::Restart => ("restart", "Restarting"),
            Lifecycle::Kill => ("kill", "Killing"),
        };
        let name = current.name.clone();
        perform(
            toasts,
            busy,
            which,
            async move { container_lifecycle(&current.id, action).await },
            move |_| format!("{verb} “{name}”…"),
            on_changed,
        );
    };
    let on_run = Callback::new(move |host: Option<Host>| {
        run(toasts, busy, container.get_untracked(), host, on_changed)
    });

    let button = move |class: &'static str,
                       which: &'static str,
                       label: &'static str,
                       icon: IconKind,
                       enabled: Signal<bool>,
                       on_click: Callback<()>| {
        let class = if labelled && class.ends_with(" danger") {
            format!("btn btn-danger-ghost {class}")
        } else if labelled {
            format!("btn btn-secondary {class}")
        } else {
            format!("icon-button {class}")
        };
        view! {
            <button
                type="button"
                class=class
                title=label
                aria-label=move || format!("{label} {}", name())
                disabled=move || busy.get().is_some() || !enabled.get()
                on:click=move |_| on_click.run(())
            >
                {move || {
                    if busy.get() == Some(which) {
                        view! { <span class="spinner spinner-sm" aria-hidden="true"></span> }.into_any()
                    } else {
                        view! { <Icon kind=icon /> }.into_any()
                    }
                }}
                {labelled.then_some(view! { <span>{label}</span> })}
            </button>
        }
    };
    let always = Signal::derive(|| true);
    let stoppable = Signal::derive(move || {
        active() || container.with(|c| c.desired_state == berth_shared::DesiredState::Running)
    });

    view! {
        <div class="row-actions container-actions" class:labelled=labelled>
            <RunMenu container=container hosts=hosts busy=busy labelled=labelled on_run=on_run />
            {button(
                "container-stop",
                "stop",
                "Stop",
                IconKind::Stop,
                stoppable,
                Callback::new(move |()| lifecycle(Lifecycle::Stop)),
            )}
            {button(
                "container-restart",
                "restart",
                "Restart",
                IconKind::Refresh,
                Signal::derive(active),
                Callback::new(move |()| lifecycle(Lifecycle::Restart)),
            )}
            {labelled
                .then(|| {
                    button(
                        "container-kill danger",
                        "kill",
                        "Kill",
                        IconKind::Close,
                        Signal::derive(active),
                        Callback::new(move |()| lifecycle(Lifecycle::Kill)),
                    )
                })}
            {button(
                "container-edit",
                "edit",
                "Edit",
                IconKind::Edit,
                always,
                Callback::new(move |()| modals.editing.set(Some(Editing::Edit(Box::new(container.get_untracked()))))),
            )}
            {button(
                "container-delete danger",
                "delete",
                "Delete",
                IconKind::Trash,
                always,
                Callback::new(move |()| modals.deleting.set(Some(container.get_untracked()))),
            )}
        </div>
    }
    .into_any()
}

/// The Run button and its menu: "Any host" (or the pinned host), then every host by name.
#[component]
fn RunMenu(
    container: Signal<Container>,
    hosts: Signal<Vec<Host>>,
    busy: RwSignal<Option<&'static str>>,
    labelled: bool,
    on_run: Callback<Option<Host>>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let placement = RwSignal::new(String::new());
    let wrapper = NodeRef::<html::Div>::new();
    let button_ref = NodeRef::<html::Button>::new();
    close_on_outside_click(open, wrapper);

    let sorted_hosts = move || hosts_by_name(hosts.get());
    let toggle = move |_| {
        if open.get_untracked() {
            open.set(false);
            return;
        }
        if let Some(button) = button_ref.get_untracked() {
            // Header, "any host", separator and one row per host.
            let rows = hosts.with_untracked(Vec::len) as f64;
            placement.set(place_under(&button, 96.0 + 36.0 * rows));
        }
        open.set(true);
    };
    let choose = move |host: Option<Host>| {
        open.set(false);
        on_run.run(host);
    };
    let any_label = move || {
        container.with(|c| match &c.host {
            Some(pinned) => format!("Its host, “{}”", pinned.name),
            None => "Any host".to_owned(),
        })
    };
    let class = if labelled {
        "btn btn-primary container-run"
    } else {
        "icon-button container-run"
    };

    view! {
        <div class="run-menu" node_ref=wrapper>
            <button
                type="button"
                class=class
                title="Run"
                node_ref=button_ref
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                aria-label=move || format!("Run {}", container.with(|c| c.name.clone()))
                disabled=move || busy.get().is_some()
                on:click=toggle
            >
                {move || {
                    if busy.get() == Some("run") {
                        view! { <span class="spinner spinner-sm" aria-hidden="true"></span> }.into_any()
                    } else {
                        view! { <Icon kind=IconKind::Play /> }.into_any()
                    }
                }}
                {labelled.then_some(view! { <span>"Run"</span> })}
            </button>
            <Show when=move || open.get()>
                <div class="menu run-menu-list" role="menu" style=move || placement.get()>
                    <div class="menu-header">
                        <span class="muted">
                            {move || {
                                if container.with(Container::is_active) {
                                    "Run again (applies the current definition) on"
                                } else {
                                    "Run on"
                                }
                            }}
                        </span>
                    </div>
                    <button type="button" class="menu-item run-any" role="menuitem" on:click=move |_| choose(None)>
                        <Icon kind=IconKind::Play />
                        <span>{any_label}</span>
                    </button>
                    <div class="menu-separator" role="separator"></div>
                    <For each=sorted_hosts key=|host| host.id.clone() let:host>
                        {
                            let note = (host.status != HostStatus::Up).then(|| host.status.label());
                            let name = host.name.clone();
                            let data_name = name.clone();
                            view! {
                                <button
                                    type="button"
                                    class="menu-item run-on"
                                    role="menuitem"
                                    data-host-name=data_name
                                    on:click=move |_| choose(Some(host.clone()))
                                >
                                    <Icon kind=IconKind::Hosts />
                                    <span class="menu-item-label">{name}</span>
                                    {note.map(|note| view! { <span class="menu-item-note">{note}</span> })}
                                </button>
                            }
                        }
                    </For>
                    <Show when=move || hosts.with(Vec::is_empty)>
                        <p class="menu-empty muted">"No hosts yet: add one on the Hosts tab."</p>
                    </Show>
                </div>
            </Show>
        </div>
    }
}

/// "Changed since start" with Apply now (`button.container-apply`), when a running instance has an older
/// definition.
#[component]
pub fn ChangedMarker(
    #[prop(into)] container: Signal<Container>,
    on_changed: Callback<Container>,
    /// Short words (a table row): "Changed" and "Apply".
    #[prop(optional)]
    compact: bool,
) -> impl IntoView {
    let toasts = use_toasts();
    let busy = RwSignal::new(None::<&'static str>);
    let operator = can(Role::Operator);
    view! {
        <Show when=move || container.with(|c| c.changed_since_start)>
            <span
                class="changed-marker"
                title="A running instance was started from an older version of this definition."
            >
                <span class="tag tag-warn">{if compact { "Changed" } else { "Changed since start" }}</span>
                <Show when=move || operator>
                    <button
                        type="button"
                        class="btn btn-ghost btn-sm container-apply"
                        disabled=move || busy.get().is_some()
                        on:click=move |_| run(toasts, busy, container.get_untracked(), None, on_changed)
                    >
                        {move || match (busy.get().is_some(), compact) {
                            (true, _) => "Applying…",
                            (false, true) => "Apply",
                            (false, false) => "Apply now",
                        }}
                    </button>
                </Show>
            </span>
        </Show>
    }
}
