//! Berth's browser app: mounts the Leptos app on the page's body.

mod api;
mod app;
mod components;
mod pages;
mod routes;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
