//! Limits checked on a parsed document before validation, in time linear in the document: a document whose
//! fragments expand to too many selections (`fragment F1 { ...F0 ...F0 }` … grows as 2ⁿ) or that spreads
//! fragments too often is refused before async-graphql's validation expands it.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult};
use berth_shared::ErrorCode;
use std::collections::HashMap;
use std::sync::Arc;

/// Most selections (fields, fragment spreads, inline fragments) one operation or fragment may have once its
/// fragments are expanded.
pub const MAX_EXPANDED_SELECTIONS: u64 = 10_000;
/// Most fragment spreads (`...Name`) written in one document.
pub const MAX_FRAGMENT_SPREADS: usize = 1_000;

/// Why a document is refused before validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the document has {0} fragment spreads; at most {MAX_FRAGMENT_SPREADS} are allowed")]
    TooManySpreads(usize),
    #[error(
        "the document selects more than {MAX_EXPANDED_SELECTIONS} fields once its fragments are expanded; ask for less"
    )]
    TooManySelections,
}

/// The selections of one selection set without expanding fragments: how many, and which fragments it spreads
/// (once per spread).
#[derive(Default)]
struct Summary<'a> {
    own: u64,
    spreads: Vec<&'a str>,
}

/// Walks a selection set (its nesting is bounded by the parser's recursion limit).
fn summarise<'a>(set: &'a SelectionSet, into: &mut Summary<'a>) {
    for item in &set.items {
        into.own = into.own.saturating_add(1);
        match &item.node {
            Selection::Field(field) => summarise(&field.node.selection_set.node, into),
            Selection::InlineFragment(inline) => summarise(&inline.node.selection_set.node, into),
            Selection::FragmentSpread(spread) => {
                into.spreads.push(spread.node.fragment_name.node.as_str());
            }
        }
    }
}

#[derive(Clone, Copy)]
enum State {
    Open,
    Visiting,
    Done(u64),
}

/// The largest number of selections any operation or fragment of the document has once its fragments are
/// expanded (saturating), and the number of fragment spreads written in it. Linear in the document: each
/// fragment's expansion is computed once (iteratively, so a long chain of fragments cannot exhaust the stack);
/// a spread of an unknown fragment or one in a cycle counts as one selection (validation reports those).
pub fn document_cost(doc: &ExecutableDocument) -> (u64, usize) {
    let mut summaries: HashMap<&str, Summary<'_>> = HashMap::new();
    let mut spreads = 0usize;
    for (name, fragment) in &doc.fragments {
        let mut summary = Summary::default();
        summarise(&fragment.node.selection_set.node, &mut summary);
        spreads = spreads.saturating_add(summary.spreads.len());
        summaries.insert(name.as_str(), summary);
    }
    let mut operations = Vec::new();
    for (_, operation) in doc.operations.iter() {
        let mut summary = Summary::default();
        summarise(&operation.node.selection_set.node, &mut summary);
        spreads = spreads.saturating_add(summary.spreads.len());
        operations.push(summary);
    }

    let mut states: HashMap<&str, State> = summaries.keys().map(|k| (*k, State::Open)).collect();
    // Post-order over the fragment graph with an explicit stack of (fragment, next spread to look at).
    let names: Vec<&str> = summaries.keys().copied().collect();
    for root in names {
        if !matches!(states.get(root), Some(State::Open)) {
            continue;
        }
        states.insert(root, State::Visiting);
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        while let Some(&mut (name, ref mut next)) = stack.last_mut() {
            let Some(summary) = summaries.get(name) else {
                stack.pop();
                continue;
            };
            if let Some(child) = summary.spreads.get(*next).copied() {
                *next += 1;
                if let Some(State::Open) = states.get(child) {
                    states.insert(child, State::Visiting);
                    stack.push((child, 0));
                }
                continue;
            }
            let total = summary.spreads.iter().fold(summary.own, |acc, child| {
                match states.get(child) {
                    Some(State::Done(n)) => acc.saturating_add(*n),
                    // In a cycle or unknown: the spread itself is already counted in `own`.
                    _ => acc,
                }
            });
            states.insert(name, State::Done(total));
            stack.pop();
        }
    }

    let expanded = |summary: &Summary<'_>| {
        summary
            .spreads
            .iter()
            .fold(summary.own, |acc, child| match states.get(child) {
                Some(State::Done(n)) => acc.saturating_add(*n),
                _ => acc,
            })
    };
    let largest_fragment = states
        .values()
        .filter_map(|s| match s {
            State::Done(n) => Some(*n),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let largest_operation = operations.iter().map(expanded).max().unwrap_or(0);
    (largest_operation.max(largest_fragment), spreads)
}

/// Refuses a document over [`MAX_FRAGMENT_SPREADS`] or [`MAX_EXPANDED_SELECTIONS`].
pub fn check_document(doc: &ExecutableDocument) -> Result<(), DocumentError> {
    let (selections, spreads) = document_cost(doc);
    if spreads > MAX_FRAGMENT_SPREADS {
        return Err(DocumentError::TooManySpreads(spreads));
    }
    if selections > MAX_EXPANDED_SELECTIONS {
        return Err(DocumentError::TooManySelections);
    }
    Ok(())
}

/// Installs [`DocumentLimitsCheck`]: every request (POST, GET, WebSocket subscription) is parsed through it.
pub struct DocumentLimits;

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimitsCheck)
    }
}

