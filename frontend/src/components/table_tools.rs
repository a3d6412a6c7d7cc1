//! Pieces around a list table: the filter box (and its server-side variant that waits for a pause in typing),
//! the "3 of 7 containers" count, and the row that says nothing matches the filter.

use std::time::Duration;

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

/// How long typing must pause before a server-side search runs.
const SEARCH_PAUSE: Duration = Duration::from_millis(250);

/// A search box (`.search-field`) for a server-side filter: `value` is the search in force (e.g. from the page's
/// address), `on_change` gets the text once typing pauses (Enter applies it at once). A change of `value` from
/// elsewhere (Back, Clear filters) shows in the box.
#[component]
pub fn SearchField(
    id: &'static str,
    placeholder: &'static str,
    label: &'static str,
    #[prop(into)] value: Signal<String>,
    on_change: Callback<String>,
    /// The longest search the server takes.
    #[prop(optional)]
    max_length: Option<usize>,
) -> impl IntoView {
    let text = RwSignal::new(value.get_untracked());
    // The last text handed on: the value coming back from it is no news.
    let applied = StoredValue::new(value.get_untracked());
    let pending = StoredValue::new(0_u64);
    Effect::new(move |_| {
        let value = value.get();
        // Compared trimmed: the address keeps the search trimmed while the box keeps what is typed.
        if applied
            .try_get_value()
            .is_some_and(|a| a.trim() != value.trim())
        {
            applied.set_value(value.clone());
            text.set(value);
        }
    });
    let apply = move |now: String| {
        if applied.try_get_value().is_some_and(|a| a != now) {
            applied.set_value(now.clone());
            on_change.run(now);
        }
    };
    let typed = move |now: String| {
        text.set(now);
        let Some(this) = pending.try_get_value().map(|n| n.wrapping_add(1)) else {
            return;
        };
        pending.set_value(this);
        set_timeout(
            move || {
                if pending.try_get_value() == Some(this) {
                    apply(text.get_untracked());
                }
            },
            SEARCH_PAUSE,
        );
    };
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
                maxlength=max_length.map(|n| n.to_string())
                prop:value=move || text.get()
                on:input=move |event| typed(event_target_value(&event))
                on:keydown=move |event| {
                    if event.key() == "Enter" {
                        pending.update_value(|n| *n = n.wrapping_add(1));
                        apply(text.get_untracked());
                    }
                }
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
