//! A list read page by page with "Load more" (keyset cursors), for lists whose rows open in place and so have no
//! fixed height to virtualize (alerts, audit entries, a registry's repositories); the fixed-height tables use
//! [`super::feed`] and [`super::virtual_table`] instead.
//!
//! [`PagedState`] is the list as loaded (pure, unit-tested); [`Paged`] is the copyable handle a page keeps: it
//! fetches the first page again when the filter changes or the live feed reconnects, appends the next page on
//! "Load more" without repeating a row, and drops an answer that a newer request overtook.

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use leptos::prelude::*;

use super::loading::{Latest, ListPhase};
use crate::api::{ApiError, Page};

/// Fetches one page, after this cursor (`None`: the first).
type FetchPage<T> =
    Rc<dyn Fn(Option<String>) -> LocalBoxFuture<'static, Result<Page<T>, ApiError>>>;

/// The rows loaded so far and where the server's list continues.
#[derive(Clone, Debug, PartialEq)]
pub struct Pages<T> {
    pub items: Vec<T>,
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
    /// Rows matching the filter on the server.
    pub total: i64,
}

impl<T> From<Page<T>> for Pages<T> {
    fn from(page: Page<T>) -> Self {
        Self {
            items: page.items,
            end_cursor: page.end_cursor,
            has_next_page: page.has_next_page,
            total: page.total_count,
        }
    }
}

impl<T> Pages<T> {
    /// More rows follow on the server and the cursor to ask for them is known.
    pub fn has_more(&self) -> bool {
        self.has_next_page && self.end_cursor.is_some()
    }
}

/// The list as loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum PagedState<T> {
    Loading,
    Loaded(Pages<T>),
    Failed(ApiError),
}

impl<T: Clone> PagedState<T> {
    pub fn phase(&self) -> ListPhase {
        match self {
            Self::Loading => ListPhase::Loading,
            Self::Failed(error) => ListPhase::Failed(error.clone()),
            Self::Loaded(pages) if pages.items.is_empty() => ListPhase::Empty,
            Self::Loaded(_) => ListPhase::List,
        }
    }

    pub fn loaded(&self) -> Option<&Pages<T>> {
        match self {
            Self::Loaded(pages) => Some(pages),
            _ => None,
        }
    }

    /// The rows (none while loading or after a failure).
    pub fn items(&self) -> &[T] {
        self.loaded().map_or(&[], |pages| &pages.items)
    }

    /// Where "Load more" continues, when more rows follow.
    pub fn next_cursor(&self) -> Option<String> {
        self.loaded()
            .filter(|pages| pages.has_more())
            .and_then(|pages| pages.end_cursor.clone())
    }

    /// Takes the first page: it replaces what is shown; a failure keeps a loaded list on screen (the live
    /// indicator tells about outages) and is shown only when there is nothing to keep.
    pub fn settle_first(&mut self, result: Result<Page<T>, ApiError>) {
        match result {
            Ok(page) => *self = Self::Loaded(page.into()),
            Err(error) => {
                if !matches!(self, Self::Loaded(_)) {
                    *self = Self::Failed(error);
                }
            }
        }
    }

    /// Appends the next page, leaving out rows already shown (a live row may have arrived first, or rows moved
    /// up while the page was on its way).
    pub fn append(&mut self, page: Page<T>, key: impl Fn(&T) -> &str) {
        let Self::Loaded(pages) = self else {
            return;
        };
        for item in page.items {
            if !pages.items.iter().any(|old| key(old) == key(&item)) {
                pages.items.push(item);
            }
        }
        pages.end_cursor = page.end_cursor;
        pages.has_next_page = page.has_next_page;
        pages.total = page.total_count;
    }

    /// Puts a new row at the top (a live entry of a newest-first list) and counts it, unless it is listed.
    pub fn prepend(&mut self, item: T, key: impl Fn(&T) -> &str) {
        if let Self::Loaded(pages) = self
            && !pages.items.iter().any(|old| key(old) == key(&item))
        {
            pages.items.insert(0, item);
            pages.total += 1;
        }
    }

    /// "7 alerts" when every row is here, "50 of 70 alerts" while more follow; empty until loaded.
    pub fn count_text(&self, singular: &str, plural: &str) -> String {
        let Some(pages) = self.loaded() else {
            return String::new();
        };
        let total = pages.total.max(pages.items.len() as i64);
        let noun = if total == 1 { singular } else { plural };
        if (pages.items.len() as i64) < total {
            format!("{} of {total} {noun}", pages.items.len())
        } else {
            format!("{total} {noun}")
        }
    }
}

