//! Storage tab (`/storage`): image registries and disks (not built yet).

use leptos::prelude::*;

use crate::components::{empty_state::EmptyState, icons::IconKind, page_header::PageHeader};

/// The Storage page: for now, what its two sections will hold.
#[component]
pub fn StoragePage() -> impl IntoView {
    view! {
        <PageHeader
            title="Storage"
            description="The registries images come from, and the disks containers mount."
        />
        <div class="grid-2">
        <section class="section">
            <h2 class="section-title">"Registries"</h2>
            <div class="card">
                <EmptyState icon=IconKind::Storage title="No registries yet">
                    <p>
                        "A registry is any Registry v2 / OCI registry, or a Docker Hub namespace, with or without "
                        "credentials. Berth will list its repositories and tags (digest, size, architectures), "
                        "refresh them on a schedule or on demand, and say clearly when a registry cannot be reached."
                    </p>
                    <p class="muted">"Adding registries arrives with registry management."</p>
                </EmptyState>
            </div>
        </section>
        <section class="section">
            <h2 class="section-title">"Disks"</h2>
            <div class="card">
                <EmptyState icon=IconKind::Disk title="No disks yet">
                    <p>
                        "Disks are managed storage for containers: Docker volumes or directories on a host, "
                        "mounted into containers read-write or read-only."
                    </p>
                    <p class="muted">"Creating disks arrives with disk management."</p>
                </EmptyState>
            </div>
        </section>
        </div>
    }
}
