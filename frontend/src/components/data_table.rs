//! A loaded list as a table filtered and sorted in the browser (hosts, registries, disks, a host's images): the
//! filter box and its "3 of 7 hosts" count above, sortable headers, one row per matching item in the chosen order,
//! and a row saying that nothing matches with a button that clears the filter. Lists the server pages use
//! [`super::feed`] under [`super::virtual_table`], or [`super::paged`].

use std::{cmp::Ordering, hash::Hash};

use leptos::prelude::*;

use super::{
    loading::ListState,
    sort_header::Sort,
    table_tools::{FilterField, NoMatchRow, count_text},
};

/// How a table's items are filtered, ordered and told apart.
pub struct TableRules<T, K, Id> {
    /// The item matches the filter text (lowercased, trimmed; never empty).
    pub matches: fn(&T, &str) -> bool,
    pub compare: fn(Sort<K>, &T, &T) -> Ordering,
    /// The row's identity: a row is drawn again when it changes.
    pub key: fn(&T) -> Id,
}

impl<T, K, Id> Clone for TableRules<T, K, Id> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, K, Id> Copy for TableRules<T, K, Id> {}

/// The items that match `query` (as typed), in `sort`'s order.
pub fn visible_items<T: Clone, K: Copy, Id>(
    items: &[T],
    query: &str,
    sort: Sort<K>,
    rules: TableRules<T, K, Id>,
) -> Vec<T> {
    let query = query.trim().to_lowercase();
    let mut list: Vec<T> = items
        .iter()
        .filter(|item| query.is_empty() || (rules.matches)(item, &query))
        .cloned()
        .collect();
    list.sort_by(|a, b| (rules.compare)(sort, a, b));
    list
}

/// Words for the toolbar and the no-match row.
#[derive(Clone, Copy)]
pub struct TableWords {
    /// `id` of the filter box.
    pub filter_id: &'static str,
    pub filter_placeholder: &'static str,
    /// The filter box's label for screen readers ("Filter hosts").
    pub filter_label: &'static str,
    /// The item, one and many ("host", "hosts").
    pub one: &'static str,
    pub many: &'static str,
}

/// The toolbar and the table. Children are the header cells (`th`); `row` draws one item.
#[component]
pub fn DataTable<T, K, Id, R, V>(
    list: RwSignal<ListState<T>>,
    filter: RwSignal<String>,
    sort: RwSignal<Sort<K>>,
    rules: TableRules<T, K, Id>,
    words: TableWords,
    /// `id` of the `table`.
    table_id: &'static str,
    /// Classes of the `table` besides `table`.
    #[prop(optional)]
    class: &'static str,
    /// How many columns a row has (the no-match row spans them).
    columns: &'static str,
    row: R,
    children: Children,
) -> impl IntoView
where
    T: Clone + PartialEq + Send + Sync + 'static,
    K: Copy + Send + Sync + 'static,
    Id: Eq + Hash + Clone + Send + Sync + 'static,
    R: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let visible = move || {
        let query = filter.get();
        let sort = sort.get();
        list.with(|state| visible_items(state.items(), &query, sort, rules))
    };
    let shown = Memo::new(move |_| {
        let query = filter.with(|q| q.trim().to_lowercase());
        list.with(|state| {
            state
                .items()
                .iter()
                .filter(|item| query.is_empty() || (rules.matches)(item, &query))
                .count()
        })
    });
    let total = move || list.with(|state| state.items().len());
    let key = rules.key;
    view! {
        <div class="toolbar">
            <FilterField
                id=words.filter_id
                placeholder=words.filter_placeholder
                label=words.filter_label
                filter=filter
            />
            <span class="toolbar-count muted" aria-live="polite">
                {move || count_text(shown.get(), total(), words.one, words.many)}
            </span>
        </div>
        <div class="card table-card table-scroll">
            <table id=table_id class=format!("table {class}")>
                <thead>
                    <tr>{children()}</tr>
                </thead>
                <tbody>
                    <For each=visible key=move |item| key(item) children=row />
                    {move || {
                        (shown.get() == 0)
                            .then(|| {
                                view! {
                                    <NoMatchRow
                                        columns=columns
                                        message=Signal::derive(move || {
                                            format!("No {} matches “{}”.", words.one, filter.get().trim())
                                        })
                                        on_clear=Callback::new(move |()| filter.set(String::new()))
                                    />
                                }
                            })
                    }}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum By {
        Name,
        Size,
    }

    fn rules() -> TableRules<(&'static str, u32), By, &'static str> {
        TableRules {
            matches: |item, query| item.0.contains(query),
            compare: |sort, a, b| {
                let ordering = match sort.key {
                    By::Name => a.0.cmp(b.0),
                    By::Size => a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)),
                };
                sort.direct(ordering)
            },
            key: |item| item.0,
        }
    }

    const ITEMS: [(&str, u32); 4] = [("web", 3), ("db", 9), ("cache", 1), ("web-2", 3)];

    #[test]
    fn the_filter_is_trimmed_and_case_blind_and_empty_shows_everything() {
        let by_name = Sort {
            key: By::Name,
            ascending: true,
        };
        let names = |query| -> Vec<&str> {
            visible_items(&ITEMS, query, by_name, rules())
                .iter()
                .map(|item| item.0)
                .collect()
        };
        assert_eq!(names(""), ["cache", "db", "web", "web-2"]);
        assert_eq!(names("   "), ["cache", "db", "web", "web-2"]);
        assert_eq!(names(" WEB "), ["web", "web-2"]);
        assert!(names("nothing").is_empty());
    }

    #[test]
    fn the_order_follows_the_sort_and_its_direction() {
        let sizes = |ascending| -> Vec<&str> {
            visible_items(
                &ITEMS,
                "",
                Sort {
                    key: By::Size,
                    ascending,
                },
                rules(),
            )
            .iter()
            .map(|item| item.0)
            .collect()
        };
        assert_eq!(sizes(true), ["cache", "web", "web-2", "db"]);
        assert_eq!(sizes(false), ["db", "web-2", "web", "cache"]);
    }
}
