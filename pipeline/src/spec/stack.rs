//! The `[stack]` table: the stack every sink draws from.

use zoomstack_engine::ZoomStack;
use zoomstack_kernel::StackParams;

use super::MAX_FRAME_SIDE;
use super::raw::{RawStack, S};
use crate::diag::SpecError;

pub(super) fn stack_from_raw(raw: Option<S<RawStack>>) -> Result<ZoomStack, SpecError> {
    let d = StackParams::default();
    let Some(raw) = raw else {
        return Ok(ZoomStack::default());
    };
    let span = raw.span();
    let raw = raw.into_inner();
    let levels = match raw.levels {
        Some(v) => in_range(&v, "stack.levels", 1, i64::MAX as u64)?,
        None => zoomstack_engine::NOTEBOOK_LEVELS,
    };
    let side = |v: Option<S<u64>>, name: &str, default: usize| -> Result<usize, SpecError> {
        match v {
            Some(v) => Ok(in_range(&v, name, 1, MAX_FRAME_SIDE)? as usize),
            None => Ok(default),
        }
    };
    let height = side(raw.height, "stack.height", d.height)?;
    let width = side(raw.width, "stack.width", d.width)?;
    let (center_re, center_im) = match raw.center {
        Some(c) => {
            let &[re, im] = c.get_ref().as_slice() else {
                return Err(SpecError::at(
                    c.span(),
                    format!(
                        "stack.center must be exactly two numbers [re, im], got {} numbers",
                        c.get_ref().len()
                    ),
                ));
            };
            if !re.is_finite() || !im.is_finite() {
                return Err(SpecError::at(
                    c.span(),
                    format!("stack.center must be two finite numbers [re, im], got [{re}, {im}]"),
                ));
            }
            (re, im)
        }
        None => (d.center_re, d.center_im),
    };
    let positive = |v: Option<S<f64>>, name: &str, default: f64| -> Result<f64, SpecError> {
        match v {
            Some(v) => {
                let x = *v.get_ref();
                if x.is_finite() && x > 0.0 {
                    Ok(x)
                } else {
                    Err(SpecError::at(
                        v.span(),
                        format!("{name} must be a finite number > 0, got {x}"),
                    ))
                }
            }
            None => Ok(default),
        }
    };
    let scale0 = positive(raw.scale0, "stack.scale0", d.scale0)?;
    let zoom_per_level = positive(raw.zoom_per_level, "stack.zoom_per_level", d.zoom_per_level)?;
    let max_iter = match raw.max_iter {
        Some(v) => in_range(
            &v,
            "stack.max_iter",
            1,
            u64::from(zoomstack_kernel::MAX_ITER_LIMIT),
        )? as u32,
        None => d.max_iter,
    };
    let params = StackParams {
        height,
        width,
        center_re,
        center_im,
        scale0,
        zoom_per_level,
        max_iter,
    };
    ZoomStack::new(levels, params).map_err(|e| SpecError::at(span, format!("[stack]: {e}")))
}

pub(super) fn in_range(v: &S<u64>, name: &str, lo: u64, hi: u64) -> Result<u64, SpecError> {
    let x = *v.get_ref();
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(SpecError::at(
            v.span(),
            format!("{name} must be in {lo}..={hi}, got {x}"),
        ))
    }
}

pub(super) fn triple(v: &S<Vec<u64>>, name: &str, max: u64) -> Result<[usize; 3], SpecError> {
    let vals = v.get_ref();
    if vals.len() != 3 {
        return Err(SpecError::at(
            v.span(),
            format!(
                "{name} must be [levels, y, x] (3 numbers), got {} numbers",
                vals.len()
            ),
        ));
    }
    let mut out = [0usize; 3];
    for (k, &x) in vals.iter().enumerate() {
        if x < 1 || x > max {
            return Err(SpecError::at(
                v.span(),
                format!(
                    "{name}[{k}] ({} axis) must be in 1..={max}, got {x}",
                    zoomstack_engine::AXES[k]
                ),
            ));
        }
        out[k] = x as usize;
    }
    Ok(out)
}
