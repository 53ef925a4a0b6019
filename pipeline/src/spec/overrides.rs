//! `--set KEY=VALUE` overrides merged into the document, and serde's unknown-field errors
//! rewritten to name the options of the sink's kind.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{COMMON_KEYS, SINK_KINDS, kind_info};
use crate::diag::SpecError;

/// Merges an override table into the document: tables merge key by key, an array of tables is
/// indexed by integer keys (`sink.0.select`), anything else is replaced.
pub(super) fn merge<'a>(
    dst: &mut DeTable<'a>,
    src: DeTable<'a>,
    arg: &Range<usize>,
) -> Result<(), SpecError> {
    for (k, v) in src {
        let existing = dst
            .iter_mut()
            .find(|(dk, _)| dk.get_ref() == k.get_ref())
            .map(|(_, dv)| dv);
        match existing {
            Some(dv) => merge_value(dv, k.get_ref(), v, arg)?,
            None => {
                dst.insert(k, v);
            }
        }
    }
    Ok(())
}

pub(super) fn merge_value<'a>(
    dst: &mut Spanned<DeValue<'a>>,
    key: &str,
    src: Spanned<DeValue<'a>>,
    arg: &Range<usize>,
) -> Result<(), SpecError> {
    let src_is_table = matches!(src.get_ref(), DeValue::Table(_));
    match dst.get_mut() {
        DeValue::Table(d) if src_is_table => {
            let DeValue::Table(s) = src.into_inner() else {
                return Ok(());
            };
            merge(d, s, arg)
        }
        DeValue::Array(items) if src_is_table => {
            let DeValue::Table(s) = src.into_inner() else {
                return Ok(());
            };
            let n = items.len();
            for (ik, iv) in s {
                let Some(item) = ik
                    .get_ref()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get_mut(i))
                else {
                    return Err(SpecError::at(
                        ik.span(),
                        format!(
                            "`{}.{}`: expected an index into the {n} `{}` entries (0 to {})",
                            key,
                            ik.get_ref(),
                            key,
                            n.saturating_sub(1)
                        ),
                    ));
                };
                match (item.get_mut(), iv.get_ref()) {
                    (DeValue::Table(_), DeValue::Table(_)) => {
                        merge_value(item, ik.get_ref(), iv, arg)?;
                    }
                    _ => *item = iv,
                }
            }
            Ok(())
        }
        _ => {
            *dst = src;
            Ok(())
        }
    }
}

/// For each `[[sink]]` table: the spans of its keys (to point errors at the key) and its `kind`
/// (if a string).
pub(super) type SinkKeys = (Vec<HashMap<String, Range<usize>>>, Vec<Option<String>>);

pub(super) fn sink_keys(root: &DeTable<'_>) -> SinkKeys {
    let items = match root.iter().find(|(k, _)| k.get_ref() == "sink") {
        Some((_, sinks)) => match sinks.get_ref() {
            DeValue::Array(items) => &items[..],
            _ => &[],
        },
        None => &[],
    };
    items
        .iter()
        .map(|item| match item.get_ref() {
            DeValue::Table(t) => (
                t.iter()
                    .map(|(k, _)| (k.get_ref().to_string(), k.span()))
                    .collect(),
                t.iter()
                    .find(|(k, _)| k.get_ref() == "kind")
                    .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string)),
            ),
            _ => (HashMap::new(), None),
        })
        .unzip()
}

/// Rewrites serde's "unknown field `x`, expected one of ..." for a sink table to list the
/// options of that sink's kind, and suggests the closest key.
pub(super) fn explain_unknown_field(
    mut e: SpecError,
    kinds: &[Option<String>],
    key_spans: &[HashMap<String, Range<usize>>],
) -> SpecError {
    let Some(rest) = e.message.strip_prefix("unknown field `") else {
        return e;
    };
    let Some(end) = rest.find('`') else {
        return e;
    };
    let field = rest[..end].to_string();
    // The sink whose key the error points at.
    let sink = key_spans
        .iter()
        .position(|keys| keys.get(&field).is_some_and(|r| Some(r) == e.span.as_ref()));
    let kind = sink.and_then(|i| kinds.get(i)).and_then(|k| k.as_deref());
    let candidates: Vec<String> = match kind {
        Some(kind) if kind_info(kind).is_some() => {
            let own = kind_info(kind).map_or(&[][..], |k| k.keys);
            let options: Vec<&str> = COMMON_KEYS.iter().chain(own).copied().collect();
            let all_keys = SINK_KINDS.iter().flat_map(|k| k.keys).any(|k| *k == field);
            e.message = if all_keys {
                format!("`{field}` is not an option of a `{kind}` sink")
            } else {
                format!("unknown key `{field}` in a `{kind}` sink")
            };
            let _ = write!(
                e.message,
                "; its options are: {}",
                options
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            options
                .iter()
                .map(std::string::ToString::to_string)
                .collect()
        }
        _ => rest[end..]
            .split('`')
            .skip(2)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    };
    if let Some(best) = candidates
        .iter()
        .filter(|c| **c != field)
        .min_by_key(|c| strsim::levenshtein(&field, c))
        .filter(|c| strsim::levenshtein(&field, c) <= (field.len() / 3).max(2))
    {
        let _ = write!(e.message, "; did you mean `{best}`?");
    }
    e
}
