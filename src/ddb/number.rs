//! DynamoDB numbers, exactly: parsing, validation and the conversions the warehouse columns need.
//!
//! DynamoDB sends numbers as decimal text with up to 38 significant digits and a magnitude between
//! 1E-130 and 9.9…9E+125. Nothing here goes through `f64` except [`Number::to_f64`], which only
//! `double precision` columns use: every other conversion is decided on the decimal digits, so a
//! value is either carried over exactly or rejected with a reason.

/// Most significant digits a DynamoDB number may have.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;
/// Smallest adjusted exponent of a non-zero number (1E-130).
const MIN_ADJUSTED_EXPONENT: i64 = -130;
/// Largest adjusted exponent of a number (9.9…9E+125).
const MAX_ADJUSTED_EXPONENT: i64 = 125;
/// Longest number text quoted back in an error message.
const MAX_QUOTED_TEXT: usize = 64;

/// Why a text is not a DynamoDB number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("`{text}` is not a number (expected digits with an optional sign, decimal point and exponent)")]
    Syntax { text: String },
    #[error("`{text}` has {digits} significant digits; DynamoDB numbers have at most 38")]
    TooManyDigits { text: String, digits: usize },
    #[error("`{text}` is outside DynamoDB's number range (magnitude 1E-130 to 9.9…9E+125)")]
    OutOfRange { text: String },
}

/// Why a number does not fit a `decimal(p,s)` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalFitError {
    #[error("it has {actual} fractional digits and the column keeps {scale}; rounding would change it")]
    TooManyFractionDigits { actual: usize, scale: u8 },
    #[error("it has {actual} integer digits and the column holds at most {allowed}")]
    TooManyIntegerDigits { actual: usize, allowed: usize },
}

/// A validated DynamoDB number in normalized form: `value = ±digits × 10^exponent`, where
/// `digits` has no leading or trailing zeros (and is empty for zero, which is never negative).
/// The digits live inline (at most 38), so parsing never allocates: the stage step converts
/// millions of numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: [u8; MAX_SIGNIFICANT_DIGITS],
    len: u8,
    exponent: i64,
}