/// A paged list as a copyable handle.
pub struct Paged<T: Send + Sync + 'static> {
    pub state: RwSignal<PagedState<T>>,
    /// The first page is on its way (a reload keeps the old rows on screen meanwhile).
    pub loading: RwSignal<bool>,
    /// "Load more" is on its way.
    pub more_loading: RwSignal<bool>,
    latest: Latest,
    fetch: StoredValue<FetchPage<T>, LocalStorage>,
    key: fn(&T) -> &str,
}

impl<T: Send + Sync + 'static> Clone for Paged<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Paged<T> {}

impl<T> Paged<T>
where
    T: Clone + Send + Sync + 'static,
{
    /// A list fetched by `fetch` (which reads the filter untracked each time), rows told apart by `key`. Nothing
    /// is fetched until [`Self::reload`].
    pub fn new<F>(fetch: F, key: fn(&T) -> &str) -> Self
    where
        F: Fn(Option<String>) -> LocalBoxFuture<'static, Result<Page<T>, ApiError>> + 'static,
    {
        Self {
            state: RwSignal::new(PagedState::Loading),
            loading: RwSignal::new(false),
            more_loading: RwSignal::new(false),
            latest: Latest::new(),
            fetch: StoredValue::new_local(Rc::new(fetch)),
            key,
        }
    }

    /// Fetches the first page again (a new filter, a reconnected feed); what is shown stays until it is here.
    /// A "Load more" on its way is dropped: its rows continue the old list.
    pub fn reload(self) {
        let Some(fetch) = self.fetch.try_get_value() else {
            return;
        };
        self.loading.set(true);
        self.more_loading.set(false);
        self.latest.run(fetch(None), move |result| {
            self.loading.set(false);
            self.state.update(|state| state.settle_first(result));
        });
    }

    /// Starts over with nothing shown (the spinner, then the first page).
    pub fn restart(self) {
        self.state.set(PagedState::Loading);
        self.reload();
    }

    /// Appends the next page; `failed` hears why it could not be loaded (the rows shown stay).
    pub fn load_more(self, failed: impl FnOnce(ApiError) + 'static) {
        if self.more_loading.get_untracked() || self.loading.get_untracked() {
            return;
        }
        let Some(cursor) = self.state.with_untracked(PagedState::next_cursor) else {
            return;
        };
        let Some(fetch) = self.fetch.try_get_value() else {
            return;
        };
        self.more_loading.set(true);
        let key = self.key;
        self.latest.run(fetch(Some(cursor)), move |result| {
            self.more_loading.set(false);
            match result {
                Ok(page) => self.state.update(|state| state.append(page, key)),
                Err(error) => failed(error),
            }
        });
    }

    /// Replaces the listed row that has `item`'s key (nothing when it is not listed).
    pub fn replace(self, item: T) {
        let key = self.key;
        self.state.update(|state| {
            if let PagedState::Loaded(pages) = state
                && let Some(slot) = pages.items.iter_mut().find(|old| key(old) == key(&item))
            {
                *slot = item;
            }
        });
    }

    /// The listed row with this key.
    pub fn find(self, wanted: &str) -> Option<T> {
        let key = self.key;
        self.state.with(|state| {
            state
                .items()
                .iter()
                .find(|item| key(item) == wanted)
                .cloned()
        })
    }

    /// More rows follow (the "Load more" button shows).
    pub fn has_more(self) -> bool {
        self.state
            .with(|state| state.loaded().is_some_and(Pages::has_more))
    }
}

