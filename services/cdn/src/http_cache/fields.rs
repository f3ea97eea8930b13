//! Field value helpers shared by the cache's parsers (RFC 9110 §5.6).

use std::time::SystemTime;

use http::HeaderMap;

/// The largest delta-seconds a cache needs to represent: RFC 9111 §1.2.2
/// has larger values taken as 2^31.
pub const DELTA_CAP: u64 = 1 << 31;

/// The members of a comma-separated list, commas inside quoted strings
/// kept, each trimmed, empty members dropped.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut members = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, byte) in value.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match byte {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                members.push(value[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    members.push(value[start..].trim());
    members.retain(|member| !member.is_empty());
    members
}

/// Every field line of `name` that is text, in order.
pub fn lines<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    headers.get_all(name).iter().filter_map(|value| value.to_str().ok())
}

/// Every list member of every field line of `name`, in order.
pub fn members<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    lines(headers, name).flat_map(split_list).collect()
}

/// delta-seconds (`1*DIGIT`), capped at [`DELTA_CAP`]; anything else is
/// invalid.
pub fn delta_seconds(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.len() > 10 {
        return Some(DELTA_CAP);
    }
    Some(digits.parse::<u64>().unwrap_or(0).min(DELTA_CAP))
}

/// A quoted-string's content with its escapes resolved, or the token as is.
pub fn unquote(text: &str) -> std::borrow::Cow<'_, str> {
    match text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
        Some(inner) if inner.contains('\\') => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
            }
            out.into()
        }
        Some(inner) => inner.into(),
        None => text.into(),
    }
}

/// The `name` field as an HTTP-date; `Err` when present but not a date
/// (RFC 9111 §5.3 treats an invalid `Expires` as the past), or when its
/// lines disagree (the date fields are singletons).
pub fn date(headers: &HeaderMap, name: &str) -> Option<Result<SystemTime, ()>> {
    let mut lines = headers.get_all(name).iter();
    let first = lines.next()?;
    if lines.any(|line| line != first) {
        return Some(Err(()));
    }
    Some(first.to_str().ok().and_then(parse_date).ok_or(()))
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const LONG_DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// An HTTP-date in any of RFC 9110 §5.6.7's three forms: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime's
/// (`Sun Nov  6 08:49:37 1994`). Names are read without regard to case and
/// the day of the week is not checked against the date (it is redundant);
/// anything else off the grammar (another zone, a two-digit year outside
/// RFC 850, extra spaces, a one-digit hour) is not a date.
pub fn parse_date(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let (year, month, day, time) = if let Some((weekday, rest)) = lower.split_once(", ") {
        if DAYS.contains(&weekday) {
            // IMF-fixdate: DD Mon YYYY HH:MM:SS GMT
            let parts: Vec<&str> = rest.split(' ').collect();
            let [day, month, year, time, "gmt"] = parts[..] else { return None };
            (four_digits(year)?, month_number(month)?, two_digits(day)?, time)
        } else if LONG_DAYS.contains(&weekday) {
            // RFC 850: DD-Mon-YY HH:MM:SS GMT
            let parts: Vec<&str> = rest.split(' ').collect();
            let [date, time, "gmt"] = parts[..] else { return None };
            let pieces: Vec<&str> = date.split('-').collect();
            let [day, month, year] = pieces[..] else { return None };
            (two_digit_year(two_digits(year)?), month_number(month)?, two_digits(day)?, time)
        } else {
            return None;
        }
    } else {
        // asctime: Mon DD HH:MM:SS YYYY, the day padded with a space.
        let weekday = lower.get(..3)?;
        if !DAYS.contains(&weekday) || lower.as_bytes().get(3) != Some(&b' ') {
            return None;
        }
        let rest = &lower[4..];
        let month = month_number(rest.get(..3)?)?;
        let rest = rest.get(3..)?.strip_prefix(' ')?;
        let (day, rest) = match rest.as_bytes() {
            [b' ', d, b' ', ..] if d.is_ascii_digit() => (u32::from(d - b'0'), &rest[3..]),
            [a, b, b' ', ..] if a.is_ascii_digit() && b.is_ascii_digit() => (two_digits(&rest[..2])?, &rest[3..]),
            _ => return None,
        };
        let (time, year) = rest.split_once(' ')?;
        (four_digits(year)?, month, day, time)
    };
    let times: Vec<&str> = time.split(':').collect();
    let [hour, minute, second] = times[..] else { return None };
    let (hour, minute, second) = (two_digits(hour)?, two_digits(minute)?, two_digits(second)?);
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    // A leap second (60) is read as the second before the next minute.
    let time = chrono::NaiveTime::from_hms_opt(hour, minute, second.min(59))?;
    let seconds = date.and_time(time).and_utc().timestamp();
    Some(match u64::try_from(seconds) {
        Ok(seconds) => SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds),
        Err(_) => SystemTime::UNIX_EPOCH,
    })
}

