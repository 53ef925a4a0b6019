//! Colours from smooth escape values (`f32`, the kernel's `smooth_scalar`): a continuous
//! position in the colormap, interpolated between its 256 entries, so colour changes
//! gradually where the integer counts jump and no bands appear.

use ndarray::ArrayView2;

use crate::{Colormap, Scaling, SinkError};

/// How a frame sink colours its frames: from integer counts or from smooth values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Colouring {
    /// From counts: `scaling` to an 8-bit index, then the colormap's entry (the notebook's way).
    Counts {
        /// The colormap.
        colormap: Colormap,
        /// Count-to-index scaling.
        scaling: Scaling,
    },
    /// From smooth values, interpolated between colormap entries ([`SmoothColours`]).
    Smooth(SmoothColours),
}

impl Colouring {
    /// `true` when the sink takes smooth values (`f32` frames).
    pub fn is_smooth(&self) -> bool {
        matches!(self, Colouring::Smooth(_))
    }

    /// The colormap.
    pub fn colormap(&self) -> Colormap {
        match self {
            Colouring::Counts { colormap, .. } => *colormap,
            Colouring::Smooth(s) => s.colormap,
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    ///
    /// The errors of [`Scaling::validate`] and [`SmoothColours::validate`].
    pub fn validate(&self) -> Result<(), SinkError> {
        match self {
            Colouring::Counts { scaling, .. } => scaling.validate(),
            Colouring::Smooth(s) => s.validate(),
        }
    }

    /// The colormap and count scaling of [`Colouring::Counts`].
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] naming `sink` for [`Colouring::Smooth`] (a frame of counts
    /// for a sink that colours smooth values).
    pub fn expect_counts(
        &self,
        sink: &'static str,
        level: u64,
    ) -> Result<(Colormap, Scaling), SinkError> {
        match self {
            Colouring::Counts { colormap, scaling } => Ok((*colormap, *scaling)),
            Colouring::Smooth(_) => Err(SinkError::FrameValues {
                sink,
                expected: "smooth values",
                got: "counts",
                level,
            }),
        }
    }

    /// The [`SmoothColours`] of [`Colouring::Smooth`].
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] naming `sink` for [`Colouring::Counts`] (a frame of smooth
    /// values for a sink that colours counts).
    pub fn expect_smooth(
        &self,
        sink: &'static str,
        level: u64,
    ) -> Result<SmoothColours, SinkError> {
        match self {
            Colouring::Smooth(s) => Ok(*s),
            Colouring::Counts { .. } => Err(SinkError::FrameValues {
                sink,
                expected: "counts",
                got: "smooth values",
                level,
            }),
        }
    }

    /// Colours a frame of counts into RGB triples (`out` resized to `3 * height * width`).
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] for [`Colouring::Smooth`]; the errors of [`Scaling::apply`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn counts_rgb(
        &self,
        level: u64,
        frame: ArrayView2<'_, u16>,
        indices: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<(), SinkError> {
        let (colormap, scaling) = self.expect_counts("smooth colouring", level)?;
        scaling.apply(frame, indices)?;
        crate::frames::colorize_rgb(indices, colormap, out);
        Ok(())
    }

    /// Colours a frame of smooth values into RGB triples.
    ///
    /// # Errors
    ///
    /// [`SinkError::FrameValues`] for [`Colouring::Counts`]; the errors of
    /// [`SmoothColours::apply`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn smooth_rgb(
        &self,
        level: u64,
        frame: ArrayView2<'_, f32>,
        out: &mut Vec<u8>,
    ) -> Result<(), SinkError> {
        self.expect_smooth("colouring from counts", level)?
            .apply(frame, out)
    }
}

/// How smooth values become colours.
///
/// The position of a value `v` in the colormap is, with `[Scaling::Fixed]` `max`,
/// `x = clamp(v / max, 0, 1)`; with [`Scaling::PerFrame`], `(v - lo) / (hi - lo)` over the
/// frame's finite values; with a `cycle` of `p` iterations, `x = frac(v / p)` (the colormap
/// repeats every `p` iterations, and a cyclic map such as `twilight` has no seam). The colour
/// is the colormap's table at `x * 255` (cycle: `x * 256`, wrapping), linearly interpolated
/// between the two nearest entries per channel and rounded. A NaN value gets entry 0.
///
/// Where a sink has only the colormap's 256 entries to show (a GIF's palette), a value gets
/// the entry nearest its position instead ([`SmoothColours::nearest_indices`]: `round(x * 255)`,
/// cycle: `round(x * 256) mod 256`): the same position, so the colours change by one palette
/// step where the interpolated ones change by less, and there are no count bands.
///
/// ```
/// use zoomstack_sinks::{Colormap, Scaling, SmoothColours};
/// let c = SmoothColours { colormap: Colormap::Gray, scaling: Scaling::Fixed { max: 255 }, cycle: None };
/// let frame = ndarray::arr2(&[[10.0f32, 10.5, 11.0]]);
/// let mut rgb = Vec::new();
/// c.apply(frame.view(), &mut rgb).unwrap();
/// assert_eq!(rgb, vec![10, 10, 10, 11, 11, 11, 11, 11, 11]); // 10.5 rounds half away from 0
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmoothColours {
    /// The colormap.
    pub colormap: Colormap,
    /// Value-to-position scaling (ignored with a `cycle`).
    pub scaling: Scaling,
    /// Iterations per colour cycle, if the colormap repeats.
    pub cycle: Option<f32>,
}

impl SmoothColours {
    /// Checks the parameters.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for a `cycle` that is not a finite number > 0, and the
    /// errors of [`Scaling::validate`].
    pub fn validate(&self) -> Result<(), SinkError> {
        self.scaling.validate()?;
        if let Some(p) = self.cycle
            && !(p.is_finite() && p > 0.0)
        {
            return Err(SinkError::invalid(
                "colour cycle",
                p,
                "expected a finite number of iterations > 0",
            ));
        }
        Ok(())
    }

    /// Colours one frame into `out` as row-major RGB triples (resized to `3 * height * width`).
    ///
    /// # Errors
    ///
    /// The errors of [`SmoothColours::validate`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray does.
    #[allow(clippy::needless_pass_by_value)]
    pub fn apply(&self, frame: ArrayView2<'_, f32>, out: &mut Vec<u8>) -> Result<(), SinkError> {
        self.validate()?;
        out.clear();
        out.reserve(3 * frame.len());
        let table = self.colormap.table();
        let position = self.position_fn(&frame);
        for row in frame.rows() {
            for &v in row {
                out.extend_from_slice(&interpolate(table, position(v), self.cycle.is_some()));
            }
        }
        Ok(())
    }

    /// The colormap entry nearest each value's position (the position [`SmoothColours::apply`]
    /// interpolates at, rounded half away from zero; with a `cycle`, 256 wraps to 0), one byte
    /// per pixel, row-major, into `out` (resized to `height * width`). What a sink with a
    /// palette of the colormap's 256 entries shows (GIF).
    ///
    /// ```
    /// use zoomstack_sinks::{Colormap, Scaling, SmoothColours};
    /// let c = SmoothColours { colormap: Colormap::Gray, scaling: Scaling::Fixed { max: 255 }, cycle: None };
    /// let frame = ndarray::arr2(&[[10.0f32, 10.49, 10.5, 300.0]]);
    /// let mut indices = Vec::new();
    /// c.nearest_indices(frame.view(), &mut indices).unwrap();
    /// assert_eq!(indices, vec![10, 10, 11, 255]);
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`SmoothColours::validate`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray does.
    #[allow(clippy::needless_pass_by_value)]
    pub fn nearest_indices(
        &self,
        frame: ArrayView2<'_, f32>,
        out: &mut Vec<u8>,
    ) -> Result<(), SinkError> {
        self.validate()?;
        out.clear();
        out.reserve(frame.len());
        let position = self.position_fn(&frame);
        let cyclic = self.cycle.is_some();
        for row in frame.rows() {
            out.extend(row.iter().map(|&v| nearest_entry(position(v), cyclic)));
        }
        Ok(())
    }

    /// The map from a value to its table position in `[0, 255]` (cycle: `[0, 256)`): the one
    /// rule both [`SmoothColours::apply`] and [`SmoothColours::nearest_indices`] follow.
    fn position_fn(&self, frame: &ArrayView2<'_, f32>) -> impl Fn(f32) -> f64 + use<> {
        let (scale, offset, cyclic) = match (self.cycle, self.scaling) {
            (Some(p), _) => (1.0 / f64::from(p), 0.0, true),
            (None, Scaling::Fixed { max }) => (1.0 / f64::from(max), 0.0, false),
            (None, Scaling::PerFrame) => {
                let (lo, hi) = frame
                    .iter()
                    .filter(|v| v.is_finite())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                        (lo.min(f64::from(v)), hi.max(f64::from(v)))
                    });
                let range = if hi > lo { hi - lo } else { 1.0 };
                (1.0 / range, if lo.is_finite() { lo } else { 0.0 }, false)
            }
        };
        move |v: f32| {
            let x = (f64::from(v) - offset) * scale;
            if x.is_nan() {
                0.0
            } else if cyclic {
                x.rem_euclid(1.0) * 256.0
            } else {
                x.clamp(0.0, 1.0) * 255.0
            }
        }
    }
}

