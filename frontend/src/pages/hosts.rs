//! Hosts tab (`/hosts`): the Docker engines Berth manages (not built yet).

use leptos::prelude::*;

use crate::components::{
    badge::{Badge, Tone},
    empty_state::EmptyState,
    icons::IconKind,
    page_header::PageHeader,
};

/// The Hosts page: for now, what it will hold.
#[component]
pub fn HostsPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Hosts"
            description="The Docker engines Berth manages, their capabilities and their local images."
        />
        <div class="card">
            <EmptyState icon=IconKind::Hosts title="No hosts yet">
                <p>
                    "Hosts are the Docker engines Berth manages, reached by unix socket, TCP, or TCP with TLS. "
                    "For each host Berth will show whether it is up, its Docker and API version, operating system, "
                    "kernel, architecture, CPUs, memory and storage driver, and the images it holds locally."
                </p>
                <div class="status-legend" aria-label="Host statuses">
                    <Badge tone=Tone::Up>"Up"</Badge>
                    <Badge tone=Tone::Down>"Non-responsive"</Badge>
                    <Badge tone=Tone::Warn>"Maintenance"</Badge>
                    <Badge tone=Tone::Neutral>"Docker support off"</Badge>
                </div>
                <p class="muted">"Adding hosts arrives with host management."</p>
            </EmptyState>
        </div>
    }
}