impl Number {
    /// Parses DynamoDB number text: optional sign, digits with an optional decimal point (`.5` and
    /// `5.` are accepted), optional exponent (`e`/`E`, optional sign). Leading and trailing zeros
    /// do not count as significant, as in DynamoDB.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let parts = split_parts(text).ok_or_else(|| NumberError::Syntax { text: quoted(text) })?;
        // The mantissa is `integer` then `fraction`. Its significant digits run from the first
        // non-zero digit to the last, taken as (head, tail) slices of the two parts: every number
        // of every export goes through here, and slices beat a chained iterator walked twice.
        let (integer, fraction) = (parts.integer.as_bytes(), parts.fraction.as_bytes());
        let (head, tail) = match without_leading_zeros(integer) {
            [] => (&[][..], without_leading_zeros(fraction)),
            digits => (digits, fraction),
        };
        let seen = head.len() + tail.len(); // digits from the first non-zero one on
        let (head, tail) = match without_trailing_zeros(tail) {
            [] => (without_trailing_zeros(head), &[][..]),
            digits => (head, digits),
        };
        let significant = head.len() + tail.len();
        if significant == 0 {
            return Ok(Number::zero());
        }
        if significant > MAX_SIGNIFICANT_DIGITS {
            return Err(NumberError::TooManyDigits { text: quoted(text), digits: significant });
        }
        let mut number = Number::zero();
        number.digits[..head.len()].copy_from_slice(head);
        number.digits[head.len()..significant].copy_from_slice(tail);
        number.len = significant as u8;
        number.negative = parts.negative;
        let trailing_zeros = (seen - significant) as i64;
        number.exponent =
            parts.exponent.saturating_sub(parts.fraction.len() as i64).saturating_add(trailing_zeros);
        let adjusted = number.adjusted_exponent();
        if !(MIN_ADJUSTED_EXPONENT..=MAX_ADJUSTED_EXPONENT).contains(&adjusted) {
            return Err(NumberError::OutOfRange { text: quoted(text) });
        }
        Ok(number)
    }

    fn zero() -> Number {
        Number { negative: false, digits: [0; MAX_SIGNIFICANT_DIGITS], len: 0, exponent: 0 }
    }

    /// The significant digits as ASCII (empty for zero).
    fn digits(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    pub fn is_zero(&self) -> bool {
        self.len == 0
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The exponent in scientific notation (`1.23E+4` → 4).
    fn adjusted_exponent(&self) -> i64 {
        self.exponent.saturating_add(i64::from(self.len) - 1)
    }

    /// Digits left of the decimal point in plain notation (0 for `0.5`).
    pub fn integer_digits(&self) -> usize {
        if self.is_zero() {
            return 0;
        }
        (i64::from(self.len) + self.exponent).max(0) as usize
    }

    /// Digits right of the decimal point in plain notation, without trailing zeros.
    pub fn fraction_digits(&self) -> usize {
        (-self.exponent).max(0) as usize
    }

    /// Appends the canonical plain notation: no exponent, no leading zeros, no trailing
    /// fractional zeros, no `-0` (`"12.5"`, `"-0.001"`, `"100"`, `"0"`). It is also valid JSON
    /// number syntax, so it serves both `decimal` columns and numbers inside JSON.
    pub fn write_plain(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(b'0');
            return;
        }
        if self.negative {
            out.push(b'-');
        }
        let digits = self.digits();
        if self.exponent >= 0 {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', self.exponent as usize));
            return;
        }
        let point = i64::from(self.len) + self.exponent;
        if point > 0 {
            let (integer, fraction) = digits.split_at(point as usize);
            out.extend_from_slice(integer);
            out.push(b'.');
            out.extend_from_slice(fraction);
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-point) as usize));
            out.extend_from_slice(digits);
        }
    }

    /// The canonical plain notation as a new string (see [`Number::write_plain`]).
    pub fn to_plain(&self) -> String {
        let mut out = Vec::new();
        self.write_plain(&mut out);
        // Only ASCII digits, '-' and '.' were written.
        out.into_iter().map(char::from).collect()
    }

    /// Whether the number fits `decimal(precision, scale)` without rounding.
    pub fn fits_decimal(&self, precision: u8, scale: u8) -> Result<(), DecimalFitError> {
        let fraction = self.fraction_digits();
        if fraction > usize::from(scale) {
            return Err(DecimalFitError::TooManyFractionDigits { actual: fraction, scale });
        }
        let allowed = usize::from(precision.saturating_sub(scale));
        let integer = self.integer_digits();
        if integer > allowed {
            return Err(DecimalFitError::TooManyIntegerDigits { actual: integer, allowed });
        }
        Ok(())
    }

    /// `value × 10^scale` when that is an integer that fits an `i128`, else `None`. With scale 0
    /// this is "the number as an integer"; with scale 6 it turns seconds into microseconds.
    pub fn scaled_integer(&self, scale: u32) -> Option<i128> {
        if self.is_zero() {
            return Some(0);
        }
        let exponent = self.exponent.checked_add(i64::from(scale))?;
        if exponent < 0 || i64::from(self.len) + exponent > 39 {
            return None;
        }
        let mut value: i128 = 0;
        for &digit in self.digits() {
            value = value.checked_mul(10)?.checked_add(i128::from(digit - b'0'))?;
        }
        for _ in 0..exponent {
            value = value.checked_mul(10)?;
        }
        Some(if self.negative { -value } else { value })
    }

    /// The number as an `i64` when it is integral and in range.
    pub fn to_i64(&self) -> Option<i64> {
        self.scaled_integer(0).and_then(|v| i64::try_from(v).ok())
    }

    /// The nearest `f64`. Only for `double precision` columns, the one type allowed to round.
    pub fn to_f64(&self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        let sign = if self.negative { "-" } else { "" };
        let digits: String = self.digits().iter().map(|&b| char::from(b)).collect();
        // Rust's float parsing rounds correctly, and the range (≤ 1E+126) is finite in f64.
        format!("{sign}{digits}e{}", self.exponent).parse().unwrap_or(f64::NAN)
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_plain())
    }
}

