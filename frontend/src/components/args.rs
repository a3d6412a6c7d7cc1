//! Command lines as typed in one text field: split into arguments the way a shell would for simple cases
//! (whitespace separates; '…' and "…" group; a backslash escapes the next character outside single quotes),
//! and joined back for editing so that splitting the joined text gives the same arguments.

/// Splits `text` into arguments. An unclosed quote or a trailing backslash is an error.
pub fn split_args(text: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut current = String::new();
    // True once the current argument has begun (so '' gives an empty argument).
    let mut started = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(inner) => current.push(inner),
                        None => return Err("A single quote (') is not closed.".to_owned()),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped @ ('"' | '\\')) => current.push(escaped),
                            Some(other) => {
                                current.push('\\');
                                current.push(other);
                            }
                            None => return Err("A double quote (\") is not closed.".to_owned()),
                        },
                        Some(inner) => current.push(inner),
                        None => return Err("A double quote (\") is not closed.".to_owned()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(escaped) => {
                    started = true;
                    current.push(escaped);
                }
                None => return Err("A backslash at the end escapes nothing.".to_owned()),
            },
            c if c.is_whitespace() => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                started = true;
                current.push(c);
            }
        }
    }
    if started {
        args.push(current);
    }
    Ok(args)
}

/// Joins arguments into text that [`split_args`] splits back into the same arguments.
pub fn join_args(args: &[String]) -> String {
    args.iter()
        .map(|arg| quote(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One argument, quoted only when it needs to be.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '\\'));
    if plain {
        arg.to_owned()
    } else if !arg.contains('\'') {
        format!("'{arg}'")
    } else {
        format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        split_args(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("  httpd -f   -p 80 "), ["httpd", "-f", "-p", "80"]);
        assert_eq!(
            split("sh -c 'echo hi; sleep 5'"),
            ["sh", "-c", "echo hi; sleep 5"]
        );
        assert_eq!(
            split(r#"echo "a \"b\" c" d\ e"#),
            ["echo", r#"a "b" c"#, "d e"]
        );
        assert_eq!(split("a '' b"), ["a", "", "b"]);
        assert_eq!(split("pre'fix'post"), ["prefixpost"]);
        assert!(split("").is_empty());
        assert!(split_args("echo 'open").is_err());
        assert!(split_args("echo \"open").is_err());
        assert!(split_args("echo \\").is_err());
    }

    #[test]
    fn join_round_trips() {
        for args in [
            vec!["sh", "-c", "echo hi; sleep 5"],
            vec!["it's", "a \"test\"", "back\\slash", ""],
            vec!["plain"],
        ] {
            let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
            assert_eq!(split(&join_args(&args)), args);
        }
    }
}
