//! The `zoomstack` attribute object (docs/contracts.md) and the resume checks.

use std::path::Path;

use serde_json::{Value, json};
use zoomstack_engine::{Arithmetic, Selection};
use zoomstack_kernel::StackParams;

use super::ArrayDescription;
use crate::SinkError;

/// `format` of a zoomstack array.
pub(crate) const FORMAT: &str = "zoomstack-stack";
/// `format_version` written (and the highest understood).
pub(crate) const FORMAT_VERSION: u64 = 1;

/// The scale rule, spelled out for readers of the store.
pub(crate) const SCALE_RULE: &str = "scale(level) = scale0 / zoom_per_level ** level; \
    rows = linspace(center_im - scale/2, center_im + scale/2, height) (row 0 is the lowest imaginary part); \
    cols = linspace(center_re - scale*aspect/2, center_re + scale*aspect/2, width) with aspect = width/height; \
    count = first k in 0..max_iter with |z_(k+1)| > 2 for z_0 = 0, z_(k+1) = z_k^2 + c, else max_iter";

/// The `stack` object of the `zoomstack` attribute: every parameter that defines the stack's
/// values (also what `zoomstack view` reports at `/api/info`).
pub fn stack_json(levels: u64, p: &StackParams, arithmetic: &Arithmetic) -> Value {
    let mut v = json!({
        "levels": levels,
        "height": p.height,
        "width": p.width,
        "center": [p.center_re, p.center_im],
        "scale0": p.scale0,
        "zoom_per_level": p.zoom_per_level,
        "max_iter": p.max_iter,
        "dtype": "uint16",
    });
    // Numpy stores keep the stack object they always had (no `arithmetic` key means numpy).
    if let Arithmetic::Exact(e) = arithmetic {
        v["arithmetic"] = json!(arithmetic.name());
        // The exact values as decimal strings (the f64 fields above are their nearest f64s).
        v["exact"] = json!({
            "center": [e.center_re.to_string(), e.center_im.to_string()],
            "scale0": e.scale0.to_string(),
            "zoom_per_level": e.zoom_per_level.to_string(),
        });
        if e.bla {
            // Counts of the BLA method (they may differ from the plain delta loop's).
            v["exact"]["bla"] = json!(true);
        }
    }
    v
}

/// The full `zoomstack` attribute object, with `complete: false`.
pub(crate) fn zoomstack_json(d: &ArrayDescription) -> Value {
    let mut v = json!({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "zoomstack_version": env!("CARGO_PKG_VERSION"),
        "kernel_contract_version": zoomstack_kernel::CONTRACT_VERSION,
        "stack": stack_json(d.levels, &d.params, &d.arithmetic),
        "select": d.selection.select_text(),
        "downsample": d.selection.mean_factors().map(|f| json!({"factors": f, "mode": "mean"})),
        "scale_rule": SCALE_RULE,
        "write_unit": d.layout.unit(),
        "complete": false,
    });
    if let Some(post) = d.selection.post_select_text() {
        v["post_select"] = json!(post);
    }
    for (key, value) in d.values.zoomstack_keys().into_iter().flatten() {
        v[key] = value;
    }
    v
}

/// What an existing array's `zarr.json` says, as far as resuming is concerned.
#[derive(Debug, Clone)]
pub(crate) struct ExistingArray {
    pub zoomstack: Value,
    pub shape: Vec<u64>,
    pub data_type: String,
    pub chunks: Vec<u64>,
    pub shard: Option<Vec<u64>>,
}

/// Classification of a `zarr.json`.
#[derive(Debug)]
pub(crate) enum Node {
    /// A Zarr v3 array with a zoomstack attribute.
    ZoomstackArray(Box<ExistingArray>),
    /// A Zarr v3 group (attributes kept for OME checks).
    Group(Value),
    /// Something else, with the reason it is not ours.
    Foreign(String),
}

fn u64_list(v: &Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(Value::as_u64).collect()
}

