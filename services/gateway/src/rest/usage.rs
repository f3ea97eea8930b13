//! API keys on the request path: a method with `apiKeyRequired` takes the
//! key from `x-api-key`, and the key must be enabled and in a usage plan
//! that covers the API's stage (403 `Forbidden` otherwise). The plan's
//! throttle (a token bucket per key, `governor`) answers 429 `Too Many
//! Requests`, its quota (a count per key and period) 429 `Limit
//! Exceeded`, as API Gateway does.
//!
//! Documented approximation: buckets and quota counts live in each
//! gateway replica, so N replicas admit up to N times a plan's limits; a
//! quota's `offset` is not applied (periods start at the calendar day,
//! the ISO week's Monday, or the month's first day, UTC).

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Datelike as _;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::model::{ApiKey, QuotaSettings, ThrottleSettings, UsagePlan};
use super::store::UsageSnapshot;

/// Limiter entries kept at most; past it they start again (full buckets),
/// so a flood of distinct keys cannot grow memory.
const MAX_ENTRIES: usize = 100_000;

/// Why a request with an API key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key, an unknown or disabled key, or no plan for this stage: 403.
    Forbidden,
    /// The plan's rate or burst: 429 `Too Many Requests`.
    Throttled,
    /// The plan's quota for this period: 429 `Limit Exceeded`.
    QuotaExceeded,
}

type Bucket = (Option<ThrottleSettings>, Arc<DefaultDirectRateLimiter>);

#[derive(Debug, Default)]
pub struct Limits {
    buckets: Mutex<HashMap<(String, String), Bucket>>,
    /// (plan, key) → (period, requests counted in it).
    quotas: Mutex<HashMap<(String, String), (i64, u64)>>,
}

/// The plan that admits `key` to an API's stage, if any.
pub fn plan_for<'a>(snapshot: &'a UsageSnapshot, key: &ApiKey, api_id: &str, stage: &str) -> Option<&'a UsagePlan> {
    snapshot.plans.iter().find(|plan| {
        plan.key_ids.contains(&key.id) && plan.api_stages.iter().any(|s| s.api_id == api_id && s.stage == stage)
    })
}

/// The period a quota counts in, as a number that changes when it ends.
pub fn period_of(quota: &QuotaSettings, now: chrono::DateTime<chrono::Utc>) -> i64 {
    let day = now.timestamp().div_euclid(86_400);
    match quota.period.as_str() {
        // 1970-01-01 was a Thursday: shift so weeks start on Mondays.
        "WEEK" => (day + 3).div_euclid(7),
        "MONTH" => i64::from(now.year()) * 12 + i64::from(now.month0()),
        _ => day,
    }
}

fn limiter(throttle: &ThrottleSettings) -> Option<DefaultDirectRateLimiter> {
    let rate = throttle.rate_limit.filter(|rate| *rate > 0.0 && rate.is_finite())?;
    let burst = NonZeroU32::new(throttle.burst_limit.unwrap_or(0).max(1)).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rate))?.allow_burst(burst);
    Some(RateLimiter::direct(quota))
}

impl Limits {
    /// Checks and counts one request of `key` under `plan`: the bucket
    /// first, then the quota, so a throttled request uses none of it.
    pub fn admit(
        &self,
        plan: &UsagePlan,
        key: &ApiKey,
        method_throttle: Option<&ThrottleSettings>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Refusal> {
        let id = (plan.id.clone(), key.id.clone());
        let throttle = method_throttle.or(plan.throttle.as_ref()).cloned();
        if let Some(settings) = &throttle {
            let bucket = {
                let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
                if buckets.len() >= MAX_ENTRIES {
                    buckets.clear();
                }
                let fresh = buckets.get(&id).is_none_or(|(current, _)| current.as_ref() != Some(settings));
                if fresh {
                    match limiter(settings) {
                        Some(limiter) => {
                            buckets.insert(id.clone(), (throttle.clone(), Arc::new(limiter)));
                        }
                        None => {
                            buckets.remove(&id);
                        }
                    }
                }
                buckets.get(&id).map(|(_, limiter)| limiter.clone())
            };
            if let Some(bucket) = bucket
                && bucket.check().is_err()
            {
                return Err(Refusal::Throttled);
            }
        }
        if let Some(quota) = &plan.quota {
            let period = period_of(quota, now);
            let Ok(mut quotas) = self.quotas.lock() else { return Ok(()) };
            if quotas.len() >= MAX_ENTRIES {
                quotas.clear();
            }
            let entry = quotas.entry(id).or_insert((period, 0));
            if entry.0 != period {
                *entry = (period, 0);
            }
            if entry.1 >= quota.limit {
                return Err(Refusal::QuotaExceeded);
            }
            entry.1 += 1;
        }
        Ok(())
    }

    /// Forgets a plan's buckets and counts once it changed or went.
    pub fn forget_plan(&self, plan_id: &str) {
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.retain(|(plan, _), _| plan != plan_id);
        }
        if let Ok(mut quotas) = self.quotas.lock() {
            quotas.retain(|(plan, _), _| plan != plan_id);
        }
    }
}

