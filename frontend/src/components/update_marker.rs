//! The "Update" tag of a definition whose replicas run an older image than the registry's current one for its
//! tag.

use crate::api::containers::Container;
use crate::components::format::short_digest;
use leptos::prelude::*;

/// `span.update-marker` when an update is available, saying which digests in its title.
#[component]
pub fn UpdateMarker(#[prop(into)] container: Signal<Container>) -> impl IntoView {
    let title = move || {
        container.with(|c| {
            let running: Vec<String> = c
                .instances
                .iter()
                .filter(|i| i.status.is_active())
                .filter_map(|i| i.image_digest.as_deref().map(short_digest))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            format!(
                "The registry has another image for this tag ({}); the replicas run {}. Redeploy with a pull to run it.",
                c.latest_digest.as_deref().map(short_digest).unwrap_or_default(),
                if running.is_empty() { "an unknown one".to_owned() } else { running.join(", ") }
            )
        })
    };
    view! {
        <Show when=move || container.with(|c| c.update_available)>
            <span class="tag tag-update update-marker" title=title>
                "Update"
            </span>
        </Show>
    }
}
