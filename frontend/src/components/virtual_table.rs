//! A virtualized table over a [`Feed`]: only the rows in and near the viewport are in the DOM, between two
//! spacer rows that stand for the others (fixed row height), so ten thousand rows cost what forty do. The table
//! scrolls inside its own viewport (`div.virtual-scroll`, header sticky); scrolling towards the end asks the feed
//! for the next pages; a restart (new filter or order) scrolls back to the top.

use leptos::{ev, html, prelude::*};

use super::feed::{Feed, Keyed};

/// Rows rendered beyond each edge of the viewport.
const OVERSCAN: usize = 4;

/// The browser window's height (the viewport never shows more than that).
fn window_height() -> f64 {
    web_sys::window()
        .and_then(|window| window.inner_height().ok())
        .and_then(|height| height.as_f64())
        .filter(|height| *height > 0.0)
        .unwrap_or(900.0)
}

/// The first and last (exclusive) row to render, from the scroll position.
fn rendered_range(scroll_top: f64, header: f64, viewport: f64, row_height: f64) -> (usize, usize) {
    let row_height = row_height.max(1.0);
    let top = (scroll_top - header).max(0.0);
    let first = (top / row_height).floor() as usize;
    let count = (viewport / row_height).ceil() as usize + 1;
    (first.saturating_sub(OVERSCAN), first + count + OVERSCAN)
}

/// The table. Children are the header cells (`th`); `row` draws one row (a `tr` of `columns` cells) from its
/// signal; `empty` is the row shown when nothing matches.
#[component]
pub fn VirtualTable<T, R, V>(
    feed: Feed<T>,
    /// `id` of the scrolling viewport.
    scroll_id: &'static str,
    /// `id` of the `table`.
    table_id: &'static str,
    /// Extra classes of the table.
    class: &'static str,
    /// How many columns a row has (the spacers span them).
    columns: usize,
    /// The row height the CSS gives (measured again once rows are drawn).
    row_height: f64,
    /// What the table lists, for screen readers.
    label: &'static str,
    row: R,
    /// The row shown when no row matches.
    #[prop(into)]
    empty: ViewFn,
    children: Children,
) -> impl IntoView
where
    T: Keyed + Clone + PartialEq + Send + Sync + 'static,
    R: Fn(Signal<T>) -> V + Send + Clone + 'static,
    V: IntoView + 'static,
{
    let scroller = NodeRef::<html::Div>::new();
    let body = NodeRef::<html::Tbody>::new();
    let scroll_top = RwSignal::new(0.0_f64);
    let viewport = RwSignal::new(window_height());
    let measured = RwSignal::new(row_height);
    let header = RwSignal::new(40.0_f64);

    let range = Memo::new(move |_| {
        rendered_range(
            scroll_top.get(),
            header.get(),
            viewport.get(),
            measured.get(),
        )
    });
    // (first rendered, end rendered, rows in all, more on the server)
    let window = Memo::new(move |_| {
        let (start, end) = range.get();
        feed.rows.with(|rows| {
            let len = rows.len();
            (
                start.min(len),
                end.min(len),
                rows.total.max(len),
                rows.has_next,
            )
        })
    });
    let visible = move || {
        let (start, end, _, _) = window.get();
        feed.rows
            .with(|rows| rows.slots.get(start..end).map(<[_]>::to_vec))
            .unwrap_or_default()
    };
    let top_space = move || {
        let (start, _, _, _) = window.get();
        start as f64 * measured.get()
    };
    let bottom_space = move || {
        let (_, end, all, _) = window.get();
        all.saturating_sub(end) as f64 * measured.get()
    };
    let empty_now = move || feed.rows.with(|rows| rows.is_empty() && rows.total == 0);

    // Ask for the rows the viewport reaches.
    Effect::new(move |_| {
        let (_, end) = range.get();
        feed.want(end);
    });

    let read_scroll = move || {
        if let Some(element) = scroller.get_untracked() {
            let top = f64::from(element.scroll_top());
            if (top - scroll_top.get_untracked()).abs() >= 1.0 {
                scroll_top.set(top);
            }
        }
    };
    // The viewport's height, row and header heights as drawn, once rows are on the page.
    let measure = move || {
        if let Some(element) = scroller.get_untracked() {
            let height = f64::from(element.client_height());
            let shown = if height > 0.0 {
                height.min(window_height())
            } else {
                window_height()
            };
            if (shown - viewport.get_untracked()).abs() >= 1.0 {
                viewport.set(shown);
            }
        }
        let Some(tbody) = body.get_untracked() else {
            return;
        };
        let offset = f64::from(tbody.offset_top());
        if offset > 0.0 && (offset - header.get_untracked()).abs() >= 0.5 {
            header.set(offset);
        }
        let first_row = tbody
            .query_selector(":scope > tr:not(.virtual-spacer):not(.placeholder-row)")
            .ok()
            .flatten();
        if let Some(row) = first_row {
            let height = row.get_bounding_client_rect().height();
            if height >= 8.0 && (height - measured.get_untracked()).abs() >= 0.5 {
                measured.set(height);
            }
        }
    };
    Effect::new(move |_| {
        window.track();
        request_animation_frame(measure);
    });
    // A restart shows the first rows.
    Effect::new(move |previous: Option<u64>| {
        let restarted = feed.restarted.get();
        if previous.is_some_and(|previous| previous != restarted)
            && let Some(element) = scroller.get_untracked()
        {
            element.set_scroll_top(0);
            scroll_top.set(0.0);
        }
        restarted
    });
    let resize = window_event_listener(ev::resize, move |_| {
        read_scroll();
        measure();
    });
    on_cleanup(move || resize.remove());

    let spacer_columns = columns.to_string();
    let head = children();
    view! {
        <div
            id=scroll_id
            class="virtual-scroll"
            class:refreshing=move || feed.refreshing.get()
            node_ref=scroller
            tabindex="0"
            role="region"
            aria-label=label
            aria-busy=move || feed.loading.get().to_string()
            on:scroll=move |_| read_scroll()
        >
            <table id=table_id class=format!("table virtual-table {class}") aria-rowcount=move || window.get().2>
                <thead>
                    <tr>{head}</tr>
                </thead>
                <tbody node_ref=body>
                    <tr
                        class="virtual-spacer virtual-spacer-top"
                        aria-hidden="true"
                        style:height=move || format!("{}px", top_space())
                        style:display=move || { if top_space() > 0.0 { "" } else { "none" } }
                    >
                        <td colspan=spacer_columns.clone()></td>
                    </tr>
                    <For each=visible key=|slot| slot.key.clone() let:slot>
                        {(row.clone())(Signal::from(slot.item))}
                    </For>
                    <tr
                        class="virtual-spacer virtual-spacer-bottom"
                        class:pending=move || window.get().3
                        aria-hidden="true"
                        style:height=move || format!("{}px", bottom_space())
                        style:display=move || { if bottom_space() > 0.0 { "" } else { "none" } }
                    >
                        <td colspan=spacer_columns.clone()></td>
                    </tr>
                    <Show when=empty_now>{empty.run()}</Show>
                </tbody>
            </table>
        </div>
    }
}
