//! Containers tab (`/containers`): container definitions and their running instances (not built yet).

use leptos::prelude::*;

use crate::components::{
    badge::{Badge, Tone},
    empty_state::EmptyState,
    icons::IconKind,
    page_header::PageHeader,
};

/// The Containers page: for now, what it will hold and what comes first.
#[component]
pub fn ContainersPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Containers"
            description="What to run, where it runs, and the live status of every instance."
        />
        <div class="card">
            <EmptyState icon=IconKind::Containers title="No containers yet">
                <p>
                    "A container definition says what to run: image, command, environment, port mappings, "
                    "CPU and memory limits, restart policy and replicas, on a pinned host or on any host that fits. "
                    "Each one will be listed here with the status of its instances, updated live from the hosts' "
                    "Docker events."
                </p>
                <div class="status-legend" aria-label="Instance statuses">
                    <Badge tone=Tone::Up>"Running"</Badge>
                    <Badge tone=Tone::Warn>"Pulling"</Badge>
                    <Badge tone=Tone::Down>"Failed"</Badge>
                    <Badge tone=Tone::Neutral>"Stopped"</Badge>
                </div>
                <p class="muted">
                    "Defining and running containers arrives with container management. "
                    "Containers run on hosts, so hosts come first."
                </p>
                <div class="empty-state-actions">
                    <a class="btn btn-secondary" href="/hosts">
                        "Go to Hosts"
                    </a>
                </div>
            </EmptyState>
        </div>
    }
}
