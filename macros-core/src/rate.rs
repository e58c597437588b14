//! The `rate = "10/min"` grammar: `N/unit` or `N per unit`, units s/sec/second, min/minute,
//! h/hour, d/day (plural forms too). Pure functions, usable outside the macro (fuzzing, CLI).

/// A parsed rate: `count` requests per `period_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period.
    pub count: u32,
    /// The period, in seconds.
    pub period_secs: u64,
}

/// Parses a rate, or says what is wrong in words a user can act on.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let text = text.trim();
    let (number, unit) = if let Some((n, u)) = text.split_once('/') {
        (n.trim(), u.trim())
    } else if let Some((n, u)) = text.split_once(" per ") {
        (n.trim(), u.trim())
    } else {
        return Err(format!("`{text}` is not a rate; write it as `10/min` or `10 per minute`"));
    };
    if number.is_empty() {
        return Err("the rate has no number; write it as `10/min`".into());
    }
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{number}` is not a whole number of requests; write it as `10/min`"));
    }
    let count: u32 = number
        .parse()
        .map_err(|_| format!("`{number}` requests is too many; the largest rate is {} per unit", u32::MAX))?;
    if count == 0 {
        return Err("a rate of 0 would refuse every request; remove `rate` or allow at least 1".into());
    }
    let period_secs = match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "" => return Err("the rate has no unit; write it as `10/min` (units: s, min, h, day)".into()),
        other => {
            return Err(format!(
                "unknown rate unit `{other}`; expected `s`, `min`, `h` or `day` (or their long forms)"
            ));
        }
    };
    Ok(Rate { count, period_secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse_rate("10/min"), Ok(Rate { count: 10, period_secs: 60 }));
        assert_eq!(parse_rate("10 per minute"), Ok(Rate { count: 10, period_secs: 60 }));
        assert_eq!(parse_rate("5/s"), Ok(Rate { count: 5, period_secs: 1 }));
        assert_eq!(parse_rate(" 1000 / hour "), Ok(Rate { count: 1000, period_secs: 3600 }));
        assert_eq!(parse_rate("3/day"), Ok(Rate { count: 3, period_secs: 86_400 }));
        assert_eq!(parse_rate("7 per seconds"), Ok(Rate { count: 7, period_secs: 1 }));
    }

    #[test]
    fn refused_forms_explain() {
        for (input, needle) in [
            ("10/fortnight", "unknown rate unit `fortnight`"),
            ("0/min", "a rate of 0"),
            ("99999999999/min", "too many"),
            ("/min", "no number"),
            ("ten/min", "not a whole number"),
            ("-1/min", "not a whole number"),
            ("10", "not a rate"),
            ("10/", "no unit"),
        ] {
            let err = parse_rate(input).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
