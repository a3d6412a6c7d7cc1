//! Human byte sizes: parsing memory limits such as `512m` or `2GiB`, and formatting byte counts for display.
//!
//! Units are binary, as in Docker's `--memory` flag: `k` = 1024, `m` = 1024², `g` = 1024³,
//! `t` = 1024⁴, `p` = 1024⁵, `e` = 1024⁶. Each may be written alone (`512m`), with `b` (`512mb`, read
//! as 512 MiB like Docker does, **not** 512 × 10⁶), or with `ib` (`512MiB`); case does not matter.
//! A bare number, or one with `b`, is bytes.

use std::fmt::Write as _;

/// Why a size string is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    /// Nothing (or only whitespace) was given.
    #[error("size is empty; write e.g. 512m or 2GiB")]
    Empty,
    /// A leading minus sign.
    #[error("size \"{0}\" is negative; sizes must be zero or more")]
    Negative(String),
    /// No digits before the unit.
    #[error("size \"{0}\" has no number; write e.g. 512m")]
    NoDigits(String),
    /// Digits and dots that are not a number (`1.2.3`, `.5`, `1.`).
    #[error("size \"{0}\" is not a valid number; write e.g. 1.5g")]
    InvalidNumber(String),
    /// A decimal number of bytes (`1.5`, `1.5b`).
    #[error(
        "size \"{0}\" has a fraction of a byte; write a whole number of bytes or use a unit, e.g. 1.5k"
    )]
    FractionalBytes(String),
    /// A unit that is not one of b, k, m, g, t, p, e (with optional `b` / `ib`).
    #[error(
        "unknown unit \"{unit}\" in size \"{input}\"; use b, k, m, g, t or p (also KB, KiB, MB, MiB, …)"
    )]
    UnknownUnit {
        /// The whole size as written.
        input: String,
        /// The unit as written.
        unit: String,
    },
    /// More than `u64::MAX` bytes.
    #[error("size \"{0}\" is too large; the maximum is 16 EiB")]
    Overflow(String),
}

/// The multiplier of a unit (already lower-cased), or `None` if unknown.
fn unit_multiplier(unit: &str) -> Option<u64> {
    let exponent = match unit {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 2,
        "g" | "gb" | "gib" => 3,
        "t" | "tb" | "tib" => 4,
        "p" | "pb" | "pib" => 5,
        "e" | "eb" | "eib" => 6,
        _ => return None,
    };
    Some(1u64 << (10 * exponent))
}

/// Parses a size such as `1024`, `512m`, `512 MB`, `1.5g`, `64MiB` into bytes (see the module docs for
/// units). A decimal needs a unit and the result is rounded down to a whole byte.
pub fn parse_bytes(input: &str) -> Result<u64, ByteSizeError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(ByteSizeError::Empty);
    }
    if trimmed.starts_with('-') {
        return Err(ByteSizeError::Negative(trimmed.to_owned()));
    }
    let number_len = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, rest) = trimmed.split_at(number_len);
    if !number.bytes().any(|b| b.is_ascii_digit()) {
        return Err(ByteSizeError::NoDigits(trimmed.to_owned()));
    }
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    let well_formed = !whole.is_empty()
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(ByteSizeError::InvalidNumber(trimmed.to_owned()));
    }

    let unit = rest.trim_start();
    let multiplier =
        unit_multiplier(&unit.to_ascii_lowercase()).ok_or_else(|| ByteSizeError::UnknownUnit {
            input: trimmed.to_owned(),
            unit: unit.to_owned(),
        })?;
    if fraction.is_some() && multiplier == 1 {
        return Err(ByteSizeError::FractionalBytes(trimmed.to_owned()));
    }

    let overflow = || ByteSizeError::Overflow(trimmed.to_owned());
    let multiplier = u128::from(multiplier);
    let whole = whole.bytes().try_fold(0u128, |acc, digit| {
        acc.checked_mul(10)?.checked_add(u128::from(digit - b'0'))
    });
    let whole = whole
        .and_then(|w| w.checked_mul(multiplier))
        .ok_or_else(overflow)?;
    // floor(multiplier × 0.d₁d₂…dₙ), exactly: Horner's rule from the last digit, flooring at each
    // step (floor((a + v) / 10) = floor((a + floor(v)) / 10) for integer a), so no digit is lost.
    let fraction = fraction.map_or(0u128, |digits| {
        digits.bytes().rev().fold(0u128, |acc, digit| {
            (u128::from(digit - b'0') * multiplier + acc) / 10
        })
    });
    whole
        .checked_add(fraction)
        .and_then(|total| u64::try_from(total).ok())
        .ok_or_else(overflow)
}

