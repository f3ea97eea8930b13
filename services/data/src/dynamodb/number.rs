//! DynamoDB numbers: decimals of up to 38 significant digits with a
//! magnitude between 1E-130 and 9.99…E+125, exact (never a float), with
//! DynamoDB's canonical text form and an order-preserving byte encoding for
//! sort keys.

use std::{cmp::Ordering, fmt, str::FromStr};

use bigdecimal::{BigDecimal, Signed, Zero};

use super::error::DynamoError;

/// The largest number of significant digits DynamoDB stores.
const MAX_DIGITS: usize = 38;
/// Smallest and largest decimal exponents, as `0.d… × 10^exp`.
const MIN_EXPONENT: i64 = -129;
const MAX_EXPONENT: i64 = 126;

/// An exact DynamoDB number, always normalized (no trailing zeros).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(BigDecimal);

impl Number {
    pub fn zero() -> Self {
        Number(BigDecimal::zero())
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// The significant digits and the exponent `e` of `0.d₁d₂… × 10^e`.
    fn digits_and_exponent(&self) -> (String, i64) {
        let (integer, scale) = self.0.as_bigint_and_exponent();
        let digits = integer.abs().to_string();
        let exponent = digits.len() as i64 - scale;
        (digits, exponent)
    }

    fn checked(value: BigDecimal) -> Result<Self, DynamoError> {
        let number = Number(value.normalized());
        if number.is_zero() {
            return Ok(Number::zero());
        }
        let (digits, exponent) = number.digits_and_exponent();
        if digits.len() > MAX_DIGITS {
            return Err(DynamoError::validation("Attempting to store more than 38 significant digits in a Number"));
        }
        if exponent > MAX_EXPONENT {
            return Err(DynamoError::validation(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ));
        }
        if exponent < MIN_EXPONENT {
            return Err(DynamoError::validation(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ));
        }
        Ok(number)
    }

    pub fn checked_add(&self, other: &Number) -> Result<Number, DynamoError> {
        Number::checked(&self.0 + &other.0)
    }

    pub fn checked_sub(&self, other: &Number) -> Result<Number, DynamoError> {
        Number::checked(&self.0 - &other.0)
    }

    /// A byte string whose lexicographic order is the numeric order, for
    /// sort keys: sign class, then exponent, then digits (complemented and
    /// terminated for negatives, so larger magnitudes sort first).
    pub fn sort_key(&self) -> Vec<u8> {
        if self.is_zero() {
            return vec![0x01];
        }
        let (digits, exponent) = self.digits_and_exponent();
        // The exponent range fits comfortably in a u16 once offset.
        let biased = (exponent + 1024) as u16;
        if self.0.is_positive() {
            let mut key = vec![0x02];
            key.extend_from_slice(&biased.to_be_bytes());
            key.extend(digits.bytes().map(|d| d - b'0' + 1));
            key
        } else {
            let mut key = vec![0x00];
            key.extend_from_slice(&(u16::MAX - biased).to_be_bytes());
            key.extend(digits.bytes().map(|d| 10 - (d - b'0')));
            key.push(0xff);
            key
        }
    }
}

impl FromStr for Number {
    type Err = DynamoError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid =
            || DynamoError::validation(format!("The parameter cannot be converted to a numeric value: {text}"));
        let plausible = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
            && text.bytes().any(|b| b.is_ascii_digit());
        if !plausible {
            return Err(invalid());
        }
        // Bounded work: no valid number needs this many characters.
        if text.len() > 200 {
            return Err(DynamoError::validation("Attempting to store more than 38 significant digits in a Number"));
        }
        let value = BigDecimal::from_str(text).map_err(|_| invalid())?;
        Number::checked(value)
    }
}

impl fmt::Display for Number {
    /// The plain decimal form DynamoDB answers with (`1E+2` reads back as `100`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let (digits, exponent) = self.digits_and_exponent();
        if self.0.is_negative() {
            f.write_str("-")?;
        }
        if exponent <= 0 {
            write!(f, "0.{}{digits}", "0".repeat((-exponent) as usize))
        } else if exponent as usize >= digits.len() {
            write!(f, "{digits}{}", "0".repeat(exponent as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(exponent as usize);
            write!(f, "{whole}.{fraction}")
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        text.parse().unwrap()
    }

    #[test]
    fn canonical_text() {
        assert_eq!(n("1E+2").to_string(), "100");
        assert_eq!(n("0100.500").to_string(), "100.5");
        assert_eq!(n("-0.00120").to_string(), "-0.0012");
        assert_eq!(n("-0").to_string(), "0");
        assert_eq!(n("12345678901234567890123456789012345678").to_string(), "12345678901234567890123456789012345678");
    }

    #[test]
    fn exact_arithmetic_without_floats() {
        assert_eq!(n("0.1").checked_add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(
            n("99999999999999999999999999999999999999").checked_sub(&n("1")).unwrap().to_string(),
            "99999999999999999999999999999999999998"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let too_precise = "1.2345678901234567890123456789012345678901";
        assert!(too_precise.parse::<Number>().unwrap_err().message().contains("38 significant digits"));
        assert!("1E+126".parse::<Number>().unwrap_err().message().contains("overflow"));
        assert!("1E-131".parse::<Number>().unwrap_err().message().contains("underflow"));
        assert!("9.9999999999999999999999999999999999999E+125".parse::<Number>().is_ok());
        assert!("1E-130".parse::<Number>().is_ok());
        for bad in ["", "abc", "NaN", "Infinity", "1.2.3", " 1", "0x10", "--1"] {
            assert_eq!(
                bad.parse::<Number>().unwrap_err().message(),
                format!("The parameter cannot be converted to a numeric value: {bad}"),
                "{bad}"
            );
        }
    }

    #[test]
    fn sort_keys_follow_numeric_order() {
        let mut values: Vec<Number> = [
            "-1000", "-12.5", "-12", "-0.123", "-0.12", "0", "0.0001", "0.12", "0.123", "1", "9", "10", "12.5",
            "1E+100",
        ]
        .iter()
        .map(|t| n(t))
        .collect();
        let expected = values.clone();
        values.reverse();
        values.sort_by_key(Number::sort_key);
        assert_eq!(values, expected);
    }
}
