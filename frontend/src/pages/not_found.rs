//! The page for addresses that lead nowhere.

use leptos::prelude::*;

use crate::{
    app::HOME,
    components::{empty_state::EmptyState, icons::IconKind},
};

/// "Page not found", with a way back.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <div class="card not-found">
            <EmptyState icon=IconKind::Compass title="Page not found">
                <p>"There is nothing at this address."</p>
                <div class="empty-state-actions">
                    <a class="btn btn-primary" href=HOME>
                        "Go to Containers"
                    </a>
                </div>
            </EmptyState>
        </div>
    }
}
