//! Anesthesia unit arithmetic shared by benchmarks and pricing. Money and units are decimals, never
//! floats; amounts are rounded once, to cents, at the end.

use rust_decimal::{Decimal, RoundingStrategy};

/// How minutes become time units. The claim always carries minutes; payers differ in how they divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeUnitRule {
    pub unit_minutes: u32,
    /// Decimal places kept (Medicare: one, "only the actual time of a fractional unit is recognized").
    pub decimals: u32,
}

impl TimeUnitRule {
    /// Medicare: minutes / 15 to one decimal place (17 min = 1.1 units; 129 min = 8.6 units).
    pub const MEDICARE: TimeUnitRule = TimeUnitRule { unit_minutes: 15, decimals: 1 };

    pub fn units(&self, minutes: u32) -> Decimal {
        let mut units = (Decimal::from(minutes) / Decimal::from(self.unit_minutes))
            .round_dp_with_strategy(self.decimals, RoundingStrategy::MidpointAwayFromZero);
        units.rescale(self.decimals); // 2 -> 2.0, so the precision shows
        units
    }
}

/// Units x conversion factor, rounded half-up to cents.
pub fn allowed_amount(units: Decimal, conversion_factor: Decimal) -> Decimal {
    (units * conversion_factor).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// An amount as a count of cents, as the table and gRPC faces carry money: one conversion for both,
/// so they never disagree on an amount. The core rounds every amount it prices to cents and charges
/// come in cents, so this is exact; more places are rounded by the core's own rounding to cents, and a
/// count past i64 stops at its end.
pub fn cents_count(amount: Decimal) -> i64 {
    // Mostly 0-2 places: the mantissa times 100, 10 or 1, where rounding works on 96-bit parts.
    const POWERS: [i64; 3] = [100, 10, 1];
    let quick = POWERS.get(amount.scale() as usize).and_then(|&p| small_mantissa(amount)?.checked_mul(p));
    quick.unwrap_or_else(|| {
        let cents = crate::pricing::cents(amount);
        let saturated = if cents.is_sign_negative() { i64::MIN } else { i64::MAX };
        small_mantissa(cents).unwrap_or(saturated)
    })
}

/// `value.mantissa()` when it fits an i64, read from the decimal's 96-bit parts: the i128 that
/// `mantissa` makes, negated and narrowed, costs twice the instructions.
#[inline]
pub fn small_mantissa(value: Decimal) -> Option<i64> {
    let parts = value.unpack();
    let magnitude = (u64::from(parts.mid) << 32) | u64::from(parts.lo);
    match (parts.hi, parts.negative) {
        (0, false) => i64::try_from(magnitude).ok(),
        (0, true) => 0i64.checked_sub_unsigned(magnitude),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::edge_decimals;
    use rust_decimal::dec;

    #[test]
    fn medicare_time_units_match_the_published_examples() {
        assert_eq!(TimeUnitRule::MEDICARE.units(17), dec!(1.1));
        assert_eq!(TimeUnitRule::MEDICARE.units(129), dec!(8.6));
        assert_eq!(TimeUnitRule::MEDICARE.units(90), dec!(6.0));
        assert_eq!(TimeUnitRule::MEDICARE.units(0).to_string(), "0.0");
        assert_eq!(TimeUnitRule::MEDICARE.units(30).to_string(), "2.0");
    }

    #[test]
    fn small_mantissa_is_the_mantissa_when_it_fits_an_i64() {
        for value in edge_decimals() {
            assert_eq!(small_mantissa(value), i64::try_from(value.mantissa()).ok(), "{value:?}");
        }
    }

    /// The quick path gives what rust_decimal's rounding gives, and a count past i64 stops at its end.
    #[test]
    fn cents_count_is_the_amount_rounded_to_cents() {
        for amount in edge_decimals() {
            let rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            let end = if amount.is_sign_negative() { i64::MIN } else { i64::MAX };
            let want = (rounded.checked_mul(Decimal::ONE_HUNDRED))
                .and_then(|cents| i64::try_from(cents.mantissa() / 10i128.pow(cents.scale())).ok())
                .unwrap_or(end);
            assert_eq!(cents_count(amount), want, "{amount:?}");
        }
        assert_eq!(cents_count(dec!(264.13)), 26_413);
        assert_eq!(cents_count(dec!(-0.005)), -1);
        assert_eq!(cents_count(dec!(0.004)), 0);
        assert_eq!(cents_count(dec!(7)), 700);
    }

    #[test]
    fn worked_example_00632_ninety_minutes() {
        // shared/domain/anesthesia-billing.md 1.3: 13 units x $20.3178 = $264.13; CY2026 non-QP $266.47.
        assert_eq!(allowed_amount(dec!(13.0), dec!(20.3178)), dec!(264.13));
        assert_eq!(allowed_amount(dec!(13.0), dec!(20.4976)), dec!(266.47));
    }
}
