//! Small text helpers for display: parser messages as sentences, truncation, short image ids and digests.

/// A parser's message as a sentence: first letter upper-case, a final full stop.
pub fn sentence(message: &str) -> String {
    let message = message.trim();
    let mut chars = message.chars();
    let mut out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// At most `max` characters of `text`, with "…" when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// The 12 hex digits Docker shows for an image id (`sha256:` dropped).
pub fn short_image_id(id: &str) -> String {
    let hex = id.split_once(':').map_or(id, |(_, hex)| hex);
    hex.chars().take(12).collect()
}

/// A digest as `sha256:0123456789ab…`: the algorithm and its first 12 hex digits.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) if hex.chars().count() > 12 => {
            format!("{algorithm}:{}…", hex.chars().take(12).collect::<String>())
        }
        _ => digest.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_becomes_a_sentence_once() {
        assert_eq!(sentence(" name is taken "), "Name is taken.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("é est pris."), "É est pris.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn long_texts_are_cut_at_characters_with_an_ellipsis() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("a long message here", 8), "a long…");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn ids_and_digests_are_shortened_like_docker_shows_them() {
        let hex = "0123456789abcdef0123";
        assert_eq!(short_image_id(&format!("sha256:{hex}")), "0123456789ab");
        assert_eq!(short_image_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(
            short_digest(&format!("sha256:{hex}")),
            "sha256:0123456789ab…"
        );
        assert_eq!(short_digest("sha256:abc"), "sha256:abc");
    }
}
