//! What a store's array holds: escape counts (`uint16`) or smooth escape values (`float32`).
//!
//! [`StoreValues`] is the run-time choice a description records (and a spec's `values` key
//! sets); [`StoredElement`] is the element type a [`super::ZarrSink`] is written with (`u16` or
//! `f32`), tying each Rust type to its zarrs data type, fill value and attributes.

use serde_json::{Value, json};
use zarrs::array::{DataType, Element, ElementOwned, FillValue, data_type};
use zoomstack_engine::Sample;
use zoomstack_kernel::spec::{SMOOTH_BAILOUT, SMOOTH_MAX_EXTRA};

/// The values a zoomstack array stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StoreValues {
    /// Escape counts (`uint16`, fill value 65535): the stack's own values.
    #[default]
    Counts,
    /// Smooth escape values (`float32`, fill value NaN): the kernel's `smooth_scalar`.
    Smooth,
}

impl StoreValues {
    /// `"counts"` or `"smooth"` (the spec's `values` key and the attribute `values`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StoreValues::Counts => "counts",
            StoreValues::Smooth => "smooth",
        }
    }

    /// The Zarr data type: `"uint16"` or `"float32"`.
    #[must_use]
    pub fn data_type(self) -> &'static str {
        match self {
            StoreValues::Counts => "uint16",
            StoreValues::Smooth => "float32",
        }
    }

    /// Bytes per value.
    #[must_use]
    pub fn bytes(self) -> u64 {
        match self {
            StoreValues::Counts => 2,
            StoreValues::Smooth => 4,
        }
    }

    /// The name of a new store's array in its root group: `"counts"` or `"smooth"`.
    #[must_use]
    pub fn default_array(self) -> &'static str {
        self.name()
    }

    /// The values of an array of Zarr data type `name`, if zoomstack writes it.
    #[must_use]
    pub fn of_data_type(name: &str) -> Option<StoreValues> {
        [StoreValues::Counts, StoreValues::Smooth]
            .into_iter()
            .find(|v| v.data_type() == name)
    }

    /// CF `long_name` and `units` of the array.
    pub(super) fn cf_attributes(self) -> [(String, Value); 2] {
        let (long_name, units) = match self {
            StoreValues::Counts => ("escape count", "1"),
            StoreValues::Smooth => ("smooth escape value", "iterations"),
        };
        [
            ("long_name".into(), json!(long_name)),
            ("units".into(), json!(units)),
        ]
    }

    /// The keys this kind of values adds to the `zoomstack` attribute: none for counts (their
    /// stores are what they always were), `values` and the formula for smooth values.
    pub(super) fn zoomstack_keys(self) -> Option<[(&'static str, Value); 2]> {
        match self {
            StoreValues::Counts => None,
            StoreValues::Smooth => Some([
                ("values", json!("smooth")),
                (
                    "smooth",
                    json!({
                        "formula": "nu = n + 1 - log2(log2(|z_n|)) as float32, where z_n continues \
                            the escaping orbit (count k, first |z_(k+1)| > 2) with the same update \
                            until |z_n| > bailout (at most max_extra more updates; n counts updates \
                            like k) and log2|z_n| = 0.5 * log2(zr^2 + zi^2) in f64",
                        "bailout": SMOOTH_BAILOUT,
                        "max_extra": SMOOTH_MAX_EXTRA,
                        "interior": "max_iter (pixels that never escape within max_iter updates)",
                        "fill_value": "NaN (never a smooth value: marks units not written yet)",
                    }),
                ),
            ]),
        }
    }
}

impl std::str::FromStr for StoreValues {
    type Err = String;
    /// `counts` or `smooth`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "counts" => Ok(StoreValues::Counts),
            "smooth" => Ok(StoreValues::Smooth),
            other => Err(format!(
                "unknown values {other:?}: expected \"counts\" (uint16 escape counts) or \"smooth\" (float32 smooth escape values)"
            )),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u16 {}
    impl Sealed for f32 {}
}

/// An element type a Zarr sink stores: `u16` counts or `f32` smooth values (sealed).
pub trait StoredElement: Sample + Element + ElementOwned + sealed::Sealed {
    /// Which values arrays of this element hold.
    const VALUES: StoreValues;
    /// What a reader sees where no unit was written ([`super::FILL_VALUE`] for counts, NaN
    /// for smooth values: never a value either writes, see the kernel's `spec`).
    const FILL: Self;

    /// The zarrs data type.
    fn zarr_data_type() -> DataType;

    /// The fill value, for zarrs.
    fn fill_value() -> FillValue;

    /// Appends the little-endian bytes of `self` to `out`.
    fn push_le_bytes(self, out: &mut Vec<u8>);

    /// The value of every pixel of a unit whose count is proven to be `count` (exact contract):
    /// the count itself, or `None` for smooth values (only counts have proven-constant units).
    fn of_proven_count(count: u16) -> Option<Self>;
}

impl StoredElement for u16 {
    const VALUES: StoreValues = StoreValues::Counts;
    const FILL: u16 = super::FILL_VALUE;

    fn zarr_data_type() -> DataType {
        data_type::uint16()
    }

    fn fill_value() -> FillValue {
        FillValue::from(Self::FILL)
    }

    fn push_le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn of_proven_count(count: u16) -> Option<u16> {
        Some(count)
    }
}

impl StoredElement for f32 {
    const VALUES: StoreValues = StoreValues::Smooth;
    const FILL: f32 = f32::NAN;

    fn zarr_data_type() -> DataType {
        data_type::float32()
    }

    fn fill_value() -> FillValue {
        FillValue::from(Self::FILL)
    }

    fn push_le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn of_proven_count(_count: u16) -> Option<f32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_parsing() {
        for v in [StoreValues::Counts, StoreValues::Smooth] {
            assert_eq!(v.name().parse::<StoreValues>(), Ok(v));
            assert_eq!(StoreValues::of_data_type(v.data_type()), Some(v));
        }
        assert_eq!(StoreValues::Smooth.data_type(), "float32");
        assert_eq!(StoreValues::Smooth.bytes(), 4);
        assert_eq!(StoreValues::of_data_type("int8"), None);
        assert!(
            "bands"
                .parse::<StoreValues>()
                .unwrap_err()
                .contains("smooth")
        );
        assert!(StoreValues::Counts.zoomstack_keys().is_none());
        assert_eq!(<f32 as StoredElement>::VALUES, StoreValues::Smooth);
        assert!(<f32 as StoredElement>::FILL.is_nan());
        assert_eq!(<f32 as StoredElement>::of_proven_count(3), None);
        assert_eq!(<u16 as StoredElement>::of_proven_count(3), Some(3));
    }
}
