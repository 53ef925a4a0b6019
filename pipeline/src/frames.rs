//! Running a [`FrameJob`]: one render, its frames fanned out to every frame sink of the job.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::ArrayView2;
use zoomstack_engine::{ExecError, RenderPlan, Sample};
use zoomstack_sinks::{
    ApngWriter, Colouring, ContactSheet, FrameNaming, FrameSink, GifWriter, PngFrameOptions,
    PngFrameWriter, PngKind, SinkError, VideoWriter,
};

use crate::error::RunError;
use crate::jobs::{FrameJob, FrameTarget};
use crate::run::{Counters, RunOptions, resolve};
use crate::spec::{AnimationFormat, FrameKind};

/// Opens the writer of one frame sink for frames of `plan`'s shape.
fn open_frame_sink(
    t: &FrameTarget,
    stack_levels: u64,
    plan: &RenderPlan,
    opts: &RunOptions,
) -> Result<Box<dyn FrameSink + Send>, SinkError> {
    let path = resolve(&opts.out_dir, &t.path);
    let [n, h, w] = plan.shape();
    let (h, w) = (
        usize::try_from(h).unwrap_or(usize::MAX),
        usize::try_from(w).unwrap_or(usize::MAX),
    );
    Ok(match &t.kind {
        FrameKind::Png {
            colouring,
            compression,
        } => Box::new(PngFrameWriter::new(
            path,
            PngFrameOptions {
                kind: match *colouring {
                    Colouring::Counts { colormap, scaling } => {
                        PngKind::Preview { colormap, scaling }
                    }
                    Colouring::Smooth(c) => PngKind::Smooth(c),
                },
                naming: FrameNaming::for_stack(stack_levels),
                compression: *compression,
            },
        )?),
        FrameKind::Png16 { compression } => Box::new(PngFrameWriter::new(
            path,
            PngFrameOptions {
                compression: *compression,
                ..PngFrameOptions::counts16(stack_levels)
            },
        )?),
        FrameKind::Animation { format, options } => match format {
            AnimationFormat::Gif => Box::new(GifWriter::create(path, w, h, *options)?),
            AnimationFormat::Apng => Box::new(ApngWriter::create(path, w, h, n, *options)?),
        },
        FrameKind::ContactSheet(o) => Box::new(ContactSheet::new(path, *o)?),
        FrameKind::Video(v) => Box::new(VideoWriter::create(path, w, h, v.colouring, &v.options)?),
    })
}

/// A message to a frame sink's thread.
enum FrameMsg<T> {
    Frame(u64, Arc<ndarray::Array2<T>>),
    Finish,
}

/// A frame value type the frame sinks take: counts or smooth values.
trait FrameValue: Sample {
    fn write(
        sink: &mut (dyn FrameSink + Send),
        level: u64,
        frame: ArrayView2<'_, Self>,
    ) -> Result<(), SinkError>;
}

impl FrameValue for u16 {
    fn write(
        sink: &mut (dyn FrameSink + Send),
        level: u64,
        frame: ArrayView2<'_, u16>,
    ) -> Result<(), SinkError> {
        sink.write_frame(level, frame)
    }
}

impl FrameValue for f32 {
    fn write(
        sink: &mut (dyn FrameSink + Send),
        level: u64,
        frame: ArrayView2<'_, f32>,
    ) -> Result<(), SinkError> {
        sink.write_smooth_frame(level, frame)
    }
}

/// Renders the job's plan once and feeds every frame to each sink. With several sinks, each
/// sink encodes on its own thread (fed through a bounded channel, in level order), so PNG, GIF
/// and contact-sheet encoding overlap with each other and with rendering. A sink is finished
/// (its file moved into place) only after every frame arrived; on an error or Ctrl-C the writers
/// are dropped, which removes their temporary files. Returns the files of each sink.
pub(crate) fn run_frames(
    job: &FrameJob,
    stack_levels: u64,
    opts: &RunOptions,
    counters: &Counters,
) -> Result<Vec<Vec<PathBuf>>, RunError> {
    if job.smooth {
        run_frames_of::<f32>(job, stack_levels, opts, counters)
    } else {
        run_frames_of::<u16>(job, stack_levels, opts, counters)
    }
}

fn run_frames_of<T: FrameValue>(
    job: &FrameJob,
    stack_levels: u64,
    opts: &RunOptions,
    counters: &Counters,
) -> Result<Vec<Vec<PathBuf>>, RunError> {
    let plan = &job.plan;
    let sink_err = |t: &FrameTarget, e: SinkError| RunError::Sink {
        sink: t.who.label.clone(),
        error: e,
    };
    let mut writers = Vec::with_capacity(job.sinks.len());
    for t in &job.sinks {
        writers.push(open_frame_sink(t, stack_levels, plan, opts).map_err(|e| sink_err(t, e))?);
    }
    tracing::info!(
        frames = plan.shape()[0],
        height = plan.shape()[1],
        width = plan.shape()[2],
        tiles = plan.num_tiles(),
        sinks = writers.len(),
        "frame stream"
    );
    let label: Vec<&str> = job.sinks.iter().map(|t| t.who.label.as_str()).collect();
    let label = label.join(", ");
    let exec = counters.executor();
    let (result, outcomes) = if let [_] = writers.as_slice() {
        let mut w = writers.pop().expect("one writer");
        let result = exec
            .for_each_frame_of::<T, _, _>(plan, |_, level, frame| T::write(&mut *w, level, frame));
        let outcome = match &result {
            Ok(_) => w.finish(),
            Err(_) => Ok(vec![]),
        };
        (result, vec![outcome])
    } else {
        std::thread::scope(|scope| {
            let mut senders = Vec::with_capacity(writers.len());
            let mut handles = Vec::with_capacity(writers.len());
            for mut w in writers {
                let (tx, rx) = std::sync::mpsc::sync_channel::<FrameMsg<T>>(8);
                senders.push(tx);
                handles.push(scope.spawn(move || -> Result<Vec<PathBuf>, SinkError> {
                    for msg in rx {
                        match msg {
                            FrameMsg::Frame(level, frame) => {
                                T::write(&mut *w, level, frame.view())?;
                            }
                            FrameMsg::Finish => return w.finish(),
                        }
                    }
                    // The stream stopped early: drop the writer (no output claims completeness).
                    Ok(vec![])
                }));
            }
            let result = exec.for_each_frame_of::<T, _, _>(plan, |_, level, frame| {
                let frame = Arc::new(frame.to_owned());
                for tx in &senders {
                    // A closed channel means that sink failed; its own error is reported below.
                    tx.send(FrameMsg::Frame(level, frame.clone()))
                        .map_err(|_| SinkError::Stopped)?;
                }
                Ok(())
            });
            if result.is_ok() {
                for tx in &senders {
                    let _ = tx.send(FrameMsg::Finish);
                }
            }
            drop(senders);
            let outcomes: Vec<Result<Vec<PathBuf>, SinkError>> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect();
            (result, outcomes)
        })
    };
    // A sink's own error explains a stopped stream better than the executor's.
    let mut out = Vec::with_capacity(outcomes.len());
    for (o, t) in outcomes.into_iter().zip(&job.sinks) {
        out.push(o.map_err(|e| sink_err(t, e))?);
    }
    match result {
        Ok(p) => {
            counters.finished(plan.len(), p.pixels_rendered);
            Ok(out)
        }
        Err(ExecError::Consumer(e)) if job.sinks.len() == 1 => Err(sink_err(&job.sinks[0], e)),
        Err(e) => Err(RunError::exec(&label, e)),
    }
}
