//! The app: session state, routes, and the shell (top bar, tabs, user menu) around the logged-in pages.

use leptos::{html, prelude::*, task::spawn_local};
use leptos_router::{
    Lazy, NavigateOptions,
    components::{Outlet, ParentRoute, Redirect, Route, Router, Routes},
    hooks::{use_location, use_navigate},
    path,
};

use crate::{
    api::{self, ApiError, CurrentUser, Role},
    components::{
        badge::{Badge, Tone},
        icons::{Icon, IconKind},
        menu::close_on_outside_click,
        permission::{can, provide_role},
        toast::{ToastRegion, Toasts, use_toasts},
    },
    pages::{
        account::ChangePasswordDialog, alerts::watch_open_alert_count, login::LoginPage,
        not_found::NotFoundPage,
    },
    routes,
};

/// Where the app goes after login and from `/`.
pub const HOME: &str = "/containers";

/// The browser's session: `Some` once `me` or `login` proved it, `None` before and after.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: RwSignal<Option<CurrentUser>>,
}

/// The session provided by [`App`].
pub fn use_session() -> Session {
    use_context::<Session>().unwrap_or_else(|| Session {
        user: RwSignal::new(None),
    })
}

/// Navigation options that replace the current history entry (redirects should not trap the Back button).
pub fn replace() -> NavigateOptions {
    NavigateOptions {
        replace: true,
        ..NavigateOptions::default()
    }
}

/// The root component.
#[component]
pub fn App() -> impl IntoView {
    provide_context(Session {
        user: RwSignal::new(None),
    });
    Toasts::provide();
    view! {
        <Router>
            <UnauthenticatedRedirect />
            <Routes fallback=|| view! { <NotFoundPage /> }>
                <Route path=path!("/login") view=LoginPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=|| view! { <Redirect path=HOME options=replace() /> } />
                    <Route path=path!("containers") view={Lazy::<routes::Containers>::new()} />
                    <Route path=path!("containers/:id") view={Lazy::<routes::ContainerDetail>::new()} />
                    <Route path=path!("storage") view={Lazy::<routes::Storage>::new()} />
                    <Route path=path!("storage/registries/:id") view={Lazy::<routes::RegistryDetail>::new()} />
                    <Route path=path!("hosts") view={Lazy::<routes::Hosts>::new()} />
                    <Route path=path!("hosts/:id") view={Lazy::<routes::HostDetail>::new()} />
                    <Route path=path!("alerts") view={Lazy::<routes::Alerts>::new()} />
                    <Route path=path!("tokens") view={Lazy::<routes::Tokens>::new()} />
                    <Route path=path!("users") view={Lazy::<routes::Users>::new()} />
                    <Route path=path!("events") view={Lazy::<routes::Events>::new()} />
                    <Route path=path!("*any") view=NotFoundPage />
                </ParentRoute>
            </Routes>
            <ToastRegion />
        </Router>
    }
}

/// Registers the API's unauthenticated handler: forget the session and go to the login page,
/// remembering where the user was.
#[component]
fn UnauthenticatedRedirect() -> impl IntoView {
    let navigate = use_navigate();
    let location = use_location();
    let session = use_session();
    api::set_unauthenticated_handler(move || {
        let Some(path) = location.pathname.try_get_untracked() else {
            return;
        };
        if path == "/login" {
            return;
        }
        let search = location.search.try_get_untracked().unwrap_or_default();
        let here = if search.is_empty() {
            path
        } else {
            format!("{path}?{}", search.trim_start_matches('?'))
        };
        let next = String::from(js_sys::encode_uri_component(&here));
        navigate(&format!("/login?next={next}"), replace());
        session.user.set(None);
    });
}

/// The logged-in frame. Renders the pages only with a [`CurrentUser`]: taken from the session, or fetched
/// with `me` (which sends the user to the login page when there is no session).
#[component]
fn Shell() -> impl IntoView {
    let session = use_session();
    let load_error = RwSignal::new(None::<ApiError>);
    let load = move || {
        load_error.set(None);
        spawn_local(async move {
            match api::me().await {
                Ok(user) => session.user.set(Some(user)),
                // The unauthenticated handler is already on its way to the login page.
                Err(error) if error.is_unauthenticated() => {}
                Err(error) => load_error.set(Some(error)),
            }
        });
    };
    if session.user.get_untracked().is_none() {
        load();
    }
    // Re-render the frame only when the user really changes, not on every write to the session.
    let user = Memo::new(move |_| session.user.get());
    move || match user.get() {
        Some(user) => view! { <Layout user=user /> }.into_any(),
        None => match load_error.get() {
            Some(error) => view! {
                <div class="boot">
                    <div class="card boot-card">
                        <h1>"Berth could not load your account"</h1>
                        <p class="muted">{error.message}</p>
                        <button type="button" class="btn btn-primary" on:click=move |_| load()>
                            "Try again"
                        </button>
                    </div>
                </div>
            }
            .into_any(),
            None => view! {
                <div class="boot" aria-busy="true">
                    <span class="spinner" aria-hidden="true"></span>
                    <span class="muted">"Loading Berth…"</span>
                </div>
            }
            .into_any(),
        },
    }
}

