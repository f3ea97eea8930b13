//! A stored response's age (RFC 9111 §4.2.3).

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::fields::{self, delta_seconds};

/// The `Age` a response arrived with: the first member of the first line,
/// without any parameters a structured-field writer put on it (`7200;a=1`
/// is 7200); anything but delta-seconds reads as absent (0).
pub fn age_value(headers: &HeaderMap) -> Duration {
    let first = fields::lines(headers, "age").next().and_then(|line| fields::split_list(line).first().copied());
    let value = first.map(|member| member.split(';').next().unwrap_or(member).trim());
    Duration::from_secs(value.and_then(delta_seconds).unwrap_or(0))
}

/// The age a response had when it arrived (`corrected_initial_age`):
/// the larger of the age its `Date` implies and its `Age` plus the time
/// the request took.
pub fn initial_age(headers: &HeaderMap, request_time: SystemTime, response_time: SystemTime) -> Duration {
    let apparent = match fields::date(headers, "date") {
        Some(Ok(date)) => response_time.duration_since(date).unwrap_or(Duration::ZERO),
        _ => Duration::ZERO,
    };
    let delay = response_time.duration_since(request_time).unwrap_or(Duration::ZERO);
    apparent.max(age_value(headers) + delay)
}

/// The age now of a response whose initial age was `initial` when it
/// arrived at `response_time`.
pub fn current_age(initial: Duration, response_time: SystemTime, now: SystemTime) -> Duration {
    initial + now.duration_since(response_time).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_age(lines: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("age", http::HeaderValue::from_static(line));
        }
        headers
    }

    #[test]
    fn only_the_first_valid_member_counts() {
        assert_eq!(age_value(&with_age(&["7200, 0"])), Duration::from_secs(7200));
        assert_eq!(age_value(&with_age(&["0", "7200"])), Duration::ZERO);
        for invalid in ["old", "-1", "1.5"] {
            assert_eq!(age_value(&with_age(&[invalid])), Duration::ZERO, "{invalid}");
        }
        assert_eq!(age_value(&with_age(&["2147483649"])), Duration::from_secs(1 << 31));
        assert_eq!(age_value(&with_age(&["7200;foo=bar"])), Duration::from_secs(7200));
    }

    #[test]
    fn initial_age_takes_the_larger_estimate() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut headers = with_age(&["10"]);
        headers.insert(
            "date",
            httpdate::fmt_http_date(now - Duration::from_secs(30))
                .parse()
                .unwrap_or(http::HeaderValue::from_static("")),
        );
        assert_eq!(initial_age(&headers, now - Duration::from_secs(1), now), Duration::from_secs(30));
        let headers = with_age(&["100"]);
        assert_eq!(initial_age(&headers, now - Duration::from_secs(2), now), Duration::from_secs(102));
        assert_eq!(current_age(Duration::from_secs(5), now, now + Duration::from_secs(7)), Duration::from_secs(12));
    }
}