impl std::str::FromStr for Number {
    type Err = NumberError;

    fn from_str(text: &str) -> Result<Number, NumberError> {
        Number::parse(text)
    }
}

/// Appends `text` as a JSON number in canonical plain notation. Texts that already are canonical
/// and short (what DynamoDB writes almost always) are copied without parsing; the rest are
/// parsed, validated and rewritten.
pub fn write_json_number(text: &str, out: &mut Vec<u8>) -> Result<(), NumberError> {
    if is_short_canonical(text.as_bytes()) {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    Number::parse(text)?.write_plain(out);
    Ok(())
}

/// Whether `text` is already in canonical plain notation and too short to break DynamoDB's
/// limits (≤ 38 characters means ≤ 38 digits and a magnitude between 1E-36 and 1E+38).
fn is_short_canonical(text: &[u8]) -> bool {
    if text.is_empty() || text.len() > MAX_SIGNIFICANT_DIGITS {
        return false;
    }
    let unsigned = text.strip_prefix(b"-").unwrap_or(text);
    let (integer, fraction) = match unsigned.iter().position(|&b| b == b'.') {
        Some(point) => (&unsigned[..point], Some(&unsigned[point + 1..])),
        None => (unsigned, None),
    };
    let integer_ok = integer == b"0" || (integer.first().is_some_and(|b| (b'1'..=b'9').contains(b)));
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if !integer_ok || !all_digits(integer) {
        return false;
    }
    match fraction {
        None => !(unsigned.len() < text.len() && integer == b"0"),
        Some(f) => !f.is_empty() && all_digits(f) && f.last() != Some(&b'0'),
    }
}

/// The syntactic parts of a number text.
struct Parts<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    exponent: i64,
}

/// Splits `[+-]digits[.digits][(e|E)[+-]digits]`; `None` when the text is not of that shape or
/// has no digit in the mantissa.
fn split_parts(text: &str) -> Option<Parts<'_>> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent_text) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(integer) || !digits_only(fraction) || integer.len() + fraction.len() == 0 {
        return None;
    }
    let exponent = match exponent_text {
        Some(e) => parse_exponent(e)?,
        None => 0,
    };
    Some(Parts { negative, integer, fraction, exponent })
}

fn without_leading_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&b| b == b'0').count();
    &digits[zeros..]
}

fn without_trailing_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().rev().take_while(|&&b| b == b'0').count();
    &digits[..digits.len() - zeros]
}

/// An exponent saturates instead of overflowing: anything that large fails the range check
/// anyway (or is zero, whose exponent does not matter).
fn parse_exponent(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude =
        digits.bytes().fold(0i64, |acc, b| acc.saturating_mul(10).saturating_add(i64::from(b - b'0')));
    Some(if negative { -magnitude } else { magnitude })
}

