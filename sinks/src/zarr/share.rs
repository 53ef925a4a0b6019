//! Writing some units of a store as one of several concurrent writers.

use std::sync::atomic::Ordering;

use super::{StoredElement, ZarrProgress, ZarrSink};
use crate::SinkError;

impl<T: StoredElement> ZarrSink<T> {
    /// Waits until every unit written through this sink is synced and has its marker, and
    /// returns the progress counters, without touching the array's metadata: unlike
    /// [`ZarrSink::finish`], `zarr.json` (and its `complete` flag) is never rewritten.
    ///
    /// For one of several writers of disjoint units of one store at once (Dask tasks, possibly
    /// threads of one process, which would otherwise race on `zarr.json`): whoever coordinates
    /// them calls `finish` once they are all done. Units whose tiles did not all arrive are
    /// neither written nor marked. Returns the first error of syncing or marking, if any.
    ///
    /// ```
    /// # fn main() -> Result<(), zoomstack_sinks::SinkError> {
    /// use zoomstack_engine::StoreLayout;
    /// use zoomstack_kernel::StackParams;
    /// use zoomstack_sinks::{ArrayDescription, ZarrOptions, ZarrSink};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let params = StackParams { height: 8, width: 8, ..StackParams::default() };
    /// let layout = StoreLayout::new([2, 8, 8], [1, 8, 8], None).unwrap();
    /// let desc = ArrayDescription::full_stack(2, params, layout);
    /// let store = dir.path().join("s.zarr");
    /// drop(ZarrSink::open(&store, desc.clone(), ZarrOptions::default())?); // the coordinator
    /// let before = std::fs::read(store.join("zarr.json")).unwrap();
    /// let sink = ZarrSink::open(&store, desc.clone(), ZarrOptions::default())?; // a writer
    /// for level in 0..2 {
    ///     sink.write_tile([level, 0, 0], [1, 8, 8], &[1u16; 64])?;
    /// }
    /// let progress = sink.close()?;
    /// assert_eq!((progress.units_done, progress.units_written), (2, 2));
    /// assert!(store.join("counts/zoomstack.done/1.0.0").exists());
    /// assert_eq!(std::fs::read(store.join("zarr.json")).unwrap(), before, "metadata untouched");
    /// let report = ZarrSink::open(&store, desc, ZarrOptions::default())?.finish()?;
    /// assert!(report.complete);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The first error of storing, syncing or marking a unit: [`SinkError::Zarr`] or a
    /// file-system error ([`SinkError::Io`], [`SinkError::PermissionDenied`],
    /// [`SinkError::DiskFull`]).
    pub fn close(mut self) -> Result<ZarrProgress, SinkError> {
        self.shutdown();
        if self.shared.failed.load(Ordering::SeqCst) {
            return Err(self.shared.take_error(&self.array_dir));
        }
        Ok(self.progress())
    }
}