/// Formats a byte count for people: `0 B`, `1023 B`, `512 MiB`, `1.5 GiB`. One decimal (rounded down)
/// is shown when the value is not a whole number of the unit.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut index = 0;
    while index + 1 < UNITS.len() && bytes >> (10 * (index + 1)) > 0 {
        index += 1;
    }
    let unit = 1u128 << (10 * index);
    let bytes = u128::from(bytes);
    let whole = bytes / unit;
    let tenths = (bytes % unit) * 10 / unit;
    let mut out = whole.to_string();
    if tenths > 0 {
        let _ = write!(out, ".{tenths}");
    }
    out.push(' ');
    out.push_str(UNITS[index]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KI: u64 = 1024;
    const MI: u64 = 1024 * 1024;
    const GI: u64 = 1024 * 1024 * 1024;
    const TI: u64 = GI * 1024;

    #[test]
    fn parses_sizes() {
        for (input, expected) in [
            ("0", 0),
            ("1024", 1024),
            ("1024b", 1024),
            ("1024B", 1024),
            ("10k", 10 * KI),
            ("10K", 10 * KI),
            ("10kb", 10 * KI),
            ("10KiB", 10 * KI),
            ("512m", 512 * MI),
            ("512M", 512 * MI),
            ("512mb", 512 * MI),
            ("512MB", 512 * MI),
            ("64MiB", 64 * MI),
            ("64 MiB", 64 * MI),
            ("64\tm", 64 * MI),
            (" 2GiB ", 2 * GI),
            ("2g", 2 * GI),
            ("2GB", 2 * GI),
            ("1.5g", GI + GI / 2),
            ("1.5 GiB", GI + GI / 2),
            ("0.5k", 512),
            ("1.0m", MI),
            ("1t", TI),
            ("1TiB", TI),
            ("1p", TI * 1024),
            ("1e", TI * 1024 * 1024),
            ("007m", 7 * MI),
        ] {
            assert_eq!(parse_bytes(input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn decimals_round_down() {
        // 0.001 KiB = 1.024 bytes → 1.
        assert_eq!(parse_bytes("0.001k"), Ok(1));
        // 0.0009 KiB = 0.9216 bytes → 0.
        assert_eq!(parse_bytes("0.0009k"), Ok(0));
        // 1.1 MiB = 1153433.6 bytes.
        assert_eq!(parse_bytes("1.1m"), Ok(1_153_433));
        // Many digits are handled exactly: 0.999…9 (30 nines) KiB is just under 1024 bytes.
        assert_eq!(parse_bytes(&format!("0.{}k", "9".repeat(30))), Ok(1023));
    }

    #[test]
    fn largest_sizes() {
        assert_eq!(parse_bytes("18446744073709551615"), Ok(u64::MAX));
        // 2⁶⁴ − 2⁶⁰·10⁻²⁰ bytes, rounded down.
        assert_eq!(parse_bytes("15.99999999999999999999e"), Ok(u64::MAX));
        assert_eq!(parse_bytes("15.5e"), Ok(31 << 59));
        assert_eq!(parse_bytes("15e"), Ok(15 << 60));
    }

    #[test]
    fn rejections() {
        assert_eq!(parse_bytes(""), Err(ByteSizeError::Empty));
        assert_eq!(
            parse_bytes("  ").unwrap_err().to_string(),
            "size is empty; write e.g. 512m or 2GiB"
        );
        assert_eq!(
            parse_bytes("-1g").unwrap_err().to_string(),
            "size \"-1g\" is negative; sizes must be zero or more"
        );
        assert_eq!(
            parse_bytes("m").unwrap_err().to_string(),
            "size \"m\" has no number; write e.g. 512m"
        );
        assert!(matches!(
            parse_bytes("+5m"),
            Err(ByteSizeError::NoDigits(_))
        ));
        assert!(matches!(parse_bytes("."), Err(ByteSizeError::NoDigits(_))));
        assert!(
            parse_bytes("1.2.3g")
                .unwrap_err()
                .to_string()
                .contains("\"1.2.3g\" is not a valid number")
        );
        assert!(matches!(
            parse_bytes(".5g"),
            Err(ByteSizeError::InvalidNumber(_))
        ));
        assert!(matches!(
            parse_bytes("1.g"),
            Err(ByteSizeError::InvalidNumber(_))
        ));
        assert!(
            parse_bytes("1.5")
                .unwrap_err()
                .to_string()
                .contains("fraction of a byte")
        );
        assert!(matches!(
            parse_bytes("1.5b"),
            Err(ByteSizeError::FractionalBytes(_))
        ));
        assert_eq!(
            parse_bytes("5x").unwrap_err(),
            ByteSizeError::UnknownUnit {
                input: "5x".into(),
                unit: "x".into()
            }
        );
        assert!(
            parse_bytes("5 megabytes")
                .unwrap_err()
                .to_string()
                .starts_with("unknown unit \"megabytes\" in size \"5 megabytes\"")
        );
        assert!(matches!(
            parse_bytes("1 0m"),
            Err(ByteSizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_bytes("1mi"),
            Err(ByteSizeError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_bytes("18446744073709551616").unwrap_err().to_string(),
            "size \"18446744073709551616\" is too large; the maximum is 16 EiB"
        );
        assert!(matches!(
            parse_bytes("16e"),
            Err(ByteSizeError::Overflow(_))
        ));
        assert!(matches!(
            parse_bytes("99999999999999999999999999999999999999999999t"),
            Err(ByteSizeError::Overflow(_))
        ));
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1), "1 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(512 * MI), "512 MiB");
        assert_eq!(format_bytes(GI + GI / 2), "1.5 GiB");
        assert_eq!(format_bytes(GI - 1), "1023.9 MiB");
        assert_eq!(format_bytes(2 * TI), "2 TiB");
        assert_eq!(format_bytes(u64::MAX), "15.9 EiB");
        for size in ["512m", "1.5g", "2t", "10k"] {
            let bytes = parse_bytes(size).unwrap();
            assert_eq!(parse_bytes(&format_bytes(bytes)), Ok(bytes), "{size}");
        }
    }
}