fn two_digits(text: &str) -> Option<u32> {
    (text.len() == 2 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn four_digits(text: &str) -> Option<u32> {
    (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn month_number(text: &str) -> Option<u32> {
    MONTHS.iter().position(|month| *month == text).and_then(|index| u32::try_from(index + 1).ok())
}

/// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is
/// in the past century. Read against 2000–2099 as "now".
fn two_digit_year(year: u32) -> u32 {
    let current =
        u32::try_from(chrono::Utc::now().format("%Y").to_string().parse::<i64>().unwrap_or(2026)).unwrap_or(2026);
    let candidate = 2000 + year;
    if candidate > current + 50 { candidate - 100 } else { candidate }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_commas_inside_quotes() {
        assert_eq!(split_list(r#"a, b="x, y", ,c"#), vec!["a", r#"b="x, y""#, "c"]);
        assert_eq!(split_list(r#"a="q\"," , b"#), vec![r#"a="q\",""#, "b"]);
    }

    #[test]
    fn delta_seconds_are_digits_only_and_capped() {
        assert_eq!(delta_seconds("003600"), Some(3600));
        assert_eq!(delta_seconds("3600.0"), None);
        assert_eq!(delta_seconds("-1"), None);
        assert_eq!(delta_seconds("99999999999999999999"), Some(DELTA_CAP));
        assert_eq!(delta_seconds("2147483649"), Some(DELTA_CAP));
    }

    fn at(text: &str) -> Option<u64> {
        parse_date(text).map(|time| time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_secs()))
    }

    #[test]
    fn the_three_date_forms_parse() {
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(at("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(at("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(at("SUN, 06 NOV 1994 08:49:37 gmt"), Some(784_111_777));
        assert_eq!(at("Thu Aug  8 02:01:18 2050"), at("Mon, 08 Aug 2050 02:01:18 GMT"), "the weekday is not checked");
        assert!(at("Sun, 21 Nov 2286 04:46:39 GMT").is_some());
    }

    #[test]
    fn dates_off_the_grammar_are_not_dates() {
        for invalid in [
            "Thu, 18 Aug 2050 02:01:18 UTC",
            "Thu, 18 Aug 2050 02:01:18 AEST",
            "Thu, 18 Aug 50 02:01:18 GMT",
            "Thu 18 Aug 2050 02:01:18 GMT",
            "Thu, 18  Aug  2050 02:01:18 GMT",
            "Thu, 18-Aug-2050 02:01:18 GMT",
            "Thu, 18 Aug 2050 02.01.18 GMT",
            "Thu, 18 Aug 2050 2:01:18 GMT",
            "0",
            "Thu, 31 Feb 2050 02:01:18 GMT",
        ] {
            assert_eq!(at(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn disagreeing_date_lines_are_invalid() {
        let mut headers = HeaderMap::new();
        headers.append("expires", http::HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"));
        headers.append("expires", http::HeaderValue::from_static("Sun, 06 Nov 1994 08:49:38 GMT"));
        assert_eq!(date(&headers, "expires"), Some(Err(())));
    }

    #[test]
    fn quoted_strings_lose_their_quotes_and_escapes() {
        assert_eq!(unquote(r#""a\"b""#), r#"a"b"#);
        assert_eq!(unquote("token"), "token");
    }
}