/// Top bar with the tabs and the user menu, and the current page under it.
#[component]
fn Layout(user: CurrentUser) -> impl IntoView {
    provide_context(user.clone());
    provide_role(user.role());
    let admin = can(Role::Admin);
    let open_alerts = watch_open_alert_count();
    view! {
        <div class="app">
            <header class="topbar">
                <a class="brand" href=HOME>
                    <span class="brand-mark">
                        <Icon kind=IconKind::Logo />
                    </span>
                    <span class="brand-name">"Berth"</span>
                </a>
                <nav id="tabs" class="tabs" aria-label="Main">
                    <Tab id="tab-containers" href="/containers" icon=IconKind::Containers label="Containers" />
                    <Tab id="tab-storage" href="/storage" icon=IconKind::Storage label="Storage" />
                    <Tab id="tab-hosts" href="/hosts" icon=IconKind::Hosts label="Hosts" />
                    <Tab id="tab-alerts" href="/alerts" icon=IconKind::Bell label="Alerts" count=open_alerts />
                    {admin.then(|| view! {
                        <Tab id="tab-users" href="/users" icon=IconKind::Users label="Users" />
                        <Tab id="tab-events" href="/events" icon=IconKind::Events label="Events" />
                    })}
                </nav>
                <div class="topbar-spacer"></div>
                <UserMenu user=user />
            </header>
            <main class="content">
                <Outlet />
            </main>
        </div>
    }
}

/// One tab of the top bar; `active` (and `aria-current`) while the current path is in its section. A `count`
/// above zero shows as a red pill (`#ID-count`, the open alerts).
#[component]
fn Tab(
    id: &'static str,
    href: &'static str,
    icon: IconKind,
    label: &'static str,
    #[prop(optional, into)] count: Option<Signal<Option<i64>>>,
) -> impl IntoView {
    let pathname = use_location().pathname;
    let active = Memo::new(move |_| {
        pathname.with(|path| path == href || path.starts_with(&format!("{href}/")))
    });
    view! {
        <a
            id=id
            href=href
            class="tab"
            class:active=move || active.get()
            aria-current=move || active.get().then_some("page")
        >
            <Icon kind=icon />
            <span>{label}</span>
            {count.map(|count| {
                let shown = move || count.get().filter(|n| *n > 0);
                view! {
                    <Show when=move || shown().is_some()>
                        <span
                            id=format!("{id}-count")
                            class="tab-count"
                            data-count=move || shown().unwrap_or(0).to_string()
                            title=move || format!("{} open", shown().unwrap_or(0))
                        >
                            {move || shown().unwrap_or(0)}
                        </span>
                    </Show>
                }
            })}
        </a>
    }
}

/// The user button (username and role) and its menu: API tokens, Log out.
#[component]
fn UserMenu(user: CurrentUser) -> impl IntoView {
    let open = RwSignal::new(false);
    let logging_out = RwSignal::new(false);
    let wrapper = NodeRef::<html::Div>::new();
    let session = use_session();
    let toasts = use_toasts();
    let navigate = use_navigate();
    let pathname = use_location().pathname;

    // Close on navigation, on a click elsewhere, and on Escape.
    Effect::new(move |_| {
        pathname.track();
        open.set(false);
    });
    close_on_outside_click(open, wrapper);

    let log_out = move |_| {
        if logging_out.get_untracked() {
            return;
        }
        logging_out.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::logout().await {
                Err(error) if !error.is_unauthenticated() => {
                    toasts.error(format!("Could not log out: {}", error.message));
                    logging_out.set(false);
                }
                // Logged out, or the session was already gone.
                _ => {
                    navigate("/login", replace());
                    session.user.set(None);
                }
            }
        });
    };

    let username = user.username().to_owned();
    let initial = username
        .chars()
        .next()
        .map(|c| c.to_uppercase().to_string())
        .unwrap_or_default();
    let role = user.role().label();
    let admin = user.role().at_least(Role::Admin);
    let changing_password = RwSignal::new(false);
    view! {
        <div class="user-menu" node_ref=wrapper>
            <button
                type="button"
                id="user-menu"
                class="user-menu-button"
                aria-haspopup="menu"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|open| *open = !*open)
            >
                <span class="avatar" aria-hidden="true">
                    {initial}
                </span>
                <span class="user-menu-name">{username.clone()}</span>
                <span class="user-menu-role">{role}</span>
                <Icon kind=IconKind::ChevronDown />
            </button>
            <Show when=move || open.get()>
                <div class="menu" role="menu" aria-label="User menu">
                    <div class="menu-header">
                        <span class="muted">"Signed in as"</span>
                        <strong>{username.clone()}</strong>
                        <Badge tone=Tone::Neutral>{role}</Badge>
                    </div>
                    <a
                        id="menu-tokens"
                        class="menu-item"
                        role="menuitem"
                        href="/tokens"
                        on:click=move |_| open.set(false)
                    >
                        <Icon kind=IconKind::Key />
                        <span>"API tokens"</span>
                    </a>
                    {admin.then(|| view! {
                        <a
                            id="menu-users"
                            class="menu-item"
                            role="menuitem"
                            href="/users"
                            on:click=move |_| open.set(false)
                        >
                            <Icon kind=IconKind::Users />
                            <span>"Users"</span>
                        </a>
                    })}
                    <button
                        type="button"
                        id="menu-change-password"
                        class="menu-item"
                        role="menuitem"
                        on:click=move |_| {
                            open.set(false);
                            changing_password.set(true);
                        }
                    >
                        <Icon kind=IconKind::Lock />
                        <span>"Change password"</span>
                    </button>
                    <div class="menu-separator" role="separator"></div>
                    <button
                        type="button"
                        id="logout"
                        class="menu-item"
                        role="menuitem"
                        disabled=move || logging_out.get()
                        on:click=log_out.clone()
                    >
                        <Icon kind=IconKind::LogOut />
                        <span>{move || if logging_out.get() { "Logging out…" } else { "Log out" }}</span>
                    </button>
                </div>
            </Show>
            <Show when=move || changing_password.get()>
                <ChangePasswordDialog on_close=Callback::new(move |()| changing_password.set(false)) />
            </Show>
        </div>
    }
}