/// The "Load more" button under a paged list (`div.load-more`), shown while more rows follow.
#[component]
pub fn LoadMore<T: Clone + Send + Sync + 'static>(
    paged: Paged<T>,
    /// `id` of the button.
    id: &'static str,
    /// What went wrong, as the start of a sentence ("More alerts could not be loaded").
    failed: &'static str,
) -> impl IntoView {
    let toasts = super::toast::use_toasts();
    let busy = move || paged.more_loading.get();
    view! {
        <Show when=move || paged.has_more()>
            <div class="load-more">
                <button
                    id=id
                    type="button"
                    class="btn btn-secondary"
                    disabled=busy
                    aria-busy=move || busy().to_string()
                    on:click=move |_| paged.load_more(move |error| toasts.error(format!("{failed}: {}", error.message)))
                >
                    {move || if busy() {
                        view! {
                            <span class="spinner spinner-sm" aria-hidden="true"></span>
                            <span>"Loading…"</span>
                        }
                        .into_any()
                    } else {
                        view! { <span>"Load more"</span> }.into_any()
                    }}
                </button>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    fn page(items: &[&str], cursor: Option<&str>, more: bool, total: i64) -> Page<String> {
        Page {
            items: items.iter().map(|s| (*s).to_owned()).collect(),
            has_next_page: more,
            end_cursor: cursor.map(str::to_owned),
            total_count: total,
        }
    }

    fn key(item: &String) -> &str {
        item
    }

    fn failure() -> ApiError {
        ApiError::new(ErrorCode::Network, "offline")
    }

    #[test]
    fn the_first_page_replaces_and_a_failed_reload_keeps_the_rows() {
        let mut state = PagedState::Loading;
        state.settle_first(Err(failure()));
        assert_eq!(state.phase(), ListPhase::Failed(failure()));

        state.settle_first(Ok(page(&["a", "b"], Some("b"), true, 5)));
        assert_eq!(state.items(), ["a", "b"]);
        assert_eq!(state.next_cursor().as_deref(), Some("b"));

        state.settle_first(Err(failure()));
        assert_eq!(
            state.items(),
            ["a", "b"],
            "a failed reload dropped the rows"
        );
        assert_eq!(state.phase(), ListPhase::List);

        state.settle_first(Ok(page(&[], None, false, 0)));
        assert_eq!(state.phase(), ListPhase::Empty);
        assert_eq!(state.next_cursor(), None);
    }

    #[test]
    fn the_next_page_appends_without_repeating_a_row() {
        let mut state = PagedState::Loading;
        state.settle_first(Ok(page(&["e", "d"], Some("d"), true, 5)));
        // "c" moved up meanwhile and is listed already (a live row).
        if let PagedState::Loaded(pages) = &mut state {
            pages.items.push("c".to_owned());
        }
        state.append(page(&["c", "b", "a"], Some("a"), false, 5), key);
        assert_eq!(state.items(), ["e", "d", "c", "b", "a"]);
        assert_eq!(state.next_cursor(), None, "the last page still offers more");
        assert_eq!(state.count_text("entry", "entries"), "5 entries");
    }

    #[test]
    fn a_live_row_goes_on_top_once() {
        let mut state = PagedState::Loading;
        state.prepend("z".to_owned(), key);
        assert_eq!(state, PagedState::Loading, "a row before the first page");
        state.settle_first(Ok(page(&["b", "a"], None, false, 2)));
        state.prepend("c".to_owned(), key);
        state.prepend("c".to_owned(), key);
        assert_eq!(state.items(), ["c", "b", "a"]);
        assert_eq!(state.count_text("entry", "entries"), "3 entries");
    }

    #[test]
    fn a_page_for_a_list_that_is_not_loaded_is_dropped() {
        let mut state = PagedState::<String>::Failed(failure());
        state.append(page(&["a"], None, false, 1), key);
        assert_eq!(state, PagedState::Failed(failure()));
    }

    #[test]
    fn more_without_a_cursor_is_no_more() {
        let mut state = PagedState::Loading;
        state.settle_first(Ok(page(&["a"], None, true, 3)));
        assert_eq!(state.next_cursor(), None);
        assert!(!state.loaded().is_some_and(Pages::has_more));
    }

    #[test]
    fn the_count_says_how_many_of_how_many() {
        let mut state = PagedState::Loading;
        assert_eq!(state.count_text("alert", "alerts"), "");
        state.settle_first(Ok(page(&["a", "b"], Some("b"), true, 70)));
        assert_eq!(state.count_text("alert", "alerts"), "2 of 70 alerts");
        state.settle_first(Ok(page(&["a"], None, false, 1)));
        assert_eq!(state.count_text("alert", "alerts"), "1 alert");
        // A total behind the rows (a live row counted before the server did) never reads "3 of 2".
        state.settle_first(Ok(page(&["a", "b", "c"], None, false, 2)));
        assert_eq!(state.count_text("alert", "alerts"), "3 alerts");
    }
}
