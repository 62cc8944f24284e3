//! Durations as flow files and the command line write them: `500ms`, `30s`, `15m`, `1h30m`, `2d`.

use std::time::Duration;

/// Parses a duration: one or more `<digits><unit>` groups, unit one of `ms s m h d`.
///
/// # Errors
/// A message saying what form is expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid duration `{text}`: expected a number and a unit (ms, s, m, h, d), e.g. `30s`, `15m`, `1h30m`"
        )
    };
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis_per = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(millis_per)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("duration `{text}` is too long"))?;
    }
    if total == 0 {
        return Err(format!("duration `{text}` must be longer than zero"));
    }
    Ok(Duration::from_millis(total))
}

/// Formats a duration compactly for messages: `1.234s`, `15m`.
#[must_use]
pub(crate) fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_groups() {
        assert_eq!(parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("2d").unwrap(), Duration::from_secs(172_800));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "15",
            "m",
            "15x",
            "1.5h",
            "-1s",
            "0s",
            "99999999999999999999d",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shows_compactly() {
        assert_eq!(show(Duration::from_secs(900)), "15m");
        assert_eq!(show(Duration::from_millis(1500)), "1.500s");
    }
}
