//! DescribeContinuousBackups and UpdateContinuousBackups inputs.

use serde::Deserialize;

use super::{Input, Violations};

/// The longest recovery period DynamoDB keeps, in days.
pub const MAX_RECOVERY_DAYS: i64 = 35;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PointInTimeRecoverySpecification {
    pub point_in_time_recovery_enabled: Option<bool>,
    pub recovery_period_in_days: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateContinuousBackupsInput {
    pub table_name: Option<String>,
    pub point_in_time_recovery_specification: Option<PointInTimeRecoverySpecification>,
}

impl UpdateContinuousBackupsInput {
    pub fn name(&self) -> &str {
        self.table_name.as_deref().unwrap_or_default()
    }
}

impl Input for UpdateContinuousBackupsInput {
    fn validate(&self, violations: &mut Violations) {
        violations.table_name(self.table_name.as_deref(), "tableName");
        let member = "pointInTimeRecoverySpecification";
        violations.not_null(&self.point_in_time_recovery_specification, member);
        if let Some(specification) = &self.point_in_time_recovery_specification {
            violations.not_null(
                &specification.point_in_time_recovery_enabled,
                "pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled",
            );
            let days = specification.recovery_period_in_days;
            let member = "pointInTimeRecoverySpecification.recoveryPeriodInDays";
            violations.at_least(days, member, 1);
            violations.at_most(days, member, MAX_RECOVERY_DAYS);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dynamodb::{error::ErrorKind, input::parse};

    #[test]
    fn the_specification_and_its_flag_are_required() {
        let message = parse::<UpdateContinuousBackupsInput>(&json!({"TableName": "things"})).unwrap_err();
        assert_eq!(
            message.message(),
            "1 validation error detected: Value null at 'pointInTimeRecoverySpecification' failed to satisfy constraint: Member must not be null"
        );
        let message = parse::<UpdateContinuousBackupsInput>(
            &json!({"TableName": "things", "PointInTimeRecoverySpecification": {}}),
        )
        .unwrap_err();
        assert_eq!(
            message.message(),
            "1 validation error detected: Value null at 'pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn the_recovery_period_is_one_to_thirty_five_days() {
        for (days, constraint) in [(0, "greater than or equal to 1"), (36, "less than or equal to 35")] {
            let error = parse::<UpdateContinuousBackupsInput>(&json!({"TableName": "things",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": days}}))
            .unwrap_err();
            assert_eq!(
                error.message(),
                format!(
                    "1 validation error detected: Value '{days}' at 'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: Member must have value {constraint}"
                )
            );
        }
    }

    #[test]
    fn a_fractional_or_textual_period_is_a_serialization_error() {
        let error = parse::<UpdateContinuousBackupsInput>(&json!({"TableName": "things",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": "7"}}))
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::Serialization);
        assert_eq!(error.message(), "STRING_VALUE cannot be converted to Integer");
    }
}
