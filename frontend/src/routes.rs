//! The pages loaded on demand: each logged-in page is a split point, so the module the browser fetches first
//! holds the login form and the frame, and a page's code arrives the first time someone opens it.
//!
//! `#[lazy_route]` turns each `view` below into an import the build (`cargo xtask`, `xtask/src/wasm_split.rs`)
//! cuts out into its own WebAssembly file, with the code only that page uses; code two pages share goes into a
//! chunk both load. The router awaits the page's file before it renders the route.

use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

use crate::pages::{
    alerts::AlertsPage, container_detail::ContainerDetailPage, containers::ContainersPage,
    events::EventsPage, host_detail::HostDetailPage, hosts::HostsPage,
    registry_detail::RegistryDetailPage, storage::StoragePage, tokens::TokensPage,
    users::UsersPage,
};

/// Declares a route type whose view is the given page component, loaded from its own file.
macro_rules! on_demand {
    ($($(#[$doc:meta])* $route:ident => $page:ident;)*) => {
        /// Fetches every page's files, one page after the other in the order below, the home page's first (files
        /// already loaded are not fetched again).
        async fn preload_all() {
            $(<$route as LazyRoute>::preload().await;)*
        }
        $(
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(this: Self) -> AnyView {
                let _ = this;
                preload_pages();
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

/// Fetches every page's files in the background when the browser is next idle (once per app start), so that
/// neither logging in nor the first click on a tab waits for them. Called by the login form (the user types
/// meanwhile) and by the first page opened, once its own files are there (before that the others would compete
/// with it for the network).
pub fn preload_pages() {
    thread_local! {
        static STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if !STARTED.replace(true) {
        request_idle_callback(|| leptos::task::spawn_local(preload_all()));
    }
}

on_demand! {
    /// `/containers`.
    Containers => ContainersPage;
    /// `/containers/:id`.
    ContainerDetail => ContainerDetailPage;
    /// `/storage`.
    Storage => StoragePage;
    /// `/storage/registries/:id`.
    RegistryDetail => RegistryDetailPage;
    /// `/hosts`.
    Hosts => HostsPage;
    /// `/hosts/:id`.
    HostDetail => HostDetailPage;
    /// `/alerts`.
    Alerts => AlertsPage;
    /// `/tokens`.
    Tokens => TokensPage;
    /// `/users`.
    Users => UsersPage;
    /// `/events`.
    Events => EventsPage;
}
