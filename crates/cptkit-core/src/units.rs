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

#[cfg(test)]
mod tests {
    use super::*;
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
    fn worked_example_00632_ninety_minutes() {
        // shared/domain/anesthesia-billing.md 1.3: 13 units x $20.3178 = $264.13; CY2026 non-QP $266.47.
        assert_eq!(allowed_amount(dec!(13.0), dec!(20.3178)), dec!(264.13));
        assert_eq!(allowed_amount(dec!(13.0), dec!(20.4976)), dec!(266.47));
    }
}