/// Checks a request's `x-api-key` for a method that requires one.
pub fn check_key<'a>(
    snapshot: &'a UsageSnapshot,
    presented: Option<&str>,
    api_id: &str,
    stage: &str,
) -> Result<(&'a ApiKey, &'a UsagePlan), Refusal> {
    let key = presented.and_then(|value| snapshot.keys_by_value.get(value)).ok_or(Refusal::Forbidden)?;
    if !key.enabled {
        return Err(Refusal::Forbidden);
    }
    let plan = plan_for(snapshot, key, api_id, stage).ok_or(Refusal::Forbidden)?;
    Ok((key, plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::model::ApiStage;

    fn fixture(throttle: Option<ThrottleSettings>, quota: Option<QuotaSettings>) -> (UsageSnapshot, ApiKey) {
        let key =
            ApiKey { id: "k1".into(), value: "secret-value-of-twenty".into(), enabled: true, ..Default::default() };
        let plan = UsagePlan {
            id: "p1".into(),
            api_stages: vec![ApiStage { api_id: "api".into(), stage: "prod".into(), ..Default::default() }],
            throttle,
            quota,
            key_ids: vec!["k1".into()],
            ..Default::default()
        };
        let snapshot = UsageSnapshot { keys_by_value: [(key.value.clone(), key.clone())].into(), plans: vec![plan] };
        (snapshot, key)
    }

    #[test]
    fn keys_must_be_known_enabled_and_planned() {
        let (mut snapshot, key) = fixture(None, None);
        assert!(check_key(&snapshot, Some(&key.value), "api", "prod").is_ok());
        assert_eq!(check_key(&snapshot, None, "api", "prod").err(), Some(Refusal::Forbidden));
        assert_eq!(check_key(&snapshot, Some("wrong"), "api", "prod").err(), Some(Refusal::Forbidden));
        assert_eq!(check_key(&snapshot, Some(&key.value), "api", "dev").err(), Some(Refusal::Forbidden));
        snapshot.keys_by_value.values_mut().for_each(|key| key.enabled = false);
        assert_eq!(check_key(&snapshot, Some(&key.value), "api", "prod").err(), Some(Refusal::Forbidden));
    }

    #[test]
    fn the_quota_counts_per_period() {
        let quota = QuotaSettings { limit: 2, offset: 0, period: "DAY".into() };
        let (snapshot, key) = fixture(None, Some(quota));
        let limits = Limits::default();
        let plan = &snapshot.plans[0];
        let today = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(limits.admit(plan, &key, None, today), Ok(()));
        assert_eq!(limits.admit(plan, &key, None, today), Ok(()));
        assert_eq!(limits.admit(plan, &key, None, today), Err(Refusal::QuotaExceeded));
        let tomorrow = today + chrono::Duration::days(1);
        assert_eq!(limits.admit(plan, &key, None, tomorrow), Ok(()));
    }

    #[test]
    fn the_bucket_admits_the_burst_then_throttles() {
        let throttle = ThrottleSettings { burst_limit: Some(3), rate_limit: Some(0.001) };
        let (snapshot, key) = fixture(Some(throttle), None);
        let limits = Limits::default();
        let now = chrono::Utc::now();
        let admitted = (0..10).filter(|_| limits.admit(&snapshot.plans[0], &key, None, now).is_ok()).count();
        assert_eq!(admitted, 3);
        assert_eq!(limits.admit(&snapshot.plans[0], &key, None, now), Err(Refusal::Throttled));
    }

    #[test]
    fn weeks_start_on_monday() {
        let week = QuotaSettings { period: "WEEK".into(), ..Default::default() };
        let sunday = chrono::DateTime::parse_from_rfc3339("2026-11-29T23:00:00Z").unwrap().to_utc();
        let monday = chrono::DateTime::parse_from_rfc3339("2026-11-30T01:00:00Z").unwrap().to_utc();
        assert_eq!(period_of(&week, monday) - period_of(&week, sunday), 1);
        let month = QuotaSettings { period: "MONTH".into(), ..Default::default() };
        assert_eq!(period_of(&month, monday) + 1, period_of(&month, monday + chrono::Duration::days(1)));
    }
}