fn quoted(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_TEXT {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX_QUOTED_TEXT).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        Number::parse(text).unwrap().to_plain()
    }

    /// The significant digits and exponent by their definition, a digit at a time: what
    /// `Number::parse` must agree with.
    fn by_definition(integer: &str, fraction: &str, exponent: i64) -> (Vec<u8>, i64) {
        let mantissa: Vec<u8> = integer.bytes().chain(fraction.bytes()).skip_while(|&b| b == b'0').collect();
        let significant = mantissa.iter().rposition(|&b| b != b'0').map_or(0, |last| last + 1);
        let trailing = (mantissa.len() - significant) as i64;
        (mantissa[..significant].to_vec(), exponent - fraction.len() as i64 + trailing)
    }

    #[test]
    fn digits_and_exponent_agree_with_their_definition() {
        let parts = ["", "0", "00", "1", "10", "007", "100", "0120", "9000", "12345678901234567890"];
        for integer in parts {
            for fraction in parts {
                for (point, exponent) in [(false, 0), (true, 0), (true, 3), (true, -7)] {
                    if integer.is_empty() && fraction.is_empty() || !point && !fraction.is_empty() {
                        continue;
                    }
                    let text = match point {
                        false => integer.to_owned(),
                        true => format!("{integer}.{fraction}E{exponent}"),
                    };
                    let (digits, expected_exponent) = by_definition(integer, fraction, exponent);
                    if digits.len() > MAX_SIGNIFICANT_DIGITS {
                        let too_many =
                            NumberError::TooManyDigits { text: text.clone(), digits: digits.len() };
                        assert_eq!(Number::parse(&text).unwrap_err(), too_many);
                        continue;
                    }
                    let number = Number::parse(&text).unwrap();
                    assert_eq!(number.digits(), &digits[..], "{text}");
                    if !digits.is_empty() {
                        assert_eq!(number.exponent, expected_exponent, "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn normalizes_to_plain_notation() {
        assert_eq!(plain("12.5"), "12.5");
        assert_eq!(plain("12.50"), "12.5");
        assert_eq!(plain("007"), "7");
        assert_eq!(plain("100"), "100");
        assert_eq!(plain("-0.001"), "-0.001");
        assert_eq!(plain("+3"), "3");
        assert_eq!(plain(".5"), "0.5");
        assert_eq!(plain("5."), "5");
        assert_eq!(plain("1.5E3"), "1500");
        assert_eq!(plain("1.5e+3"), "1500");
        assert_eq!(plain("15e-3"), "0.015");
        assert_eq!(plain("123.456E1"), "1234.56");
    }

    #[test]
    fn zero_has_one_form() {
        for text in ["0", "-0", "+0", "0.000", "-0.0e5", "00", "0e-999999999999999999999"] {
            let n = Number::parse(text).unwrap();
            assert!(n.is_zero(), "{text}");
            assert!(!n.is_negative(), "{text}");
            assert_eq!(n.to_plain(), "0", "{text}");
        }
    }

    #[test]
    fn allows_38_significant_digits_and_rejects_39() {
        let digits38 = "12345678901234567890123456789012345678";
        assert_eq!(plain(digits38), digits38);
        assert_eq!(plain(&format!("0.{digits38}")), format!("0.{digits38}"));
        let err = Number::parse(&format!("{digits38}9")).unwrap_err();
        assert!(matches!(err, NumberError::TooManyDigits { digits: 39, .. }), "{err}");
        assert!(err.to_string().contains("at most 38"));
    }

    #[test]
    fn trailing_and_leading_zeros_are_not_significant() {
        let long_zeros = format!("1{}", "0".repeat(60));
        assert_eq!(plain(&long_zeros), long_zeros);
        assert_eq!(plain(&format!("0.{}1", "0".repeat(50))), format!("0.{}1", "0".repeat(50)));
    }

    #[test]
    fn enforces_the_range() {
        assert_eq!(plain("1E-130"), format!("0.{}1", "0".repeat(129)));
        assert_eq!(plain("-1E-130"), format!("-0.{}1", "0".repeat(129)));
        let max = "9.9999999999999999999999999999999999999E+125";
        assert_eq!(plain(max).len(), 126);
        for text in ["1E-131", "1E+126", "-1E+126", "0.1E-130", "1e99999999999999999999999"] {
            let err = Number::parse(text).unwrap_err();
            assert!(matches!(err, NumberError::OutOfRange { .. }), "{text}: {err}");
        }
    }

    #[test]
    fn rejects_what_is_not_number_syntax() {
        for text in [
            "", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "1 ", " 1", "NaN", "Infinity", "0x10", "1_0",
            "--1", "1e5.0", "١",
        ] {
            let err = Number::parse(text).unwrap_err();
            assert!(matches!(err, NumberError::Syntax { .. }), "{text:?}: {err}");
        }
    }

    #[test]
    fn error_messages_quote_long_text_shortened() {
        let text = "x".repeat(500);
        let message = Number::parse(&text).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains('…'));
    }

    #[test]
    fn decimal_fit_counts_integer_and_fraction_digits() {
        let n = Number::parse("1234.56").unwrap();
        assert_eq!(n.fits_decimal(6, 2), Ok(()));
        assert_eq!(
            n.fits_decimal(10, 1),
            Err(DecimalFitError::TooManyFractionDigits { actual: 2, scale: 1 })
        );
        assert_eq!(
            n.fits_decimal(5, 2),
            Err(DecimalFitError::TooManyIntegerDigits { actual: 4, allowed: 3 })
        );
        assert_eq!(Number::parse("0.001").unwrap().fits_decimal(3, 3), Ok(()));
        assert_eq!(Number::parse("1E+2").unwrap().fits_decimal(3, 0), Ok(()));
        assert!(Number::parse("1E+3").unwrap().fits_decimal(3, 0).is_err());
        assert_eq!(Number::parse("0").unwrap().fits_decimal(1, 1), Ok(()));
        assert_eq!(Number::parse("12.500").unwrap().fits_decimal(3, 1), Ok(()));
    }

    #[test]
    fn integers_convert_exactly_or_not_at_all() {
        assert_eq!(Number::parse("42").unwrap().to_i64(), Some(42));
        assert_eq!(Number::parse("-4.2E1").unwrap().to_i64(), Some(-42));
        assert_eq!(Number::parse("1.0").unwrap().to_i64(), Some(1));
        assert_eq!(Number::parse("9223372036854775807").unwrap().to_i64(), Some(i64::MAX));
        assert_eq!(Number::parse("-9223372036854775808").unwrap().to_i64(), Some(i64::MIN));
        assert_eq!(Number::parse("9223372036854775808").unwrap().to_i64(), None);
        assert_eq!(Number::parse("1.5").unwrap().to_i64(), None);
        assert_eq!(Number::parse("1E+100").unwrap().to_i64(), None);
        assert_eq!(Number::parse("-0").unwrap().to_i64(), Some(0));
    }

    #[test]
    fn scaled_integer_turns_seconds_into_micros() {
        assert_eq!(Number::parse("1.25").unwrap().scaled_integer(6), Some(1_250_000));
        assert_eq!(Number::parse("1.0000001").unwrap().scaled_integer(6), None);
        assert_eq!(Number::parse("-2.5").unwrap().scaled_integer(1), Some(-25));
    }

    #[test]
    fn doubles_round_to_nearest() {
        assert_eq!(Number::parse("0.1").unwrap().to_f64(), 0.1);
        assert_eq!(Number::parse("-1.5E+125").unwrap().to_f64(), -1.5e125);
        assert_eq!(Number::parse("1E-130").unwrap().to_f64(), 1e-130);
        assert_eq!(Number::parse("0").unwrap().to_f64(), 0.0);
    }

    #[test]
    fn json_numbers_copy_canonical_text_and_rewrite_the_rest() {
        let json = |text: &str| {
            let mut out = Vec::new();
            write_json_number(text, &mut out).map(|()| String::from_utf8(out).unwrap())
        };
        for canonical in ["0", "-1", "12.5", "-0.001", "100"] {
            assert_eq!(json(canonical).unwrap(), canonical);
        }
        assert_eq!(json("-0").unwrap(), "0");
        assert_eq!(json("1.50").unwrap(), "1.5");
        assert_eq!(json("05").unwrap(), "5");
        assert_eq!(json(".5").unwrap(), "0.5");
        assert_eq!(json("1E2").unwrap(), "100");
        assert_eq!(json("+1").unwrap(), "1");
        assert_eq!(json("1.").unwrap(), "1");
        assert!(json("1E+126").is_err());
        assert!(json("abc").is_err());
        assert!(json("").is_err());
    }

    #[test]
    fn canonical_check_is_strict() {
        for yes in ["0", "7", "-7", "0.5", "-0.5", "10", "1.01"] {
            assert!(is_short_canonical(yes.as_bytes()), "{yes}");
        }
        for no in ["", "-", "-0", "00", "01", "1.", ".5", "1.50", "+1", "1e5", "1.a", "-0.0"] {
            assert!(!is_short_canonical(no.as_bytes()), "{no}");
        }
    }
}
