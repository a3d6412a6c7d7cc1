//! The "nothing here yet" panel: an icon, a title, what will live here and what to do next.

use leptos::prelude::*;

use super::icons::{Icon, IconKind};

/// An empty state (class `empty-state`). Children are the explanation and, optionally, actions
/// (wrap them in `<div class="empty-state-actions">`).
#[component]
pub fn EmptyState(
    icon: IconKind,
    #[prop(into)] title: String,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="empty-state">
            <div class="empty-state-icon" aria-hidden="true">
                <Icon kind=icon />
            </div>
            <h2 class="empty-state-title">{title}</h2>
            <div class="empty-state-body">{children()}</div>
        </section>
    }
}