/// The table entry nearest position `pos` (`[0, 255]`, or `[0, 256)` wrapping when `wrap`).
fn nearest_entry(pos: f64, wrap: bool) -> u8 {
    let i = pos.round();
    if wrap && i >= 256.0 {
        0
    } else {
        i.clamp(0.0, 255.0) as u8
    }
}

/// The colour at table position `pos`, interpolated between the two nearest entries.
fn interpolate(table: &[[u8; 3]; 256], pos: f64, wrap: bool) -> [u8; 3] {
    let i = (pos.floor() as usize).min(255);
    let f = pos - i as f64;
    let j = if wrap {
        (i + 1) % 256
    } else {
        (i + 1).min(255)
    };
    let (a, b) = (table[i], table[j]);
    std::array::from_fn(|k| {
        let v = f64::from(a[k]) * (1.0 - f) + f64::from(b[k]) * f;
        v.round().clamp(0.0, 255.0) as u8
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn colour(c: SmoothColours, values: &[f32]) -> Vec<[u8; 3]> {
        let a = Array2::from_shape_vec((1, values.len()), values.to_vec()).unwrap();
        let mut out = Vec::new();
        c.apply(a.view(), &mut out).unwrap();
        out.chunks(3).map(|p| [p[0], p[1], p[2]]).collect()
    }

    #[test]
    fn fixed_scaling_hits_table_entries_at_integers() {
        let c = SmoothColours {
            colormap: Colormap::Viridis,
            scaling: Scaling::Fixed { max: 255 },
            cycle: None,
        };
        let t = Colormap::Viridis.table();
        let got = colour(c, &[0.0, 17.0, 255.0, 300.0, -4.0, f32::NAN]);
        assert_eq!(got, vec![t[0], t[17], t[255], t[255], t[0], t[0]]);
    }

    #[test]
    fn cycle_wraps_without_a_seam() {
        let c = SmoothColours {
            colormap: Colormap::Twilight,
            scaling: Scaling::default(),
            cycle: Some(64.0),
        };
        let t = Colormap::Twilight.table();
        // One cycle later is the same colour; half an entry before the wrap mixes 255 and 0.
        let got = colour(c, &[8.0, 72.0, 64.0 * 255.5 / 256.0]);
        assert_eq!(got[0], t[32]);
        assert_eq!(got[1], t[32]);
        for k in 0..3 {
            let mid = f64::midpoint(f64::from(t[255][k]), f64::from(t[0][k]));
            assert!((f64::from(got[2][k]) - mid).abs() <= 0.5, "{got:?}");
        }
    }

    #[test]
    fn per_frame_stretches_finite_range() {
        let c = SmoothColours {
            colormap: Colormap::Gray,
            scaling: Scaling::PerFrame,
            cycle: None,
        };
        assert_eq!(
            colour(c, &[2.0, 4.0, 3.0]),
            vec![[0, 0, 0], [255, 255, 255], [128, 128, 128]]
        );
        assert_eq!(colour(c, &[5.0, 5.0]), vec![[0, 0, 0], [0, 0, 0]]);
    }

    fn nearest(c: SmoothColours, values: &[f32]) -> Vec<u8> {
        let a = Array2::from_shape_vec((1, values.len()), values.to_vec()).unwrap();
        let mut out = Vec::new();
        c.nearest_indices(a.view(), &mut out).unwrap();
        out
    }

    #[test]
    fn nearest_indices_round_the_interpolated_position() {
        let c = SmoothColours {
            colormap: Colormap::Viridis,
            scaling: Scaling::Fixed { max: 255 },
            cycle: None,
        };
        assert_eq!(
            nearest(c, &[0.0, 16.4, 16.6, 254.6, 300.0, -4.0, f32::NAN]),
            vec![0, 16, 17, 255, 255, 0, 0]
        );
        // With a cycle, 256 wraps to entry 0 (the neighbour of 255 that `apply` mixes in).
        let c = SmoothColours {
            cycle: Some(64.0),
            ..c
        };
        let e = 64.0 / 256.0; // one entry
        assert_eq!(
            nearest(c, &[8.0, 72.0, 255.4 * e, 255.6 * e, -0.3 * e]),
            vec![32, 32, 255, 0, 0]
        );
        // Per frame: the same stretch as `apply`.
        let c = SmoothColours {
            colormap: Colormap::Gray,
            scaling: Scaling::PerFrame,
            cycle: None,
        };
        let values = [2.0, 4.0, 3.0, 2.01];
        let gray: Vec<u8> = colour(c, &values).iter().map(|p| p[0]).collect();
        assert_eq!(nearest(c, &values), gray);
        // Invalid parameters are refused as by `apply`.
        let bad = SmoothColours {
            cycle: Some(0.0),
            ..c
        };
        let a = Array2::<f32>::zeros((1, 1));
        assert!(bad.nearest_indices(a.view(), &mut Vec::new()).is_err());
    }

    #[test]
    fn bad_cycle_is_refused() {
        for p in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let c = SmoothColours {
                colormap: Colormap::Gray,
                scaling: Scaling::default(),
                cycle: Some(p),
            };
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains("colour cycle"), "{err}");
        }
    }
}
