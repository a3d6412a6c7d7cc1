//! The heading block at the top of every page: an `h1`, a one-line description and optional actions.

use leptos::prelude::*;

/// Page title (`h1`) with a short description under it.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(into)] description: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="page-header">
            <div class="page-header-text">
                <h1>{title}</h1>
                <p class="page-description">{description}</p>
            </div>
            {children.map(|actions| view! { <div class="page-actions">{actions()}</div> })}
        </header>
    }
}

/// "← All containers": the way back from a detail page to its list.
#[component]
pub fn BackLink(href: &'static str, label: &'static str) -> impl IntoView {
    view! {
        <a class="back-link" href=href>
            <super::icons::Icon kind=super::icons::IconKind::ArrowLeft />
            <span>{label}</span>
        </a>
    }
}