/// Parse a `zarr.json` document.
pub(crate) fn classify(path: &Path, text: &str) -> Result<Node, SinkError> {
    let v: Value = serde_json::from_str(text).map_err(|e| SinkError::InvalidMetadata {
        path: path.to_path_buf(),
        reason: format!("not valid JSON: {e}"),
    })?;
    if v["zarr_format"] != json!(3) {
        return Ok(Node::Foreign(format!(
            "zarr_format is {}, expected 3",
            v["zarr_format"]
        )));
    }
    match v["node_type"].as_str() {
        Some("group") => return Ok(Node::Group(v["attributes"].clone())),
        Some("array") => {}
        other => return Ok(Node::Foreign(format!("node_type is {other:?}"))),
    }
    let zs = &v["attributes"]["zoomstack"];
    if zs["format"] != json!(FORMAT) {
        return Ok(Node::Foreign(
            "a Zarr array without a zoomstack attribute (format \"zoomstack-stack\")".to_string(),
        ));
    }
    let bad = |reason: &str| SinkError::InvalidMetadata {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let shape = u64_list(&v["shape"]).ok_or_else(|| bad("`shape` is not a list of integers"))?;
    let outer = u64_list(&v["chunk_grid"]["configuration"]["chunk_shape"])
        .ok_or_else(|| bad("`chunk_grid.configuration.chunk_shape` is missing"))?;
    let first_codec = &v["codecs"][0];
    let (chunks, shard) = if first_codec["name"] == json!("sharding_indexed") {
        let inner = u64_list(&first_codec["configuration"]["chunk_shape"])
            .ok_or_else(|| bad("sharding codec without `chunk_shape`"))?;
        (inner, Some(outer))
    } else {
        (outer, None)
    };
    Ok(Node::ZoomstackArray(Box::new(ExistingArray {
        zoomstack: zs.clone(),
        shape,
        data_type: v["data_type"].as_str().unwrap_or_default().to_string(),
        chunks,
        shard,
    })))
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

// Stored parameters must match exactly, whether JSON wrote them as integers or floats.
#[allow(clippy::float_cmp)]
fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Number(_), Value::Number(_)) => numbers_equal(a, b),
        _ => a == b,
    }
}