/// Parses the document once (async-graphql reuses it) and checks it with [`check_document`] before async-graphql's
/// own parsing hooks, whose recursion-depth check already expands fragments.
pub struct DocumentLimitsCheck;

#[async_trait::async_trait]
impl Extension for DocumentLimitsCheck {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // A syntax error is left to async-graphql's parsing, which reports it.
        if let Ok(doc) = request.parsed_query() {
            check_document(doc).map_err(|e| {
                let mut err = ServerError::new(e.to_string(), None);
                let mut ext = async_graphql::ErrorExtensionValues::default();
                ext.set("code", ErrorCode::BadUserInput.as_str());
                ext.set("field", "query");
                err.extensions = Some(ext);
                err
            })?;
        }
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn cost(query: &str) -> (u64, usize) {
        document_cost(&parse_query(query).unwrap())
    }

    fn fan_out(levels: usize) -> String {
        let mut doc = String::from("fragment F0 on Query { me { id } }\n");
        for i in 1..=levels {
            doc.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i - 1,
                i - 1
            ));
        }
        doc.push_str(&format!("query {{ ...F{levels} }}"));
        doc
    }

    #[test]
    fn plain_documents_count_their_selections() {
        assert_eq!(cost("{ me { id username } }"), (3, 0));
        assert_eq!(cost("{ me { id } ... on Query { me { id } } }"), (5, 0));
        assert!(check_document(&parse_query("{ me { id } }").unwrap()).is_ok());
    }

    #[test]
    fn fragments_are_expanded_once_each() {
        // F0 = 2, F1 = 2 spreads + 2 × 2, the query = 1 spread + 6.
        let (selections, spreads) = cost(
            "fragment F0 on Query { me { id } } fragment F1 on Query { ...F0 ...F0 } { ...F1 }",
        );
        assert_eq!((selections, spreads), (7, 3));
    }

    #[test]
    fn exponential_fan_out_is_counted_without_expanding() {
        let doc = parse_query(fan_out(26)).unwrap();
        let started = std::time::Instant::now();
        let (selections, spreads) = document_cost(&doc);
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert!(selections > 1 << 26, "{selections}");
        assert_eq!(spreads, 53);
        assert_eq!(check_document(&doc), Err(DocumentError::TooManySelections));
        // Far beyond u64: saturates instead of overflowing.
        let (selections, _) = cost(&fan_out(200));
        assert_eq!(selections, u64::MAX);
        // A few levels stay under the limit.
        assert!(check_document(&parse_query(fan_out(8)).unwrap()).is_ok());
    }

    #[test]
    fn cycles_and_unknown_fragments_are_left_to_validation() {
        let (selections, _) = cost(
            "fragment A on Query { ...B me { id } } fragment B on Query { ...A } { ...A ...C }",
        );
        assert!(selections < 10, "{selections}");
    }

    #[test]
    fn a_long_chain_of_fragments_does_not_recurse() {
        let mut doc = String::from("fragment F0 on Query { me { id } }\n");
        for i in 1..=900 {
            doc.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i - 1));
        }
        doc.push_str("{ ...F900 }");
        assert_eq!(cost(&doc), (2 + 901, 901));
    }

    #[test]
    fn too_many_spreads_are_refused() {
        let spreads = "...F ".repeat(MAX_FRAGMENT_SPREADS + 1);
        let doc = parse_query(format!(
            "fragment F on Query {{ me {{ id }} }} {{ {spreads} }}"
        ))
        .unwrap();
        assert_eq!(
            check_document(&doc),
            Err(DocumentError::TooManySpreads(MAX_FRAGMENT_SPREADS + 1))
        );
    }
}
