//! Keyset (seek) paging in SQL, the same on SQLite and PostgreSQL: a list sorted on some columns and then a
//! unique id, in one direction, continues after the last row seen with `WHERE (cols, id) > (values, last id)`
//! instead of an offset, so a page costs the same wherever it is and rows added or removed meanwhile never make
//! another row appear twice or go missing.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Order, QueryOrder, Value};

/// One sort column (or expression) and the last row's value of it. The values must not be NULL (sort on
/// `COALESCE(col, '')` for a nullable column: SQLite and PostgreSQL place NULLs at opposite ends).
#[derive(Clone, Debug)]
pub struct SeekKey {
    pub expr: Expr,
    pub value: Value,
}

impl SeekKey {
    pub fn new(expr: impl Into<Expr>, value: impl Into<Value>) -> Self {
        SeekKey {
            expr: expr.into(),
            value: value.into(),
        }
    }
}

/// The condition "after the row with these keys" for a list ordered by [`order_by`] on the same expressions;
/// the last key must be unique (the id). For keys `(a, b, id)` ascending it is
/// `a >= va AND (a > va OR (a = va AND (b > vb OR (b = vb AND id > vid))))`: the leading bound lets either
/// database start an index range scan there. `None` when `keys` is empty.
pub fn after(keys: &[SeekKey], desc: bool) -> Option<Expr> {
    let beyond = |k: &SeekKey| {
        if desc {
            k.expr.clone().lt(Expr::value(k.value.clone()))
        } else {
            k.expr.clone().gt(Expr::value(k.value.clone()))
        }
    };
    let (last, leading) = keys.split_last()?;
    let mut cond = beyond(last);
    for k in leading.iter().rev() {
        cond = beyond(k).or(k.expr.clone().eq(Expr::value(k.value.clone())).and(cond));
    }
    if let Some(first) = leading.first() {
        let bound = if desc {
            first.expr.clone().lte(Expr::value(first.value.clone()))
        } else {
            first.expr.clone().gte(Expr::value(first.value.clone()))
        };
        cond = bound.and(cond);
    }
    Some(cond)
}

/// Orders `query` by `exprs` (the sort columns, then the unique id), all ascending or all descending.
pub fn order_by<Q: QueryOrder>(
    mut query: Q,
    exprs: impl IntoIterator<Item = Expr>,
    desc: bool,
) -> Q {
    let order = if desc { Order::Desc } else { Order::Asc };
    for e in exprs {
        query = query.order_by(e, order.clone());
    }
    query
}

/// `text` as a `LIKE` pattern matching it anywhere, with `%`, `_` and the escape character `!` escaped; use it
/// with `LikeExpr::new(pattern).escape(LIKE_ESCAPE)`.
pub fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// A search as an FTS5 phrase for the trigram tables of SQLite (`containers_fts`, `docker_containers_fts`): the
/// text quoted (a `"` doubled), so it matches as a substring in any case. `None` under 3 characters, which a
/// trigram index cannot answer (the caller falls back to `LIKE`).
pub fn trigram_phrase(text: &str) -> Option<String> {
    if text.chars().count() < 3 {
        return None;
    }
    Some(format!("\"{}\"", text.replace('"', "\"\"")))
}

/// The `ESCAPE` character of [`contains_pattern`] (not a backslash, which the two databases quote differently).
pub const LIKE_ESCAPE: char = '!';

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Alias, PostgresQueryBuilder, Query, SqliteQueryBuilder};

    fn sql(cond: Expr) -> (String, String) {
        let mut q = Query::select();
        q.column(Alias::new("id"))
            .from(Alias::new("t"))
            .and_where(cond);
        (
            q.to_string(SqliteQueryBuilder),
            q.to_string(PostgresQueryBuilder),
        )
    }

    #[test]
    fn seek_conditions_nest_and_bound_the_leading_key() {
        let keys = [
            SeekKey::new(Expr::col(Alias::new("a")), "x"),
            SeekKey::new(Expr::col(Alias::new("b")), "y"),
            SeekKey::new(Expr::col(Alias::new("id")), "z"),
        ];
        let (lite, pg) = sql(after(&keys, false).unwrap());
        assert!(
            lite.ends_with(
                r#"WHERE "a" >= 'x' AND ("a" > 'x' OR ("a" = 'x' AND ("b" > 'y' OR ("b" = 'y' AND "id" > 'z'))))"#
            ),
            "{lite}"
        );
        assert_eq!(lite, pg);
        let (desc, _) = sql(after(&keys[2..], true).unwrap());
        assert!(desc.ends_with(r#"WHERE "id" < 'z'"#), "{desc}");
        assert!(after(&[], false).is_none());
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("web"), "%web%");
        assert_eq!(contains_pattern("50%_a!b"), "%50!%!_a!!b%");
    }
}
