//! A host's live status as a badge (`span.badge.host-status`, raw enum in `data-status`).

use leptos::prelude::*;

use crate::api::HostStatus;

/// The badge colour class of a status: up, down (not responding), warn (maintenance), neutral (the rest).
pub fn tone_class(status: HostStatus) -> &'static str {
    match status {
        HostStatus::Up => "up",
        HostStatus::NonResponsive => "down",
        HostStatus::Maintenance => "warn",
        HostStatus::Down | HostStatus::Unknown | HostStatus::Installing => "neutral",
    }
}

/// What a status means, for the badge's tooltip.
pub fn explain(status: HostStatus) -> &'static str {
    match status {
        HostStatus::Up => "The engine answers.",
        HostStatus::NonResponsive => "Docker support is on but the engine does not answer.",
        HostStatus::Down => "Docker support is off: kept on record, not monitored.",
        HostStatus::Maintenance => "In maintenance: still monitored, never scheduled on.",
        HostStatus::Installing => "Docker is being installed.",
        HostStatus::Unknown => "Not checked yet.",
    }
}

/// The status badge; its text is the status label.
#[component]
pub fn HostStatusBadge(#[prop(into)] status: Signal<HostStatus>) -> impl IntoView {
    view! {
        <span
            class=move || format!("badge host-status {}", tone_class(status.get()))
            data-status=move || status.get().as_str()
            title=move || explain(status.get())
        >
            {move || status.get().label()}
        </span>
    }
}
