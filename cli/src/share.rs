//! Which share of a job array this process renders: from `--index`/`--count`, then Slurm's
//! array variables, then Kubernetes Indexed Jobs' (with `ZOOMSTACK_COUNT`).

use anyhow::anyhow;
use zoomstack_pipeline::Share;

use crate::args::ShareArgs;
use crate::{Result, user};

fn env_u64(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            user(anyhow!(
                "environment variable {name}={} is not a non-negative integer",
                zoomstack_engine::Excerpt::around(&v, 0)
            ))
        }),
        Err(_) => Ok(None),
    }
}

/// The share from flags, then Slurm, then Kubernetes Indexed Jobs.
pub(crate) fn share(args: &ShareArgs) -> Result<(Share, Option<String>)> {
    let (index, index_src) = match args.index {
        Some(i) => (Some(i), "--index".to_string()),
        None => match env_u64("SLURM_ARRAY_TASK_ID")? {
            Some(id) => {
                let min = env_u64("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                let step = env_u64("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
                if id < min || (id - min) % step != 0 {
                    return Err(user(anyhow!(
                        "SLURM_ARRAY_TASK_ID={id} does not fit SLURM_ARRAY_TASK_MIN={min} and SLURM_ARRAY_TASK_STEP={step}"
                    )));
                }
                (Some((id - min) / step), "SLURM_ARRAY_TASK_ID".to_string())
            }
            None => (
                env_u64("JOB_COMPLETION_INDEX")?,
                "JOB_COMPLETION_INDEX".to_string(),
            ),
        },
    };
    let count = match args.count {
        Some(n) => Some(n),
        None => match env_u64("SLURM_ARRAY_TASK_COUNT")? {
            Some(n) if index_src == "SLURM_ARRAY_TASK_ID" || args.index.is_some() => Some(n),
            _ => env_u64("ZOOMSTACK_COUNT")?,
        },
    };
    match (index, count) {
        (None, None) => Ok((Share::ALL, None)),
        (Some(_), None) => Err(user(anyhow!(
            "the share index is set ({index_src}) but not the number of shares: pass --count N (or set ZOOMSTACK_COUNT)"
        ))),
        (None, Some(n)) => Err(user(anyhow!(
            "--count {n} needs --index I (or SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX)"
        ))),
        (Some(_), Some(0)) => Err(user(anyhow!("the number of shares must be at least 1"))),
        (Some(i), Some(n)) if i >= n => Err(user(anyhow!(
            "share index {i} ({index_src}) must be below the number of shares {n}"
        ))),
        (Some(i), Some(n)) => Ok((
            Share { index: i, count: n },
            Some(format!("share {i} of {n} (index from {index_src})")),
        )),
    }
}
