//! Sortable table headers: click a column to sort by it, click again to reverse (`aria-sort` drives the arrow).

use std::cmp::Ordering;

use leptos::prelude::*;

/// A table's sort order: which column, which direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort<K> {
    pub key: K,
    pub ascending: bool,
}

impl<K> Sort<K> {
    /// `ordering` (ascending) turned around when the order is descending.
    pub fn direct(&self, ordering: Ordering) -> Ordering {
        if self.ascending {
            ordering
        } else {
            ordering.reverse()
        }
    }
}

/// A `th` whose label is a button that sorts by `key` (ascending first unless `descending_first`, then toggles).
#[component]
pub fn SortHeader<K>(
    label: &'static str,
    key: K,
    sort: RwSignal<Sort<K>>,
    /// Extra classes for the cell (`numeric` right-aligns it).
    #[prop(optional)]
    class: &'static str,
    /// Sort descending on the first click (newest first for dates).
    #[prop(optional)]
    descending_first: bool,
) -> impl IntoView
where
    K: Copy + PartialEq + Send + Sync + 'static,
{
    let state = move || {
        let current = sort.get();
        match (current.key == key, current.ascending) {
            (false, _) => "none",
            (true, true) => "ascending",
            (true, false) => "descending",
        }
    };
    view! {
        <th aria-sort=state class=format!("sortable {class}")>
            <button
                type="button"
                class="sort-button"
                on:click=move |_| {
                    sort.update(|current| {
                        if current.key == key {
                            current.ascending = !current.ascending;
                        } else {
                            *current = Sort { key, ascending: !descending_first };
                        }
                    })
                }
            >
                {label}
                <span class="sort-indicator" aria-hidden="true"></span>
            </button>
        </th>
    }
}

/// A `th` sorting a server-sorted list: like [`SortHeader`], but the order lives elsewhere (the page's address)
/// and a click asks for the new one through `on_sort`.
#[component]
pub fn ServerSortHeader<K>(
    label: &'static str,
    key: K,
    #[prop(into)] sort: Signal<Sort<K>>,
    on_sort: Callback<Sort<K>>,
    /// Extra classes for the cell (column widths).
    #[prop(optional)]
    class: &'static str,
) -> impl IntoView
where
    K: Copy + PartialEq + Send + Sync + 'static,
{
    let state = move || {
        let current = sort.get();
        match (current.key == key, current.ascending) {
            (false, _) => "none",
            (true, true) => "ascending",
            (true, false) => "descending",
        }
    };
    view! {
        <th aria-sort=state class=format!("sortable {class}")>
            <button
                type="button"
                class="sort-button"
                on:click=move |_| {
                    let current = sort.get_untracked();
                    let next = if current.key == key {
                        Sort { key, ascending: !current.ascending }
                    } else {
                        Sort { key, ascending: true }
                    };
                    on_sort.run(next);
                }
            >
                {label}
                <span class="sort-indicator" aria-hidden="true"></span>
            </button>
        </th>
    }
}