/// Compare an existing zoomstack array with what this run would write; the first difference is
/// returned as a [`SinkError::ParameterMismatch`] naming the field.
pub(crate) fn check_resume(
    path: &Path,
    existing: &ExistingArray,
    d: &ArrayDescription,
) -> Result<(), SinkError> {
    let mismatch = |field: &str, existing: String, requested: String| {
        Err(SinkError::ParameterMismatch {
            path: path.to_path_buf(),
            field: field.to_string(),
            existing,
            requested,
        })
    };
    let zs = &existing.zoomstack;
    match zs["format_version"].as_u64() {
        Some(v) if v <= FORMAT_VERSION => {}
        _ => {
            return mismatch(
                "format_version",
                show(&zs["format_version"]),
                FORMAT_VERSION.to_string(),
            );
        }
    }
    let kcv = json!(zoomstack_kernel::CONTRACT_VERSION);
    if zs["kernel_contract_version"] != kcv {
        return mismatch(
            "kernel_contract_version",
            show(&zs["kernel_contract_version"]),
            kcv.to_string(),
        );
    }
    // An attribute without `values` is a counts store (as every store before smooth values).
    let have_values = zs.get("values").cloned().unwrap_or(json!("counts"));
    let want_values = json!(d.values.name());
    if have_values != want_values {
        return mismatch("values", show(&have_values), show(&want_values));
    }
    let want_stack = stack_json(d.levels, &d.params, &d.arithmetic);
    for key in [
        "levels",
        "height",
        "width",
        "center",
        "scale0",
        "zoom_per_level",
        "max_iter",
        "dtype",
    ] {
        let (have, want) = (&zs["stack"][key], &want_stack[key]);
        if !values_equal(have, want) {
            return mismatch(&format!("stack.{key}"), show(have), show(want));
        }
    }
    // A stack object without `arithmetic` is a numpy one.
    let arith = |stack: &Value| match &stack["arithmetic"] {
        Value::Null => json!("numpy"),
        v => v.clone(),
    };
    let (have, want) = (arith(&zs["stack"]), arith(&want_stack));
    if have != want {
        return mismatch("stack.arithmetic", show(&have), show(&want));
    }
    let (have, want) = (&zs["stack"]["exact"], &want_stack["exact"]);
    if have != want {
        return mismatch("stack.exact", show(have), show(want));
    }
    // The selection as typed values: any text selecting the same indices is the same
    // selection (stores of every version resume), whatever spelling wrote it.
    let have_down = &zs["downsample"];
    let have_mean = match have_down {
        Value::Null => Ok(None),
        Value::Object(o) if o.get("mode") == Some(&json!("mean")) => o
            .get("factors")
            .and_then(u64_list)
            .and_then(|f| <[u64; 2]>::try_from(f).ok())
            .map(Some)
            .ok_or(()),
        _ => Err(()),
    };
    let want_down = d
        .selection
        .mean_factors()
        .map_or(Value::Null, |f| json!({"factors": f, "mode": "mean"}));
    let Ok(have_mean) = have_mean else {
        return mismatch("downsample", show(have_down), show(&want_down));
    };
    let have_post = zs.get("post_select").cloned().unwrap_or(Value::Null);
    let want_select = json!(d.selection.select_text());
    // The grid pixels first (with the store's own mean, so the text always parses), then the
    // mean, then the blocks kept after it.
    let have = zs["select"]
        .as_str()
        .map(|text| Selection::from_text(text, have_mean, have_post.as_str(), d.stack_shape()));
    let Some(Ok(have)) = have else {
        return mismatch("select", show(&zs["select"]), show(&want_select));
    };
    if have.source() != d.selection.source() {
        return mismatch("select", show(&zs["select"]), show(&want_select));
    }
    if have_mean != d.selection.mean_factors() {
        return mismatch("downsample", show(have_down), show(&want_down));
    }
    if have != d.selection {
        let want = d
            .selection
            .post_select_text()
            .map_or(Value::Null, |s| json!(s));
        return mismatch("post_select", show(&have_post), show(&want));
    }
    if existing.data_type != d.data_type() {
        return mismatch(
            "data_type",
            show(&json!(existing.data_type)),
            show(&json!(d.data_type())),
        );
    }
    if existing.shape != d.shape() {
        return mismatch(
            "shape",
            format!("{:?}", existing.shape),
            format!("{:?}", d.shape()),
        );
    }
    let want_chunks: Vec<u64> = d.chunks().iter().map(|&c| c as u64).collect();
    if existing.chunks != want_chunks {
        return mismatch(
            "chunks",
            format!("{:?}", existing.chunks),
            format!("{want_chunks:?}"),
        );
    }
    let want_shard: Option<Vec<u64>> = d
        .layout
        .shard()
        .map(|s| s.iter().map(|&c| c as u64).collect());
    if existing.shard != want_shard {
        let f = |s: &Option<Vec<u64>>| s.as_ref().map_or("none".to_string(), |s| format!("{s:?}"));
        return mismatch("shard", f(&existing.shard), f(&want_shard));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_rejects_foreign_json() {
        let p = Path::new("zarr.json");
        assert!(matches!(
            classify(p, r#"{"zarr_format": 2}"#).unwrap(),
            Node::Foreign(_)
        ));
        assert!(matches!(
            classify(
                p,
                r#"{"zarr_format": 3, "node_type": "array", "attributes": {}}"#
            )
            .unwrap(),
            Node::Foreign(_)
        ));
        assert!(matches!(
            classify(p, r#"{"zarr_format": 3, "node_type": "group"}"#).unwrap(),
            Node::Group(_)
        ));
        assert!(matches!(
            classify(p, "not json"),
            Err(SinkError::InvalidMetadata { .. })
        ));
    }
}
