//! Pieces around a list table: the filter box, the "3 of 7 containers" count, and the row that says nothing
//! matches the filter.

use leptos::prelude::*;

use super::icons::{Icon, IconKind};

/// A search box (`.search-field`) bound to `filter`.
#[component]
pub fn FilterField(
    id: &'static str,
    placeholder: &'static str,
    label: &'static str,
    filter: RwSignal<String>,
) -> impl IntoView {
    view! {
        <div class="search-field">
            <Icon kind=IconKind::Search />
            <input
                id=id
                class="input"
                type="search"
                placeholder=placeholder
                aria-label=label
                autocomplete="off"
                spellcheck="false"
                prop:value=move || filter.get()
                on:input=move |event| filter.set(event_target_value(&event))
                on:change=move |event| filter.set(event_target_value(&event))
            />
        </div>
    }
}

/// "7 containers", or "3 of 7 containers" while a filter hides some.
pub fn count_text(shown: usize, total: usize, one: &str, many: &str) -> String {
    let noun = if total == 1 { one } else { many };
    if shown == total {
        format!("{total} {noun}")
    } else {
        format!("{shown} of {total} {noun}")
    }
}

/// A full-width row saying that nothing matches, with a button that clears the filters.
#[component]
pub fn NoMatchRow(
    columns: &'static str,
    /// What the filters are, e.g. "No container matches these filters."
    #[prop(into)]
    message: Signal<String>,
    on_clear: Callback<()>,
) -> impl IntoView {
    view! {
        <tr class="placeholder-row empty-row">
            <td colspan=columns>
                <div class="table-empty">
                    <Icon kind=IconKind::Search />
                    <div>
                        {move || message.get()} " "
                        <button type="button" class="btn btn-ghost btn-sm" on:click=move |_| on_clear.run(())>
                            "Clear filters"
                        </button>
                    </div>
                </div>
            </td>
        </tr>
    }
}

/// The header cell of a table's last column (row buttons): no visible label, `label` for screen readers.
#[component]
pub fn ActionsHeader(label: &'static str) -> impl IntoView {
    view! {
        <th class="actions-col">
            <span class="visually-hidden">{label}</span>
        </th>
    }
}
